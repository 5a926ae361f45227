"""The broker restarts (SIGTERM, kill -9) and the gateway dies by kill -9
at random moments of a burst of changes; each time, once the simulators
stop moving, every retained summary and unit status equals their ground
truth exactly."""
import signal

from fault_kit import SCALE, injected, pause


def test_broker_restarts_sigterm_and_kill9(system):
    s, rng = system, system.rng
    for rnd in range(SCALE["broker_rounds"]):
        sig = (signal.SIGTERM, signal.SIGKILL)[rnd % 2]
        s.thaw()
        pause(rng, 0.2, 2.0)
        s.broker.stop(sig)
        injected(f"broker {sig.name}")
        # down for a while: the sites keep changing, a technician marks
        s.step_until_changed(min_changes=2)
        run = rng.choice(s.runs)
        unit, _, _ = rng.choice(run.site.manual)
        s.mark(run, unit, rng.choice(("migrating", "migrated", "pending")))
        pause(rng, 0.5, 3.0)
        s.broker.start()
        pause(rng, 0.0, 2.0)
        s.settle(f"after broker {sig.name} (round {rnd + 1})")


def test_gateway_kill9_during_bursts(system):
    s, rng = system, system.rng
    kills = SCALE["gateway_kills"]
    for k in range(kills):
        s.thaw()
        # a burst: every simulator jumps ahead while the dynamics run
        s.sims("step 4")
        pause(rng, 0.0, 1.5)
        s.gateway.kill9()
        injected("gateway kill -9")
        pause(rng, 0.0, 1.0)
        s.gateway.start()
        if k % 2 == 1 or k == kills - 1:
            s.settle(f"after gateway kill -9 #{k + 1}")
