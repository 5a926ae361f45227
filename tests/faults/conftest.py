"""Fault suite: the integration helpers (tests/integration) plus the
suite's scale, seed and counters.

pytest imports this file as the module "conftest", which is also the name
the integration helpers (vigie.py, agent_kit.py, test_e2e.py) import
their fixtures' helpers from: so it first re-exports those helpers from
tests/integration/conftest.py, then loads the fault kit.

FAULT_SCALE=ci (default, make check) or soak (make soak); FAULT_SEED=N
replays a run (the seed is printed in the header and the summary).
"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.abspath(os.path.join(HERE, "..", "integration"))
for _p in (HERE, INTEGRATION):
    if _p not in sys.path:
        sys.path.insert(0, _p)

_spec = importlib.util.spec_from_file_location(
    "vigie_integration_conftest", os.path.join(INTEGRATION, "conftest.py"))
_it = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_it)
# what the integration helpers import "from conftest"
ROOT, BUILD, MOSQUITTO = _it.ROOT, _it.BUILD, _it.MOSQUITTO
Broker, client, free_port, publish_all = (_it.Broker, _it.client,
                                          _it.free_port, _it.publish_all)
retained, summaries, wait_for, wait_port = (_it.retained, _it.summaries,
                                            _it.wait_for, _it.wait_port)
stop_process = _it.stop_process
# every payload received checked against docs/asyncapi.yaml, as in the
# integration suite: one outside the contract fails the test that got it
pytest_runtest_makereport = _it.pytest_runtest_makereport

import fault_kit  # noqa: E402  (needs the names above)


def pytest_report_header(config):
    return (f"fault suite: FAULT_SCALE={fault_kit.SCALE_NAME} "
            f"FAULT_SEED={fault_kit.SEED} (set FAULT_SEED to replay)")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    s = fault_kit.STATS
    tr = terminalreporter
    tr.write_line(f"fault suite: scale {fault_kit.SCALE_NAME}, seed "
                  f"{fault_kit.SEED}; " + ", ".join(
                      f"{k} {v}" for k, v in sorted(s["kinds"].items())))
    tr.write_line(f"{s['summaries']} summaries and {s['states']} unit "
                  f"statuses compared with the ground truth in "
                  f"{s['checks']} settled checks")
    tr.write_line(f"faults injected: {s['faults']}, states checked: "
                  f"{s['states']}")
    tr.write_line(_it.WIRE.summary())


import pytest  # noqa: E402


@pytest.fixture
def system(tmp_path, request):
    """The whole system, settled: every summary and unit status equal to
    the simulators' truth before the first fault."""
    s = fault_kit.System(tmp_path, fault_kit.rng_for(request.node.name))
    try:
        s.rng.random()
        s.settle("initial state")
        yield s
    finally:
        s.close()
