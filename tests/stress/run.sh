#!/bin/bash
# The integration and fault suites under CPU pressure: stress-ng keeps
# $STRESS_CPUS CPU hogs busy while each suite runs $1 times in a row.
# Every run is counted (pass/fail per suite); the exit status is 1 if any
# run failed.  The hogs are stopped whatever happens (trap on exit and on
# signals), and stress-ng's own --timeout bounds them should this script
# be killed with SIGKILL.
#
#   tests/stress/run.sh RUNS BUILD_DIR [PYTHON]
set -uo pipefail
set -m

RUNS=$1
BUILD=$2
PYTHON=${3:-/usr/bin/python3}
CPUS=${STRESS_CPUS:-2}
LOG=${STRESS_LOG:-build/stress}
HOG_PID=
SUITE_PID=

stop_hogs() {
	if [ -n "$HOG_PID" ]; then
		kill -TERM "$HOG_PID" 2>/dev/null
		wait "$HOG_PID" 2>/dev/null
		HOG_PID=
	fi
}
# On a signal: the hogs first, then the suite's whole process group (set
# -m gives each job its own): pytest and the brokers, agents and gateways
# its fixtures started, so that none is left behind.
interrupted() {
	stop_hogs
	if [ -n "$SUITE_PID" ]; then
		kill -TERM -- "-$SUITE_PID" 2>/dev/null
		wait "$SUITE_PID" 2>/dev/null
	fi
	exit 130
}
trap stop_hogs EXIT
trap interrupted INT TERM HUP

command -v stress-ng >/dev/null || { echo "stress-ng missing: make deps"; exit 1; }
mkdir -p "$LOG"
# backstop: 20 minutes per run is far beyond what both suites take
stress-ng --cpu "$CPUS" --cpu-load 100 --timeout $((RUNS * 1200))s \
	--quiet &
HOG_PID=$!

declare -A pass fail
for s in integration faults; do pass[$s]=0; fail[$s]=0; done
for ((i = 1; i <= RUNS; i++)); do
	for s in integration faults; do
		extra=()
		[ "$s" = faults ] && extra=(env FAULT_SCALE=ci)
		start=$SECONDS
		# in the background, so that a trap runs at once (not when the
		# suite ends)
		env VIGIE_BUILD="$BUILD" "${extra[@]}" "$PYTHON" -m pytest -q \
			-p no:cacheprovider "tests/$s" > "$LOG/$s.$i.log" 2>&1 &
		SUITE_PID=$!
		wait "$SUITE_PID"
		rc=$?
		SUITE_PID=
		if [ "$rc" -eq 0 ]; then
			pass[$s]=$((pass[$s] + 1)); verdict=pass
		else
			fail[$s]=$((fail[$s] + 1)); verdict=FAIL
		fi
		echo "run $i/$RUNS $s: $verdict in $((SECONDS - start)) s" \
			"($(tail -n 1 "$LOG/$s.$i.log"))"
	done
done
stop_hogs
echo "check-stress: integration ${pass[integration]}/$RUNS passed," \
	"faults ${pass[faults]}/$RUNS passed (logs in $LOG/)"
[ $((fail[integration] + fail[faults])) -eq 0 ]
