"""A Modbus slave that dies, answers late, answers busy, or (RTU over a
pty) sends corrupted frames.  While the fault lasts, its units must be
marked faulted (counted stale) and keep their last known states, the
other slaves must go on being read, and nothing wrong may be published;
once it ends, the summaries equal the simulators' truth exactly."""
import threading

import pytest

from agent_kit import Watcher
from fault_kit import SCALE, injected, pause, with_faults

# per kind: (sim command that starts a lasting fault, one that ends it,
#            transient faults the agent's retries should absorb)
KINDS = {
    "dead": ("kill {s}", "revive {s}", ["kill {s}", "revive {s}"]),
    "busy": ("busy {s} 1000000", "busy {s} 0", ["busy {s} 1"]),
    # the agents read with a 500 ms response timeout (tools/vigie-demo)
    "late": ("late {s} 1500 1000000", "late {s} 0 0",
             ["late {s} 300 3", "late {s} 800 2"]),
    "corrupt": ("corrupt {s} 1000000", "corrupt {s} 0", ["corrupt {s} 1"]),
}


class WrongStates:
    """Every unit status published while the simulators stand still must
    carry the true state: a late, garbled or misattributed answer must
    never show up as a state."""

    def __init__(self, port, truth):
        self.truth, self.bad, self.seen = truth, [], 0
        self.w = Watcher(port, "vigie/v1/unit/#")
        self.lock = threading.Lock()
        orig = self.w.c.on_message

        def on_message(c, u, m):
            orig(c, u, m)
            p = self.w.get(m.topic)
            if not p or m.retain:
                return
            key = (p["program"], p["region"], p["site"], p["unit"])
            with self.lock:
                self.seen += 1
                if p["state"] != truth.units.get(key):
                    self.bad.append(f"{key}: {p['state']} published, "
                                    f"true state {truth.units.get(key)}")
        self.w.c.on_message = on_message

    def close(self):
        self.w.close()
        return self.bad


@pytest.mark.parametrize("kind", list(KINDS))
def test_modbus_slave_fault(system, kind):
    s, rng = system, system.rng
    start, stop, transient = KINDS[kind]
    for rnd in range(SCALE["slave_rounds"]):
        # corrupted frames: RTU over the pty; late answers: Modbus TCP,
        # whose transaction ids let a late answer be told from the next
        runs = [r for r in s.runs if r.site.transport ==
                ("rtu" if kind == "corrupt" else "tcp")] \
            if kind in ("corrupt", "late") else s.runs
        run = rng.choice(runs)
        slave = rng.choice(s.slaves(run))
        t0 = s.truth()
        run.sim.cmd(start.format(s=slave))
        injected(f"slave {kind} (lasting)")
        s.step_until_changed(min_changes=4)
        hit = s.units_of(run, slave)
        s.check(with_faults(s.truth(), hit, t0.units),
                f"{kind} slave {slave} of {run.site.id}: faulted, last "
                "known states kept, the others read")
        run.sim.cmd(stop.format(s=slave))
        truth = s.truth()
        s.check(truth, f"{kind} slave {slave} of {run.site.id} back")
        # short faults, simulators still: retried or briefly faulted,
        # never a wrong state
        watch = WrongStates(s.port, truth)
        try:
            for _ in range(3):
                for line in transient:
                    run.sim.cmd(line.format(s=slave))
                    pause(rng, 0.1, 1.0)
                    injected(f"slave {kind} (transient)")
            pause(rng, 1.0, 2.0)
        finally:
            bad = watch.close()
        assert not bad, "\n".join(bad[:20])
        s.step_until_changed(min_changes=4)
        s.settle(f"after transient {kind} faults on {run.site.id}")
