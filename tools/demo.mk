# make demo: the whole system on loopback with SIMULATED field sites
# (tools/vigie-demo), included by the top Makefile.  It first installs what
# is missing (as root), then re-invokes make so that pkg-config sees the
# freshly installed libraries, then runs the orchestrator in the
# foreground: Ctrl-C stops every process it started.
#
#   make demo                             until Ctrl-C
#   make demo DEMO_ARGS="--duration 30"   30 s, check against the truth, exit
#   tools/vigie-demo --help               every option

DEMO_ARGS ?=

.PHONY: demo demo-build
demo: ensure-deps
	$(MAKE) demo-build
	$(PYTHON) tools/vigie-demo --build $(BUILD) $(DEMO_ARGS)

demo-build: $(GATEWAY) $(AGENT) $(SIM)
