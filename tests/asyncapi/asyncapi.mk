# The wire contract's machine-readable half (included by the top Makefile):
# docs/asyncapi.yaml (AsyncAPI 2.6) and its JSON Schemas (docs/schema/).
#
#   make asyncapi-check   parse and validate docs/asyncapi.yaml with the
#                         reference parser, @asyncapi/parser (pinned in
#                         package-lock.json, installed with npm ci); any
#                         diagnostic of severity error fails (part of
#                         make check)
#
# The integration and fault suites hold every payload they receive to the
# same document (tests/integration/wire_schema.py), with Debian's
# python3-jsonschema and python3-yaml.  Debian's nodejs has no npm: it is
# installed here when missing (as root), as for the browser tests.

ASYNCAPI_DIR := tests/asyncapi
CHECK_EXTRA += asyncapi-check
DEBS += python3-jsonschema python3-yaml

ASYNCAPI_MODULES := $(ASYNCAPI_DIR)/node_modules/.package-lock.json

.PHONY: asyncapi-deps asyncapi-check

asyncapi-deps: $(ASYNCAPI_MODULES)

# npm writes node_modules/.package-lock.json on every install: the modules
# are installed again only when the pinned lock file changes
$(ASYNCAPI_MODULES): $(ASYNCAPI_DIR)/package-lock.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	      --no-install-recommends npm; \
	  else echo "npm missing: sudo apt-get install npm"; exit 1; fi; }
	cd $(ASYNCAPI_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

asyncapi-check: $(ASYNCAPI_MODULES)
	node $(ASYNCAPI_DIR)/check.mjs docs/asyncapi.yaml
