# ThreadSanitizer: the agent, the gateway and the simulator built with
# clang -fsanitize=thread (TSAN=1 in the top Makefile), then the
# integration and fault suites run against them (the fault suite at its
# CI size: kill -9, broker restarts and link cuts are where threads meet).
#
#   make tsan          both suites (part of make check; about 9 minutes on
#                      2 cores, hardly longer than without TSan: the suites
#                      mostly wait on sockets)
#   make tsan TSAN_TESTS="tests/integration/test_gateway.py"
#
# Each instrumented process writes its reports to $(TSAN_LOGS)/tsan.PID
# (log_path), child processes and daemons killed by a test included, where
# an exit code would be lost: any such file fails the run, whatever
# pytest's verdict.  tests/tsan/tsan.supp says what is suppressed and why.

CHECK_EXTRA += tsan
TSAN_BUILD := build/tsan
TSAN_LOGS  := $(TSAN_BUILD)/logs
TSAN_TESTS ?= tests/integration tests/faults
TSAN_BINS  := $(addprefix $(TSAN_BUILD)/,vigie-gateway vigie-agent vigie-sim)
TSAN_ENV   := TSAN_OPTIONS="log_path=$(abspath $(TSAN_LOGS))/tsan \
	suppressions=$(abspath tests/tsan/tsan.supp) second_deadlock_stack=1" \
	VIGIE_BUILD=$(abspath $(TSAN_BUILD)) FAULT_SCALE=ci

.PHONY: tsan tsan-build
tsan-build:
	$(MAKE) BUILD=$(TSAN_BUILD) CC=clang TSAN=1 SAN= CFLAGS="-O1 -g" \
	  $(TSAN_BINS)

tsan: tsan-build
	@rm -rf $(TSAN_LOGS) && mkdir -p $(TSAN_LOGS)
	@$(TSAN_ENV) $(PYTHON) -m pytest -q $(TSAN_TESTS); rc=$$?; \
	n=$$(ls $(TSAN_LOGS) | wc -l); \
	if [ "$$n" -gt 0 ]; then head -n 60 $(TSAN_LOGS)/*; \
	  echo "ThreadSanitizer: reports from $$n process(es) in $(TSAN_LOGS)"; \
	  exit 1; fi; \
	exit $$rc
