# tests/fuzz: libFuzzer harnesses, built with clang and ASan + UBSan.
#   make fuzz [FUZZ_SECONDS=300]   each harness for a set time
#   fuzz-smoke (in make check)     each briefly, from the committed seeds
# New inputs go to build/fuzz/corpus-NAME; the committed seeds are never
# modified.  Crashes are written to build/fuzz/ and fail the run.

FUZZ_NAMES := unit_status presence receipt event summary topic targets gw_core agent_config \
	agent_rule
FUZZ_OUT   := build/fuzz
FUZZ_BINS  := $(FUZZ_NAMES:%=$(FUZZ_OUT)/fuzz_%)
FUZZ_SECONDS ?= 120
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
	$(WARN) -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -DVG_NO_ARENA -Iinclude -Ilib -Igateway \
	-Ifirmware -DVG_VERSION='"fuzz"' -DVG_BOARD='"fuzz"' \
	-DAGENT_DATADIR='"/tmp"' \
	$(shell $(PKG_CONFIG) --cflags libcjson sqlite3 inih 2>/dev/null)
FUZZ_LIBS := $(shell $(PKG_CONFIG) --libs libcjson sqlite3 inih 2>/dev/null) \
	-lpthread -lm
FUZZ_EXTRA_gw_core := gateway/gw_core.c gateway/gw_units.c
FUZZ_EXTRA_agent_config := firmware/config.c firmware/value.c firmware/rule.c
FUZZ_EXTRA_agent_rule := $(FUZZ_EXTRA_agent_config)

DEBS += libclang-rt-14-dev
CHECK_EXTRA += fuzz-smoke

.SECONDEXPANSION:
$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/roundtrip.h $(LIB_SRC) \
		$$(FUZZ_EXTRA_$$*)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) $(FUZZ_EXTRA_$*) $(FUZZ_LIBS)

# Run every harness for $(1) seconds; print execs and findings per harness.
define fuzz_run
	@set -e; for n in $(FUZZ_NAMES); do \
	  mkdir -p $(FUZZ_OUT)/corpus-$$n; \
	  $(FUZZ_OUT)/fuzz_$$n -max_total_time=$(1) -max_len=4200 \
	    -artifact_prefix=$(FUZZ_OUT)/crash-$$n- -print_final_stats=1 \
	    $(FUZZ_OUT)/corpus-$$n tests/fuzz/corpus/$$n \
	    > $(FUZZ_OUT)/$$n.log 2>&1 || { tail -40 $(FUZZ_OUT)/$$n.log; \
	    echo "fuzz_$$n: FINDING (see $(FUZZ_OUT)/$$n.log)"; exit 1; }; \
	  echo "fuzz_$$n: $$(grep -o 'stat::number_of_executed_units: *[0-9]*' \
	    $(FUZZ_OUT)/$$n.log | grep -o '[0-9]*$$') execs in $(1) s," \
	    "corpus $$(ls $(FUZZ_OUT)/corpus-$$n | wc -l) inputs, no finding"; \
	done
endef

.PHONY: fuzz fuzz-smoke
fuzz: $(FUZZ_BINS)
	$(call fuzz_run,$(FUZZ_SECONDS))

fuzz-smoke: $(FUZZ_BINS)
	$(call fuzz_run,$(FUZZ_SMOKE_SECONDS))
