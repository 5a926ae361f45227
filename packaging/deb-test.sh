#!/bin/bash
# The Vigie packages checked as a Debian admin would meet them: lintian
# (errors fail), the arm64 agent's control data and contents, then the
# amd64 packages installed with dpkg -i into a fresh Debian 12 root:
# accounts, modes, conffiles, units enabled but held back until
# configured, systemd-analyze verify, the installed agent's --check-config
# on the installed file, an upgrade that keeps an edited conffile and the
# agent's records, a remove and a purge.
#
#   packaging/deb-test.sh DEB_DIR NEXT_DIR VERSION NEXT_VERSION [CROSS_ARCH]
#   packaging/deb-test.sh --chroot-only     make the cached root if stale
#
# The root comes from mmdebstrap (variant apt: Essential and apt only, plus
# what the packages need), made once from the mirror apt uses here and kept
# as a tarball in CHROOT_CACHE; each run unpacks a fresh copy.  Commands
# run in it under a private mount and pid namespace with its own /proc
# (unshare), so nothing stays mounted whatever happens.
set -uo pipefail

CHROOT_CACHE=${CHROOT_CACHE:-/var/cache/vigie/bookworm-apt.tar.zst}
# what the packages depend on, in the cached root: a dependency missing
# from this list still installs (apt-get -f from the mirror), only slower
CHROOT_PKGS=systemd,procps,man-db,mosquitto,python3-paho-mqtt,libmosquitto1,libcjson1,libmodbus5,libinih1,libsqlite3-0,libmicrohttpd12,tzdata,openssl,python3
mirror=$(sed -n 's|^URIs: *\([^ ]*/debian\)/*$|\1|p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(sed -n 's|^deb  *\(http[^ ]*/debian\)/* bookworm .*|\1|p' /etc/apt/sources.list 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

pass=0
fail=0
die() { echo "FAIL - $1"; echo "deb-test: $pass passed, $((fail + 1)) failed"; exit 1; }

# The cached root, remade when its package list or mirror changed.
root_cache() {
	local stamp="$CHROOT_PKGS $mirror"
	if [ -s "$CHROOT_CACHE" ] && [ "$(cat "$CHROOT_CACHE.pkgs" 2>/dev/null)" = "$stamp" ]; then
		return 0
	fi
	echo "making the cached Debian 12 root from $mirror (once): $CHROOT_CACHE"
	mkdir -p "$(dirname "$CHROOT_CACHE")"
	mmdebstrap --quiet --mode=root --variant=apt --include="$CHROOT_PKGS" \
		bookworm "$CHROOT_CACHE.tmp.tar.zst" "$mirror" ||
		die "mmdebstrap failed (mirror $mirror)"
	mv "$CHROOT_CACHE.tmp.tar.zst" "$CHROOT_CACHE"
	echo "$stamp" > "$CHROOT_CACHE.pkgs"
}
if [ "${1:-}" = --chroot-only ]; then
	root_cache
	exit 0
fi

DEB_DIR=$1
NEXT_DIR=$2
V=$3
NEXT=$4
CROSS=${5:-arm64}
ARCH=$(dpkg --print-architecture)
WORK=$(mktemp -d /tmp/vigie-deb-test.XXXXXX)
R=$WORK/root
lintian_pid=

cleanup() {
	if [ -n "$lintian_pid" ]; then kill "$lintian_pid" 2>/dev/null; wait "$lintian_pid" 2>/dev/null; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

ok()  { echo "ok   - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL - $1"; fail=$((fail + 1)); }
# check "what the user relies on" command...: pass if the command does
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# in the root, with its own /proc
inroot() { unshare --mount --pid --fork --mount-proc="$R/proc" chroot "$R" "$@"; }

# --- lintian: no error (run beside the rest, reported at the end) --------------
changes=("$DEB_DIR/vigie_${V}-1_${ARCH}.changes" "$DEB_DIR/vigie_${V}-1_${CROSS}.changes")
for c in "${changes[@]}"; do [ -f "$c" ] || die "$c missing: make deb first"; done
lintian --fail-on error "${changes[@]}" > "$WORK/lintian.txt" 2>&1 &
lintian_pid=$!
lintian_result() {
	local rc=0
	wait "$lintian_pid" || rc=$?
	lintian_pid=
	if [ "$rc" = 0 ]; then
		ok "lintian: no error ($(grep -c '^W:' "$WORK/lintian.txt") warning(s), listed in packaging/README.md)"
	else
		grep '^E:' "$WORK/lintian.txt" || cat "$WORK/lintian.txt"
		bad "lintian found errors (above)"
	fi
}

# --- the cross-built agent: its metadata and contents ------------------------
cdeb=$DEB_DIR/vigie-agent_${V}-1_${CROSS}.deb
check "vigie-agent_$CROSS is for $CROSS" \
	test "$(dpkg-deb -f "$cdeb" Architecture)" = "$CROSS"
dpkg-deb -c "$cdeb" > "$WORK/cross.list"
for f in ./usr/sbin/vigie-agent ./etc/vigie/vigie-agent.conf \
	 ./lib/systemd/system/vigie-agent.service ./usr/lib/sysusers.d/vigie-agent.conf \
	 ./usr/lib/tmpfiles.d/vigie-agent.conf ./usr/share/man/man8/vigie-agent.8.gz; do
	check "vigie-agent_$CROSS holds $f" grep -q " $f\$" "$WORK/cross.list"
done
mkdir -p "$WORK/cross" && dpkg-deb -x "$cdeb" "$WORK/cross"
check "vigie-agent_$CROSS's binary is an AArch64 executable" \
	sh -c "readelf -h '$WORK/cross/usr/sbin/vigie-agent' | grep -q 'Machine:.*AArch64'"
check "vigie-agent_$CROSS depends on the libraries it links (libmodbus5, libmosquitto1)" \
	sh -c "dpkg-deb -f '$cdeb' Depends | grep -q libmodbus5 && dpkg-deb -f '$cdeb' Depends | grep -q libmosquitto1"

# --- a fresh Debian 12 root --------------------------------------------------
root_cache
mkdir -p "$R" && tar -C "$R" --zstd -xf "$CHROOT_CACHE" || die "cannot unpack $CHROOT_CACHE"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true

pkgs=(vigie-agent vigie-gateway vigie-tools vigie-demo)
mkdir -p "$R/tmp/v1" "$R/tmp/v2"
for p in "${pkgs[@]}"; do
	a=$ARCH; [ "$p" = vigie-demo ] && a=all
	cp "$DEB_DIR/${p}_${V}-1_${a}.deb" "$R/tmp/v1/" || die "${p}_${V}-1_${a}.deb missing"
	cp "$NEXT_DIR/${p}_${NEXT}-1_${a}.deb" "$R/tmp/v2/" || die "${p}_${NEXT}-1_${a}.deb missing"
done

# --- install ------------------------------------------------------------------
if inroot sh -c "dpkg -i /tmp/v1/*.deb" > "$WORK/install.log" 2>&1; then
	ok "dpkg -i installs ${pkgs[*]} $V-1"
else
	echo "dpkg -i left dependencies out; apt-get -f install from $mirror (add them to CHROOT_PKGS):"
	grep -i 'depends on' "$WORK/install.log"
	if inroot sh -c 'apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -y -q -f install --no-install-recommends' >> "$WORK/install.log" 2>&1; then
		ok "dpkg -i then apt-get -f install ${pkgs[*]} $V-1"
	else
		cat "$WORK/install.log"; die "the packages do not install (log above)"
	fi
fi
for p in "${pkgs[@]}"; do
	check "$p is installed" sh -c "chroot '$R' dpkg-query -W -f='\${Status}' $p | grep -q 'install ok installed'"
done

# --- accounts, directories, modes ---------------------------------------------
owner() { chroot "$R" stat -c '%U:%G %a' "$1"; }
check "system user vigie exists, home /var/lib/vigie, no login shell" \
	sh -c "chroot '$R' getent passwd vigie | grep -Eq '^vigie:x:[0-9]+:[0-9]+:[^:]*:/var/lib/vigie:/usr/sbin/nologin\$'"
check "vigie is in dialout (the serial ports)" \
	sh -c "chroot '$R' id -nG vigie | grep -qw dialout"
check "system user vigie-gateway exists" sh -c "chroot '$R' getent passwd vigie-gateway >/dev/null"
check "/var/lib/vigie is vigie:vigie 0750 (got $(owner /var/lib/vigie))" \
	test "$(owner /var/lib/vigie)" = "vigie:vigie 750"
check "/var/lib/vigie-gateway is vigie-gateway:vigie-gateway 0750 (got $(owner /var/lib/vigie-gateway))" \
	test "$(owner /var/lib/vigie-gateway)" = "vigie-gateway:vigie-gateway 750"
check "/etc/vigie/vigie-agent.conf is root:vigie 0640 (got $(owner /etc/vigie/vigie-agent.conf))" \
	test "$(owner /etc/vigie/vigie-agent.conf)" = "root:vigie 640"
for f in /etc/vigie/vigie-agent.conf /etc/vigie/vigie-gateway.conf; do
	check "$f is a conffile" sh -c "chroot '$R' dpkg-query -W -f='\${Conffiles}' vigie-agent vigie-gateway | grep -q ' $f '"
done
check "man vigie-agent renders in the root" \
	inroot sh -c 'MANPAGER=cat man vigie-agent 2>/dev/null | grep -q "^NAME"'
for f in /usr/sbin/vigie-agent /usr/sbin/vigie-gateway /usr/bin/vigie-sim /usr/bin/vigie-pki /usr/bin/vigie-inventory; do
	check "$f is installed and executable" test -x "$R$f"
done
# the demo's tree: what tools/vigie-demo finds beside itself and in --build
for f in /usr/share/vigie/tools/vigie-pki /usr/share/vigie/tools/vigie-inventory \
	 /usr/lib/vigie/demo-bin/vigie-agent /usr/lib/vigie/demo-bin/vigie-gateway \
	 /usr/lib/vigie/demo-bin/vigie-sim; do
	check "vigie-demo's $f leads to an installed program" chroot "$R" test -x "$f"
done
check "vigie-demo's broker config is installed" test -f "$R/usr/share/vigie/deploy/mosquitto/vigie.conf"
check "vigie-demo --help runs" sh -c "chroot '$R' vigie-demo --help >/dev/null"
# DEMO=1: the installed demo for 20 s (about 25 s more), every summary checked
# against the simulators' truth; it needs a pty for its RTU sites
if [ "${DEMO:-0}" = 1 ]; then
	if timeout 180 unshare --mount --pid --fork --mount-proc="$R/proc" sh -c "
		mount -t devpts -o newinstance,ptmxmode=0666 devpts '$R/dev/pts' &&
		rm -f '$R/dev/ptmx' && ln -s pts/ptmx '$R/dev/ptmx' &&
		chroot '$R' vigie-demo --small --duration 20 --lang en" > "$WORK/demo.log" 2>&1 &&
	   grep -q '^check: all .* summaries equal' "$WORK/demo.log"; then
		ok "the installed vigie-demo: $(grep '^check:' "$WORK/demo.log")"
	else
		tail -30 "$WORK/demo.log"; bad "the installed vigie-demo --small --duration 20 (log above)"
	fi
fi

# --- units: verified, enabled, held back until configured -----------------------
units="vigie-agent.service vigie-gateway.service"
if inroot systemd-analyze verify $units > "$WORK/verify.txt" 2>&1 && [ ! -s "$WORK/verify.txt" ]; then
	ok "systemd-analyze verify $units: clean"
else
	cat "$WORK/verify.txt"; bad "systemd-analyze verify $units (above)"
fi
for u in $units; do
	check "$u is enabled" sh -c "[ \"\$(chroot '$R' systemctl is-enabled $u 2>/dev/null)\" = enabled ]"
done
# The drop-in's ExecCondition, run as systemd would (as the unit's user):
# exit 1 skips the unit, 0 lets it start.
condition() {
	local unit=$1 cmd
	cmd=$(sed -n 's/^ExecCondition=//p' "$R/lib/systemd/system/$unit.d/debian.conf")
	[ -n "$cmd" ] || return 99
	eval "chroot --userspec=$(chroot "$R" id -u "$2"):$(chroot "$R" id -g "$2") '$R' $cmd"
}
condition vigie-agent.service vigie; rc=$?
check "vigie-agent is held back while its config is the shipped example (ExecCondition exit $rc, want 1)" test $rc = 1
condition vigie-gateway.service vigie-gateway; rc=$?
check "vigie-gateway is held back while its config is the shipped example (ExecCondition exit $rc, want 1)" test $rc = 1

# --- the installed agent on the installed file -----------------------------------
if out=$(inroot /usr/sbin/vigie-agent --check-config /etc/vigie/vigie-agent.conf 2>&1); then
	ok "vigie-agent --check-config /etc/vigie/vigie-agent.conf: $out"
else
	bad "vigie-agent --check-config /etc/vigie/vigie-agent.conf failed: $out"
fi
uid=$(chroot "$R" id -u vigie):$(chroot "$R" id -g vigie)
check "the vigie user reads its config (--check-config as vigie)" \
	sh -c "chroot --userspec='$uid' '$R' /usr/sbin/vigie-agent --check-config /etc/vigie/vigie-agent.conf >/dev/null"
check "vigie-agent --version says $V" sh -c "chroot '$R' /usr/sbin/vigie-agent --version 2>&1 | grep -q '$V'"
check "vigie-gateway --version says $V" sh -c "chroot '$R' /usr/sbin/vigie-gateway --version 2>&1 | grep -q '$V'"

# --- configure, then upgrade ------------------------------------------------------
# The operator's edit: the site's own id, the marker line gone; and a record
# the agent would have written.
sed -i -e '/^#vigie: not configured/d' -e 's/^id = qc-03-entrepot-quebec$/id = qc-03-test-upgrade/' \
	"$R/etc/vigie/vigie-agent.conf"
echo record > "$R/var/lib/vigie/test-record"
condition vigie-agent.service vigie; rc=$?
check "vigie-agent may start once configured (ExecCondition exit $rc, want 0)" test $rc = 0
if inroot sh -c "dpkg -i /tmp/v2/*.deb" > "$WORK/upgrade.log" 2>&1 </dev/null; then
	ok "dpkg -i upgrades to $NEXT-1"
else
	cat "$WORK/upgrade.log"; bad "dpkg -i of $NEXT-1 failed (above)"
fi
check "vigie-agent is $NEXT-1 after the upgrade" \
	test "$(chroot "$R" dpkg-query -W -f='${Version}' vigie-agent)" = "$NEXT-1"
check "the upgrade kept the edited conffile (site qc-03-test-upgrade)" \
	grep -qx 'id = qc-03-test-upgrade' "$R/etc/vigie/vigie-agent.conf"
check "the upgrade did not bring the marker line back" \
	sh -c "! grep -q '^#vigie: not configured' '$R/etc/vigie/vigie-agent.conf'"
check "the upgrade left no .dpkg-new/.dpkg-dist beside it" \
	sh -c "! ls '$R'/etc/vigie/*.dpkg-* 2>/dev/null | grep -q ."
check "the edited conffile is still root:vigie 0640 (got $(owner /etc/vigie/vigie-agent.conf))" \
	test "$(owner /etc/vigie/vigie-agent.conf)" = "root:vigie 640"
check "the upgrade kept the agent's records in /var/lib/vigie" test -f "$R/var/lib/vigie/test-record"
check "vigie-agent is still enabled after the upgrade" \
	sh -c "[ \"\$(chroot '$R' systemctl is-enabled vigie-agent.service 2>/dev/null)\" = enabled ]"
check "the upgraded agent reads the edited file" \
	sh -c "chroot '$R' /usr/sbin/vigie-agent --check-config /etc/vigie/vigie-agent.conf 2>&1 | grep -q qc-03-test-upgrade"

# --- remove, then purge -----------------------------------------------------------
echo secret > "$R/etc/vigie/agent.password"
inroot dpkg -r "${pkgs[@]}" > "$WORK/remove.log" 2>&1 || { cat "$WORK/remove.log"; bad "dpkg -r failed"; }
check "remove deletes the binaries" test ! -e "$R/usr/sbin/vigie-agent"
check "remove keeps the conffile" test -f "$R/etc/vigie/vigie-agent.conf"
check "remove keeps the agent's records" test -f "$R/var/lib/vigie/test-record"
inroot dpkg -P "${pkgs[@]}" > "$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log"; bad "dpkg -P failed"; }
check "purge deletes the conffiles" \
	test ! -e "$R/etc/vigie/vigie-agent.conf" -a ! -e "$R/etc/vigie/vigie-gateway.conf"
check "purge deletes /var/lib/vigie and /var/lib/vigie-gateway" \
	test ! -e "$R/var/lib/vigie" -a ! -e "$R/var/lib/vigie-gateway"
check "purge deletes the units' enablement links" \
	sh -c "! ls '$R'/etc/systemd/system/*/vigie-* 2>/dev/null | grep -q ."
check "purge drops the conffile's statoverride" \
	sh -c "! chroot '$R' dpkg-statoverride --list | grep -q vigie"
check "purge keeps a file the operator put in /etc/vigie (agent.password)" \
	test -f "$R/etc/vigie/agent.password"
check "purge keeps the system users (Debian practice: their files may remain)" \
	sh -c "chroot '$R' getent passwd vigie >/dev/null && chroot '$R' getent passwd vigie-gateway >/dev/null"
check "dpkg knows none of the packages after purge" \
	sh -c "! chroot '$R' dpkg-query -W ${pkgs[*]} 2>/dev/null | grep -q ."

lintian_result
echo "deb-test: $pass passed, $fail failed"
[ "$fail" = 0 ]
