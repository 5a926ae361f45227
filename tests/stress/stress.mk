# make check-stress: the integration and fault suites under CPU pressure
# (stress-ng with 2 CPU hogs), STRESS_RUNS times in a row (default 5, about
# 8-10 minutes a run on 2 cores), with pass/fail figures per suite.  Not
# part of make check; it shakes out tests that wait for a sleep rather
# than for readiness.  Logs: build/stress/SUITE.RUN.log.

STRESS_RUNS ?= 5
DEBS += stress-ng

.PHONY: check-stress
check-stress: $(GATEWAY) $(AGENT) $(SIM)
	STRESS_LOG=build/stress tests/stress/run.sh $(STRESS_RUNS) \
	  $(abspath $(BUILD)) $(PYTHON)
