# Vigie — top-level build.  One Makefile, no recursion into sub-makefiles:
# lib/ is archived once and linked into the agent and the gateway.
#
#   make                build what BOARD runs (host: gateway, agent, tools)
#   make check          all tests: unit (plain + ASan/UBSan), clang build,
#                       integration against a real mosquitto (plain and
#                       TSan), and the parts' CHECK_EXTRA
#   make check-stress   integration and fault suites under CPU hogs
#   make deps           install the Debian packages (root) or print the line
#   make install        DESTDIR= PREFIX=/usr/local
#   make deb            Debian packages in build/deb/ (packaging/deb.mk)
#   make lint           cppcheck and clang-tidy

BOARD   ?= host
include boards/$(BOARD).mk
# what the board runs (BOARD_RUNS, boards/*.mk) is what make builds: a
# field unit builds the agent alone, not the gateway (whose libraries,
# libmicrohttpd among them, its sysroot need not have)
runs = $(filter $(1),$(BOARD_RUNS))

BUILD   ?= build/$(BOARD)
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
ifeq ($(origin CC),default)
CC      := $(BOARD_CROSS)gcc
endif
PKG_CONFIG ?= pkg-config
PYTHON  ?= /usr/bin/python3
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

PKGS    := libmosquitto libcjson sqlite3 $(shell $(PKG_CONFIG) --exists libmicrohttpd 2>/dev/null && echo libmicrohttpd)
WARN    := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wvla \
           -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
           $(WARN) $(BOARD_CPUFLAGS) $(CFLAGS) -Iinclude -Ilib \
           -DVG_VERSION='"$(VERSION)"' -DVG_BOARD='"$(BOARD)"' \
           $(shell $(PKG_CONFIG) --cflags $(PKGS))
LIBS    := $(shell $(PKG_CONFIG) --libs $(PKGS)) -lpthread -lm

ifeq ($(SAN),1)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=all -DVG_NO_ARENA
LDFLAGS    += -fsanitize=address,undefined
endif

# ThreadSanitizer (clang): make BUILD=build/tsan CC=clang TSAN=1 all; make tsan
ifeq ($(TSAN),1)
ALL_CFLAGS += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS    += -fsanitize=thread
endif

