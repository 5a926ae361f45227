# The broker as a 3-node NATS JetStream cluster (deploy/nats/, issue #14,
# docs/scale-out.md), included by the top Makefile: three Debian
# nats-server 2.9 nodes on loopback with deploy/nats/vigie-cluster.conf
# (addresses, ports and paths made local), credentials and rights from
# tools/vigie-pki, the real gateway, agent and simulator.
#
#   make cluster      the cluster tests (part of make check; 2.5 to 5 min),
#                     test_cluster_faults.py at FAULT_SCALE=ci (one round)
#   make soak         also runs test_cluster_faults.py at FAULT_SCALE=soak
#                     (three rounds of node and gateway deaths)
#   FAULT_SEED=N      replays the fault test's random choices
#
# nats-server missing fails the run (no silent skip).  python3-bcrypt is
# what tools/vigie-pki hashes the NATS passwords with.

DEBS += nats-server python3-bcrypt
# alone, after the other suites (the top Makefile's check-run)
CHECK_ALONE += cluster
NATS_SERVER ?= /usr/sbin/nats-server

.PHONY: cluster cluster-soak nats-server-present
nats-server-present:
	@test -x $(NATS_SERVER) || { echo "$(NATS_SERVER) missing:" \
	  "sudo make deps (or apt-get install nats-server)"; exit 1; }

cluster: $(GATEWAY) $(AGENT) $(SIM) nats-server-present
	FAULT_SCALE=ci NATS_SERVER=$(NATS_SERVER) VIGIE_BUILD=$(abspath $(BUILD)) \
	  $(PYTHON) -m pytest -q tests/cluster

soak: cluster-soak
cluster-soak: $(GATEWAY) $(AGENT) $(SIM) nats-server-present
	FAULT_SCALE=soak NATS_SERVER=$(NATS_SERVER) VIGIE_BUILD=$(abspath $(BUILD)) \
	  $(PYTHON) -m pytest -q tests/cluster/test_cluster_faults.py
