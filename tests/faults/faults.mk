# The fault suite (tests/faults/), included by the top Makefile: a real
# broker, agents, simulators and the gateway on loopback, through broker
# restarts, gateway and agent kill -9, link cuts and misbehaving Modbus
# slaves, checked against the simulators' ground truth.
#
#   make faults          the CI size (about 3 minutes; part of make check)
#   make soak            longer: several rounds, a 60 s link cut (~15 min)
#   FAULT_SEED=N make faults    replay a run (the seed is printed)

CHECK_EXTRA += faults
FAULT_DEPS := $(GATEWAY) $(AGENT) $(SIM)

.PHONY: faults soak
faults: $(FAULT_DEPS)
	FAULT_SCALE=ci VIGIE_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/faults

soak: $(FAULT_DEPS)
	FAULT_SCALE=soak VIGIE_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/faults