LIB_SRC := $(wildcard lib/*.c)
GW_SRC  := $(wildcard gateway/*.c)
UT_SRC  := $(wildcard tests/unit/test_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
GW_OBJ  := $(GW_SRC:%.c=$(BUILD)/%.o)
# the dashboard (gateway/www/*) embedded in the gateway as C arrays
GW_WWW  := $(wildcard gateway/www/*.html gateway/www/*.js gateway/www/*.css)
GW_OBJ  += $(BUILD)/gen/gw_http_assets.o
UT_BIN  := $(UT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

GATEWAY := $(BUILD)/vigie-gateway
LIBVG   := $(BUILD)/libvigie.a
# the gateway's core without its threads and sockets: unit tests, benches
LIBGW   := $(BUILD)/libgw.a
GW_CORE_OBJ := $(BUILD)/gateway/gw_core.o $(BUILD)/gateway/gw_units.o \
               $(BUILD)/gateway/gw_backlog.o \
               $(BUILD)/gateway/gw_store.o $(BUILD)/gateway/gw_sites.o
BENCH_BIN := $(BUILD)/bench/gateway-core $(BUILD)/bench/gateway-restart \
             $(BUILD)/bench/loadgen

DEBS := build-essential cppcheck clang-tidy pkg-config libmosquitto-dev libcjson-dev \
        libsqlite3-dev libmodbus-dev libinih-dev libcmocka-dev mosquitto \
        mosquitto-clients python3 python3-pytest python3-paho-mqtt clang \
        libmicrohttpd-dev chromium nodejs
# tools/vigie-pki and the security tests
DEBS += openssl
# Quebec's calendar (lib/qcdate.c reads America/Toronto from it at run time)
DEBS += tzdata
# Each part keeps its own rules beside its sources.  They may add to DEBS
# (Debian packages), CHECK_EXTRA (targets make check runs, two at a time),
# CHECK_ALONE (run after those, one at a time) and BENCH_EXTRA.
# A missing part is an error (include, not -include).
.DEFAULT_GOAL := all
CHECK_EXTRA :=
CHECK_ALONE :=
BENCH_EXTRA :=
include firmware/agent.mk
include tools/demo.mk
include tests/cross.mk
include tests/browser/browser.mk
include tests/fuzz/fuzz.mk
include bench/bench.mk
include tests/faults/faults.mk
include tests/tsan/tsan.mk
include tests/stress/stress.mk
include tests/cluster/cluster.mk
include tests/man/man.mk
include tests/prometheus/prometheus.mk
include packaging/deb.mk
include tests/asyncapi/asyncapi.mk

.PHONY: bench all check check-run check-suites ensure-deps unit unit-run unit-san clang-build integration deps \
        install lint clean
all: $(if $(call runs,gateway),$(GATEWAY)) $(if $(call runs,bench),$(BENCH_BIN))

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/gw_http_assets.c: $(GW_WWW) gateway/www_embed.py
	$(PYTHON) gateway/www_embed.py $@ $(GW_WWW)

$(BUILD)/gen/gw_http_assets.o: $(BUILD)/gen/gw_http_assets.c
	$(CC) $(ALL_CFLAGS) -Igateway -c $< -o $@

$(LIBVG): $(LIB_OBJ)
	$(BOARD_CROSS)ar rcs $@ $^

$(LIBGW): $(GW_CORE_OBJ)
	$(BOARD_CROSS)ar rcs $@ $^

# bench/benchkit.c: the clock and synthetic messages the benches share
BENCHKIT := $(BUILD)/bench/benchkit.o

$(BUILD)/bench/gateway-%: bench/gateway_%.c $(BENCHKIT) $(LIBGW) $(LIBVG)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Igateway -o $@ $< $(BENCHKIT) $(LIBGW) $(LIBVG) \
	  $(LDFLAGS) $(LIBS)

$(BUILD)/bench/loadgen: bench/loadgen.c $(BENCHKIT) $(LIBVG)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BENCHKIT) $(LIBVG) $(LDFLAGS) $(LIBS)

# make bench: the figures of docs/BENCHMARKS.md (medians, ratios to peers)
bench: $(BENCH_BIN) $(BENCH_EXTRA)
	$(BUILD)/bench/gateway-core 100000 1000000 5
	$(BUILD)/bench/gateway-restart 1000000
	$(PYTHON) bench/gateway_vs_sub.py 200000 5

$(GATEWAY): $(GW_OBJ) $(LIBVG)
	$(CC) $(LDFLAGS) -o $@ $(GW_OBJ) $(LIBVG) $(LIBS)

# the helpers the gateway's unit tests share (tests/unit/gw_kit.h)
UT_KIT := $(BUILD)/tests/gw_kit.o

$(UT_KIT): tests/unit/gw_kit.c tests/unit/gw_kit.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Igateway -MMD -MP -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(UT_KIT) $(LIBGW) $(LIBVG)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Igateway -o $@ $< $(UT_KIT) $(LIBGW) $(LIBVG) \
	  $(shell $(PKG_CONFIG) --cflags --libs cmocka) $(LDFLAGS) $(LIBS)

unit: $(UT_BIN)

# Run every unit test binary; stop at the first failure.
unit-run: unit
	@set -e; for t in $(UT_BIN) $(AGENT_UT_BIN); do echo "== $$t"; $$t; done

unit-san:
	$(MAKE) BUILD=build/san SAN=1 CFLAGS="-O1 -g" unit-run

clang-build:
	@if command -v clang >/dev/null; then \
	  $(MAKE) BUILD=build/clang CC=clang all unit; \
	else echo "clang not installed: skipping the clang build"; fi

integration: all
	$(PYTHON) -m pytest -q tests/integration

# check and demo first install what is missing (as root), then re-read
# this Makefile so that pkg-config sees the freshly installed libraries.
check: ensure-deps
	$(MAKE) check-run

# After the builds, lint and unit tests, the suites run CHECK_JOBS at a
# time, each one's output kept together (-O): they mostly wait on sockets
# and processes (the integration suite takes 1.1x as long under two CPU
# hogs, make check-stress), so two at once nearly halve the wall time, and
# each is checked under the other's load.  CHECK_ALONE runs after them,
# by itself: the NATS cluster, whose leader elections stall when the
# machine is loaded (docs/scale-out.md, section 6).
CHECK_JOBS ?= 2
check-run: all lint unit-run unit-san clang-build
	$(MAKE) --no-print-directory -j$(CHECK_JOBS) -Otarget check-suites
	$(if $(CHECK_ALONE),$(MAKE) --no-print-directory $(CHECK_ALONE))

# longest first, so that the pair that runs longest starts together
check-suites: tsan integration $(filter-out tsan,$(CHECK_EXTRA))

ensure-deps:
	@missing=$$(for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	  grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get \
	    install -y -q --no-install-recommends $$missing; \
	  else echo "missing Debian packages:" $$missing; \
	    echo "run: sudo make deps"; exit 1; fi; fi

deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -q --no-install-recommends $(DEBS); \
	else echo "run as root, or: sudo apt-get install $(DEBS)"; fi

.PHONY: install-gateway
install: $(if $(call runs,gateway),install-gateway)
# with its pages: the gateway, its inventory and the sites list of
# tools/vigie-pki (deploy/*.[1-8]; the agent's are in firmware/agent.mk)
install-gateway: $(GATEWAY)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man5 \
	  $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(GATEWAY) $(DESTDIR)$(PREFIX)/sbin/vigie-gateway
	install -m 0644 deploy/vigie-gateway.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 deploy/vigie-inventory.5 deploy/vigie-sites.5 \
	  $(DESTDIR)$(PREFIX)/share/man/man5/

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --std=c11 --inline-suppr -Iinclude -Ilib -Igateway lib gateway bench firmware tools/sim
	clang-tidy --quiet $(LIB_SRC) $(GW_SRC) bench/*.c $(AGENT_SRC) \
	  $(SIM_SRC) -- -std=c11 \
	  -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Iinclude -Ilib -Igateway \
	  $(shell $(PKG_CONFIG) --cflags $(PKGS) libmodbus inih) \
	  -DVG_VERSION='"lint"' -DVG_BOARD='"lint"' \
	  -DAGENT_DATADIR='"$(BOARD_DATADIR)"'

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(GW_OBJ:.o=.d) $(UT_KIT:.o=.d)
