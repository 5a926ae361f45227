# bench/bench.mk: end-to-end benchmarks of docs/BENCHMARKS.md (issue #7
# item 3), included by the top Makefile and run by `make bench` through
# BENCH_EXTRA.  Each prints medians (or percentiles) over several runs and
# a ratio to a peer measured in the same run; none asserts a time.
#
#   make bench-latency          device change -> summary, p50/p99, with
#                               --coalesce-ms 200 and 50 (~5 min)
#   make bench-collectd         vigie-agent vs collectd, 2,000 registers,
#                               RSS and CPU side by side, 5 runs and
#                               where the agent's memory goes (~4 min)
#   make bench-restart-broker   restart with 1,000,000 retained units on
#                               the broker, and bytes per unit (~5 min);
#                               RESTART_PEERS="old/vigie-gateway" times
#                               other builds in the same runs
#   make bench-storm            500 agents x 40 units reconnecting at once
#                               (bench/stormgen): gateway vs mosquitto_sub
#                               on one mosquitto and on a 3-node NATS
#                               JetStream cluster (~25 min: a NATS run
#                               that does not converge waits
#                               STORM_TIMEOUT s)
#   make bench-nats-rate        gateway vs mosquitto_sub rate on the NATS
#                               cluster, and the cluster vs one mosquitto
#                               (~20 min)
#
# collectd (Debian's collectd-core: modbus and mqtt plugins) is installed
# here when missing and make runs as root, not in make check's DEBS.

.PHONY: bench-latency bench-collectd bench-restart-broker collectd-deps \
        bench-storm bench-nats-rate nats-deps
BENCH_EXTRA += bench-latency bench-collectd bench-restart-broker \
               bench-storm bench-nats-rate
BENCH_BIN += $(BUILD)/bench/stormgen

# many clients in one process: libvigie's encoders, libmosquitto, threads
$(BUILD)/bench/stormgen: bench/stormgen.c $(LIBVG)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBVG) $(LDFLAGS) $(LIBS)

bench-latency: $(GATEWAY) $(AGENT) $(SIM)
	VIGIE_BUILD=$(BUILD) $(PYTHON) bench/change_latency.py --units 100 \
	  --poll-ms 100 --changes 100 --runs 3 --coalesce 200,50

collectd-deps:
	@if [ ! -e /usr/lib/collectd/modbus.so ] || \
	    [ ! -e /usr/lib/collectd/mqtt.so ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get \
	    install -y -q --no-install-recommends collectd-core; \
	  else echo "collectd-core missing: sudo apt-get install collectd-core"; \
	  fi; fi

# the agent's libraries and nothing else: its floor (bench/libfloor.c)
$(BUILD)/bench/libfloor: bench/libfloor.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell $(PKG_CONFIG) --cflags $(AGENT_PKGS)) \
	  -o $@ $< $(LDFLAGS) $(shell $(PKG_CONFIG) --libs $(AGENT_PKGS))

bench-collectd: $(AGENT) $(SIM) $(BUILD)/bench/libfloor collectd-deps
	VIGIE_BUILD=$(BUILD) $(PYTHON) bench/agent_vs_collectd.py --units 2000 \
	  --runs 5 --window 20

bench-restart-broker: $(GATEWAY) $(BUILD)/bench/loadgen
	VIGIE_BUILD=$(BUILD) $(PYTHON) bench/restart_broker.py 1000000 3

# make agent-bench-disk (part of make agent-bench): the agent's durable
# store on a slow disk (fsync 10 ms, bench/slowsync.c preloaded):
# first-start time and disk calls per change.
# AGENT_BENCH_PEERS="path/to/other/vigie-agent" compares builds in one run.
.PHONY: agent-bench-disk
SLOWSYNC := $(BUILD)/bench/slowsync.so

$(SLOWSYNC): bench/slowsync.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -fPIC -shared \
	  -o $@ $< -ldl

agent-bench-disk: $(AGENT) $(SIM) $(SLOWSYNC)
	VIGIE_BUILD=$(BUILD) $(PYTHON) bench/agent_disk.py --units 2000 \
	  --changes 200 --runs 3 $(foreach a,$(AGENT_BENCH_PEERS),--agent $(a)) \
	  $(if $(AGENT_BENCH_PEERS),--agent $(AGENT))

# make bench-storm: a birth storm, 500 sites x 40 units reconnecting at
# once, on one mosquitto, on the NATS cluster as deploy/nats/ sets it and
# on the cluster with max_ack_pending raised (docs/BENCHMARKS.md, Birth
# storm).  A run that does not converge in STORM_TIMEOUT s counts as that.
# make bench-nats-rate: bench/gateway_vs_sub.py on mosquitto and on the
# cluster, each run on both.
STORM_TIMEOUT ?= 180
NATS_RATE_N ?= 20000

nats-deps:
	@if [ ! -x /usr/sbin/nats-server ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get \
	    install -y -q --no-install-recommends nats-server; \
	  else echo "nats-server missing: sudo apt-get install nats-server"; \
	  exit 1; fi; fi

bench-storm: $(GATEWAY) $(BUILD)/bench/stormgen nats-deps
	VIGIE_BUILD=$(BUILD) $(PYTHON) bench/storm.py --sites 500 --units 40 \
	  --runs 3 --brokers mosquitto,nats,nats-untuned \
	  --timeout $(STORM_TIMEOUT)

bench-nats-rate: $(GATEWAY) $(BUILD)/bench/loadgen nats-deps
	VIGIE_BUILD=$(BUILD) $(PYTHON) bench/gateway_vs_sub.py $(NATS_RATE_N) 3 \
	  --nats
	VIGIE_BUILD=$(BUILD) $(PYTHON) bench/gateway_vs_sub.py $(NATS_RATE_N) 3 \
	  --nats --untuned

# make bench-fanout: 1,000 event streams on one gateway vs the same
# summaries to 1,000 MQTT subscribers of its mosquitto, in each run
# (bench/fanout.c, bench/fanout.py; docs/BENCHMARKS.md, Fan-out; ~8 min)
.PHONY: bench-fanout
BENCH_EXTRA += bench-fanout
BENCH_BIN += $(BUILD)/bench/fanout
FANOUT_VIEWERS ?= 1000
FANOUT_RUNS ?= 5

$(BUILD)/bench/fanout: bench/fanout.c $(LIBVG)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBVG) $(LDFLAGS) $(LIBS)

bench-fanout: $(GATEWAY) $(BUILD)/bench/fanout
	VIGIE_BUILD=$(BUILD) $(PYTHON) bench/fanout.py --viewers \
	  $(FANOUT_VIEWERS) --runs $(FANOUT_RUNS) --changes 200 --period-ms 200
