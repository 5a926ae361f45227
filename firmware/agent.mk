# vigie-agent (firmware/), its site simulator (tools/sim/) and their unit
# tests (tests/unit/agent/), included by the top Makefile.  Everything is
# built for $(BOARD): boards/*.mk set the cross toolchain and CPU flags.

AGENT      := $(BUILD)/vigie-agent
SIM        := $(BUILD)/vigie-sim
AGENT_PKGS := libmosquitto libcjson libmodbus inih
AGENT_SRC  := $(wildcard firmware/*.c)
AGENT_OBJ  := $(AGENT_SRC:%.c=$(BUILD)/%.o)
# everything but main(): what the unit tests link against
AGENT_CORE := $(filter-out $(BUILD)/firmware/main.o,$(AGENT_OBJ))
SIM_SRC    := $(wildcard tools/sim/*.c)
SIM_OBJ    := $(SIM_SRC:%.c=$(BUILD)/%.o)
AGENT_UT_SRC := $(wildcard tests/unit/agent/test_*.c)
AGENT_UT_BIN := $(AGENT_UT_SRC:tests/unit/agent/%.c=$(BUILD)/tests/agent/%)

AGENT_CFLAGS := $(shell $(PKG_CONFIG) --cflags libmodbus inih) \
	-DAGENT_DATADIR='"$(BOARD_DATADIR)"'
# no .eh_frame for the agent's own code (about 14 KiB of the stripped
# binary; arm64 wants both flags): C raises no exceptions and the agent
# never cancels a thread, so nothing unwinds through it; -g's .debug_frame
# still serves gdb
AGENT_CFLAGS += -fno-asynchronous-unwind-tables -fno-unwind-tables
AGENT_LIBS   := $(shell $(PKG_CONFIG) --libs $(AGENT_PKGS)) -lpthread -lm
# keep the field binary small: unused sections of libvigie are dropped
AGENT_LDFLAGS := -Wl,--gc-sections -Wl,--as-needed $(BOARD_LDFLAGS)

all: $(if $(call runs,agent),$(AGENT)) $(if $(call runs,sim),$(SIM))
unit: $(AGENT_UT_BIN)

# The agent's own code is built for size: the configuration (parser,
# typed values, rules, request planner), the command line, status and
# control text and the lifecycle run at load, on request or once; the
# store (outbox, acknowledgement log, health) spends its time in fsync;
# and the Modbus and MQTT threads wait on the bus and the network (16
# requests a second for 2,000 units: the agent's CPU is under 0.1 %).
# On arm64 the file grows in 64 KiB steps (max-page-size,
# docs/BENCHMARKS.md): this keeps it in the first.
AGENT_SMALL := config value rule plan main status ctl view agent acklog \
	health outbox mqtt modbus
$(AGENT_SMALL:%=$(BUILD)/firmware/%.o): AGENT_OPT := -Os

$(BUILD)/firmware/%.o: firmware/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(AGENT_CFLAGS) $(AGENT_OPT) -ffunction-sections \
	  -fdata-sections -MMD -MP -c $< -o $@

$(BUILD)/tools/sim/%.o: tools/sim/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(AGENT_CFLAGS) -MMD -MP -c $< -o $@

$(AGENT): $(AGENT_OBJ) $(LIBVG)
	$(CC) $(LDFLAGS) $(AGENT_LDFLAGS) -o $@ $(AGENT_OBJ) $(LIBVG) $(AGENT_LIBS)

$(SIM): $(SIM_OBJ) $(LIBVG)
	$(CC) $(LDFLAGS) -o $@ $(SIM_OBJ) $(LIBVG) \
	  $(shell $(PKG_CONFIG) --libs libmodbus)

# the fixtures the agent's unit tests share (tests/unit/agent/agent_kit.h)
AGENT_UT_KIT := $(BUILD)/tests/agent/agent_kit.o

# (-MMD: it is rebuilt when a firmware header it includes changes, such as
# the layout of struct agent_unit)
$(AGENT_UT_KIT): tests/unit/agent/agent_kit.c tests/unit/agent/agent_kit.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(AGENT_CFLAGS) -Ifirmware -MMD -MP -c $< -o $@

$(BUILD)/tests/agent/%: tests/unit/agent/%.c $(AGENT_UT_KIT) $(AGENT_CORE) \
			$(LIBVG)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(AGENT_CFLAGS) -Ifirmware -o $@ $< $(AGENT_UT_KIT) \
	  $(AGENT_CORE) $(LIBVG) $(shell $(PKG_CONFIG) --cflags --libs cmocka) \
	  $(LDFLAGS) $(AGENT_LIBS)

.PHONY: agent-size
# Stripped size of the agent, the figure docs/BENCHMARKS.md caps at 150 KiB.
agent-size: $(AGENT)
	@cp $(AGENT) $(BUILD)/vigie-agent.stripped
	@$(BOARD_CROSS)strip $(BUILD)/vigie-agent.stripped
	@echo "vigie-agent stripped: $$(stat -c %s $(BUILD)/vigie-agent.stripped) bytes"

install-agent: $(AGENT)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 0755 $(AGENT) $(DESTDIR)$(PREFIX)/sbin/vigie-agent
	install -m 0644 deploy/vigie-agent.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 deploy/vigie-agent.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/

-include $(AGENT_OBJ:.o=.d) $(SIM_OBJ:.o=.d) $(AGENT_UT_KIT:.o=.d)

.PHONY: install-agent
install: $(if $(call runs,agent),install-agent)

# make bench: the agent's figures of docs/BENCHMARKS.md stripped
# size on the host and on the arm64 board, then Modbus requests per poll and
# memory with 2,000 units (medians of 5 runs, bench/agent-rss), after the
# durable store's cost on a slow disk (agent-bench-disk, bench/bench.mk).
.PHONY: agent-bench
BENCH_EXTRA += agent-bench
agent-bench: $(AGENT) $(SIM) agent-bench-disk
	@$(MAKE) --no-print-directory agent-size
	@if command -v aarch64-linux-gnu-gcc >/dev/null; then \
	  $(MAKE) --no-print-directory BOARD=rpi4 BUILD=build/rpi4 \
	    CC=aarch64-linux-gnu-gcc agent-size | tail -1; \
	else echo "aarch64-linux-gnu-gcc missing (make cross-deps): no arm64 size"; fi
	$(PYTHON) bench/agent-rss --units 2000 --runs 5 --build $(BUILD)
