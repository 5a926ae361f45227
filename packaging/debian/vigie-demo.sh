#!/bin/sh
# vigie-demo as packaged: the orchestrator from /usr/share/vigie/tools, the
# installed binaries (/usr/lib/vigie/demo-bin links to them), and its
# folder, wiped at each start, in the user's runtime directory unless
# --dir says otherwise (a later --dir wins).
dir=${XDG_RUNTIME_DIR:-/tmp}/vigie-demo-$(id -u)
exec /usr/share/vigie/tools/vigie-demo --build /usr/lib/vigie/demo-bin --dir "$dir" "$@"
