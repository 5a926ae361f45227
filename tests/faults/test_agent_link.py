"""The agent's side: kill -9 between the outbox write and the broker's
acknowledgement, and a long cut of the link between agent and broker
while the site keeps changing."""
import json
import signal
import time

from conftest import retained, wait_for
from fault_kit import (SCALE, agent_status, connected, injected, pause,
                       with_faults)


def test_agent_kill9_between_outbox_write_and_ack(system):
    """The agent records changes, hands them to the broker, and dies
    before any PUBACK: either nothing reached the broker (blackhole) or it
    did but the acknowledgement never came back (hold_acks).  The site's
    devices then die too, so only the agent's store knows those states:
    after a restart the summaries must show them, faulted, and then the
    live ones once the devices answer again."""
    s, rng = system, system.rng
    for rnd in range(SCALE["agent_rounds"]):
        run = rng.choice(s.runs)
        cut = s.cutters[run.site.id]
        how = ("blackhole", "hold_acks")[rnd % 2]
        getattr(cut, how)()
        before = run.states()
        s.step_until_changed([run], n=2, min_changes=2)
        unit, _, _ = rng.choice(run.site.manual)
        mark = rng.choice(("migrating", "migrated", "retired"))
        s.mark(run, unit, mark)
        after = run.states()
        changed = [u for u in after if after[u] != before[u]] + [unit]
        want = dict(after, **{unit: mark})

        def recorded_unacked():
            units, _ = agent_status(run)
            return units and all(units[u][0] == want[u] and units[u][1]
                                 for u in changed)
        wait_for(recorded_unacked, timeout=20,
                 what=f"{run.site.id}: {len(changed)} change(s) recorded, "
                 "not acknowledged")
        run.agent.stop(signal.SIGKILL)
        injected(f"agent kill -9 before PUBACK ({how})")
        for slave in s.slaves(run):
            run.sim.cmd(f"kill {slave}")
        injected("slave dead", len(s.slaves(run)))
        cut.restore()
        pause(rng, 0.0, 1.5)
        run.agent.start()
        truth = s.truth()
        dead = [k for sl in s.slaves(run) for k in s.units_of(run, sl)]
        s.check(with_faults(truth, dead),
                f"round {rnd + 1}: restarted agent, devices dead: the "
                "store's states, faulted")
        for slave in s.slaves(run):
            run.sim.cmd(f"revive {slave}")
        s.check(truth, f"round {rnd + 1}: devices back")


def presence(port, site):
    p = retained(port, f"vigie/v1/agent/{site}").get(f"vigie/v1/agent/{site}")
    return json.loads(p) if p else {}


def test_link_cut_while_states_change(system):
    """The link of several agents is blackholed for cut_s seconds (60 in
    soak) while the sites keep migrating and technicians mark units: the
    broker sees them go (their wills), the agents see the broker go, and
    once the link is back the summaries equal the truth exactly."""
    s, rng = system, system.rng
    for rnd in range(SCALE["cut_rounds"]):
        victims = rng.sample(s.runs, rng.randint(2, len(s.runs)))
        conn0 = {r.site.id: agent_status(r)[1] for r in victims}
        s.thaw()
        start = time.monotonic()
        for r in victims:
            s.cutters[r.site.id].blackhole()
        injected("link cut", len(victims))
        end = start + SCALE["cut_s"]
        for r in victims:
            wait_for(lambda: presence(s.port, r.site.id).get("online")
                     is False, timeout=max(1, end - time.monotonic()),
                     what=f"{r.site.id} seen offline during the cut")
            wait_for(lambda: not connected(r),
                     timeout=max(1, end - time.monotonic()),
                     what=f"{r.site.id}'s agent sees the link down")
        for r in victims:
            unit, _, _ = rng.choice(r.site.manual)
            s.mark(r, unit, rng.choice(("migrating", "migrated")))
        before = {r.site.id: r.states() for r in victims}
        assert time.monotonic() < end, "cut_s too short for the checks"
        while time.monotonic() < end:
            s.shuffle(victims, 2)
            time.sleep(max(0, min(end - time.monotonic(),
                                  rng.uniform(0.5, 3.0))))
        moved = sum(r.states()[u] != st for r in victims
                    for u, st in before[r.site.id].items())
        for r in victims:
            s.cutters[r.site.id].restore()
        assert moved > 0, "nothing changed during the cut"
        for r in victims:
            wait_for(lambda: (agent_status(r)[1] or 0) > conn0[r.site.id]
                     and connected(r), timeout=60,
                     what=f"{r.site.id} reconnected")
        s.settle(f"after a {SCALE['cut_s']} s link cut of "
                 f"{len(victims)} agents (round {rnd + 1})")
