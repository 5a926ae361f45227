#!/bin/bash
# The agent cross-built for a field board, run under qemu-user against the
# host's tools: --version, --check-config (the example file and a broken
# one, whose error must name file:line), and --once against a loopback
# Modbus TCP server (the host build of vigie-sim), checking the states it
# would publish.  Every step is bounded; the simulator is always killed.
#
#   tests/cross/run.sh AGENT SIM [READELF [MACHINE]]
#   QEMU="qemu-aarch64" (default) runs the target binary.
set -euo pipefail

AGENT=$1
SIM=$2
READELF=${3:-}
MACHINE=${4:-AArch64}
QEMU=${QEMU:-qemu-aarch64}
BOARD_NAME=${BOARD_NAME:-rpi4}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
SIM_PID=
fails=0

cleanup() {
	if [ -n "$SIM_PID" ]; then
		kill "$SIM_PID" 2>/dev/null || true
		wait "$SIM_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; fails=$((fails + 1)); }
run() { timeout 60 $QEMU "$AGENT" "$@"; }

# 0. the binary really is the target's (not a host binary run natively)
if [ -n "$READELF" ]; then
	m=$("$READELF" -h "$AGENT" | sed -n 's/^ *Machine: *//p')
	case "$m" in
	*"$MACHINE"*) ok "$AGENT is built for $m" ;;
	*) bad "$AGENT is built for '$m', not $MACHINE" ;;
	esac
fi

# 1. --version names the board
out=$(run --version) || true
case "$out" in
"vigie-agent "*" ($BOARD_NAME)") ok "--version: $out" ;;
*) bad "--version printed '$out'" ;;
esac

# 2. the shipped example configuration is valid
if out=$(run --check-config "$ROOT/deploy/vigie-agent.conf" 2>&1) &&
   [[ $out == *": ok: site qc-03-entrepot-quebec"* ]]; then
	ok "--check-config deploy/vigie-agent.conf: $out"
else
	bad "--check-config deploy/vigie-agent.conf: $out"
fi

# 3. a broken one is refused with file:line
printf '[site]\nid = s\nregion = 42\n' > "$TMP/bad.conf"
rc=0
out=$(run --check-config "$TMP/bad.conf" 2>&1) || rc=$?
if [ "$rc" = 1 ] && [[ $out == "$TMP/bad.conf:3: region"* ]]; then
	ok "bad config refused: $out"
else
	bad "bad config: exit $rc, '$out'"
fi

# 4. --once against the simulator on loopback
coproc SIMP { exec timeout 120 "$SIM" --tcp 0 --slaves 1 --size 64; }
SIM_PID=$SIMP_PID
read -r -t 10 -u "${SIMP[0]}" ready port || true
if [ "${ready:-}" != ready ] || [ -z "${port:-}" ]; then
	bad "vigie-sim did not start"
	exit 1
fi
simcmd() {
	local answer=
	echo "$1" >&"${SIMP[1]}"
	read -r -t 10 -u "${SIMP[0]}" answer || true
	[[ $answer == ok* ]] || { bad "sim: $1: '$answer'"; exit 1; }
}
simcmd "set 1 7 3"      # U7 retired
simcmd "set 1 8 2"      # U8 migrated
simcmd "set 1 9 1"      # U9 migrating (U10 stays 0: pending)
simcmd "input 1 20 30"  # R20 migrated through its map
simcmd "coil 1 3 1"     # C3 migrated
cat > "$TMP/once.conf" <<CONF
[site]
id = site-x
region = 05

[agent]
data_dir = $TMP/data

[device plc]
tcp = 127.0.0.1:$port
slave = 1
response_timeout_ms = 2000

[unit U7]
program = rgt
device = plc
address = 7

[unit U8]
program = renir
device = plc
address = 8

[unit U9]
program = renir
device = plc
address = 9

[unit U10]
program = renir
device = plc
address = 10

[unit R20]
program = rgt
device = plc
register = input
address = 20
map = 10=pending 20=migrating 30=migrated 99=retired

[unit C3]
program = renir
device = plc
register = coil
address = 3

[unit M1]
program = renir
source = manual
CONF
rc=0
run --once --json -c "$TMP/once.conf" > "$TMP/once.out" 2> "$TMP/once.err" || rc=$?
if [ "$rc" != 0 ]; then
	bad "--once exited $rc: $(cat "$TMP/once.err")"
fi
expect() { # TOPIC-TAIL STATE
	if grep -q "\"topic\":\"vigie/v1/unit/$1\",.*\"state\":\"$2\"" \
	   "$TMP/once.out"; then
		ok "--once: $1 $2"
	else
		bad "--once: $1 is not $2: $(grep "/$1\"" "$TMP/once.out")"
	fi
}
expect rgt/05/site-x/U7 retired
expect renir/05/site-x/U8 migrated
expect renir/05/site-x/U9 migrating
expect renir/05/site-x/U10 pending
expect rgt/05/site-x/R20 migrated
expect renir/05/site-x/C3 migrated
expect renir/05/site-x/M1 unknown
pres=$(grep '"topic":"vigie/v1/agent/site-x"' "$TMP/once.out" || true)
if [[ $pres == *'"online":true'* && $pres == *"\"board\":\"$BOARD_NAME\""* ]]
then
	ok "--once: presence online, board $BOARD_NAME"
else
	bad "--once: presence: $pres"
fi
# holding 7..10, input 20, coil 3: one request each
if grep -q "device plc: 3 request(s) planned, 3 sent" "$TMP/once.err"; then
	ok "--once: 3 Modbus requests for 6 polled units"
else
	bad "--once: requests: $(cat "$TMP/once.err")"
fi
if [ -e "$TMP/data" ]; then
	bad "--once wrote $TMP/data"
fi

if [ "$fails" -ne 0 ]; then
	echo "cross: $fails check(s) failed"
	exit 1
fi
echo "cross: all checks passed"
