"""The fault suite's harness: the end-to-end system of test_e2e.py (the
demo's data set, vigie-sim with its ground truth, vigie-agent, a real
mosquitto, vigie-gateway) with a TCP relay between each agent and the
broker to cut its link, and exact checks against the ground truth that
count what they compared.

Everything is on 127.0.0.1; every wait is bounded; every process and
thread started here is stopped by System.close().
"""
import json
import os
import random
import select
import signal
import socket
import struct
import threading
import time

from conftest import retained, wait_for, Broker
import test_e2e as e2e
from vigie import Gateway, Truth, diff_summaries

FY = e2e.FY
SCALES = {
    # make check: the whole suite in about 3 minutes
    "ci": {"broker_rounds": 2, "gateway_kills": 4, "agent_rounds": 2,
           "cut_s": 15, "cut_rounds": 1, "slave_rounds": 1},
    # make soak: the brief's 60 s link cut, several rounds of everything
    "soak": {"broker_rounds": 8, "gateway_kills": 16, "agent_rounds": 6,
             "cut_s": 60, "cut_rounds": 3, "slave_rounds": 3},
}
SCALE_NAME = os.environ.get("FAULT_SCALE", "ci")
if SCALE_NAME not in SCALES:
    raise SystemExit(f"FAULT_SCALE must be one of {sorted(SCALES)}")
SCALE = SCALES[SCALE_NAME]
SEED = int(os.environ.get("FAULT_SEED") or
           random.SystemRandom().randrange(1, 2**31))
STATS = {"faults": 0, "states": 0, "summaries": 0, "checks": 0,
         "kinds": {}}
AGENT_KEEPALIVE = 5   # s: a cut link is noticed in 1.5 x this
SETTLE_S = 90         # bound on any wait for the system to agree


def injected(kind, n=1):
    STATS["faults"] += n
    STATS["kinds"][kind] = STATS["kinds"].get(kind, 0) + n


def rng_for(name):
    """A random generator per test, from the suite's seed."""
    return random.Random(f"{SEED}/{name}")


# ------------------------------------------------------------ link cutter
class _Conn:
    def __init__(self, down, up):
        self.down, self.up, self.dead = down, up, False


def _reset(sock):
    """Close with a TCP RST, as a dropped link ends for the far side."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class LinkCutter:
    """A TCP relay on loopback between one agent and the broker.

    pass       forward both ways
    blackhole  forward nothing, accept nothing: the agent's packets vanish
               and so do the broker's (keepalives time out on both sides)
    hold_acks  forward agent -> broker only: PUBLISHes arrive, PUBACKs do
               not come back
    restore()  reset every connection the relay holds, then forward again
    """

    def __init__(self, target_port):
        self.target = target_port
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.mode = "pass"
        self.lock = threading.Lock()
        self.conns = []
        self.stopping = False
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping:
            if self.mode == "blackhole":
                time.sleep(0.05)   # left in the listen backlog
                continue
            if not select.select([self.ls], [], [], 0.1)[0]:
                continue
            try:
                down, _ = self.ls.accept()
            except OSError:
                continue
            try:
                up = socket.create_connection(("127.0.0.1", self.target), 2)
            except OSError:
                _reset(down)       # broker down: refused, as it would be
                continue
            c = _Conn(down, up)
            with self.lock:
                self.conns.append(c)
            t = threading.Thread(target=self._pump, args=(c,), daemon=True)
            t.start()
            self.threads.append(t)

    def _pump(self, c):
        while not self.stopping and not c.dead:
            mode = self.mode
            want = [c.down, c.up] if mode == "pass" else \
                [c.down] if mode == "hold_acks" else []
            if not want:
                time.sleep(0.05)
                continue
            try:
                ready = select.select(want, [], [], 0.1)[0]
            except (OSError, ValueError):
                break
            for s in ready:
                if c.dead or self.mode != mode:
                    break
                other = c.up if s is c.down else c.down
                try:
                    data = s.recv(65536)
                    if data:
                        other.sendall(data)
                except OSError:
                    data = b""
                if not data:
                    self._kill(c)
                    return

    def _kill(self, c):
        with self.lock:
            if c.dead:
                return
            c.dead = True
            if c in self.conns:
                self.conns.remove(c)
        _reset(c.down)
        _reset(c.up)

    def blackhole(self):
        self.mode = "blackhole"

    def hold_acks(self):
        self.mode = "hold_acks"

    def restore(self):
        """End of the cut: what the relay held is gone (both ends get a
        reset), new connections go through."""
        self.mode = "dropping"
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            self._kill(c)
        self.mode = "pass"

    def close(self):
        self.stopping = True
        self.restore()
        for t in self.threads:
            t.join(2)
        self.ls.close()


# ------------------------------------------------------------ the system
def agent_status(run):
    """The agent's own view: {unit: (state, unacked, fault)}, connects;
    from `status --json`, the form that does not change with the locale
    or with the people's text."""
    st = run.agent.status()
    if st is None:
        return None, None
    units = {u["unit"]: (u["state"], u["unacked"], u["fault"] is not None)
             for u in st["units"]}
    return units, st["link"]["connects"]


def connected(run):
    st = run.agent.status()
    return st is not None and st["link"]["connected"]


class System:
    """Broker, gateway, and per simulated site a simulator, an agent and
    the relay that carries the agent's MQTT link."""

    def __init__(self, tmp, rng):
        self.tmp, self.rng = tmp, rng
        self.broker = Broker(tmp)
        self.broker.start()
        self.port = self.broker.port
        self.runs, self.cutters, self.marks = [], {}, {}
        self.gateway = None
        plan = e2e.demo.make_sites(e2e.demo.SMALL_PLAN,
                                   seed=rng.randrange(1, 2**31))
        for s in plan:
            s.rates = e2e.RATES
        try:
            for s in plan:
                cut = LinkCutter(self.port)
                self.cutters[s.id] = cut
                run = e2e.SiteRun(s, tmp / "sites", cut.port)
                self.runs.append(run)
                with open(run.agent.conf) as f:
                    text = f.read()
                with open(run.agent.conf, "w") as f:
                    f.write(text.replace("keepalive = 10",
                                         f"keepalive = {AGENT_KEEPALIVE}"))
            for r in self.runs:
                r.agent.start()
            self.gateway = Gateway(tmp, self.port).start()
            # every hand-marked unit gets a mark, or it stays "unknown"
            for r in self.runs:
                for unit, _, state in r.site.manual:
                    self.mark(r, unit, state)
        except BaseException:
            self.close()
            raise

    # -- helpers
    def mark(self, run, unit, state):
        e2e.mark(run, unit, state, self.marks)

    def sims(self, line):
        for r in self.runs:
            r.sim.cmd(line)

    def freeze(self):
        self.sims("freeze")

    def thaw(self):
        self.sims("thaw")

    def truth(self):
        """The simulators' truth (call frozen) and the hand marks."""
        return e2e.ground_truth(self.runs, self.marks)

    def slaves(self, run):
        return sorted({u[2] for u in run.site.units})

    def units_of(self, run, slave):
        return [(u[1], run.site.region, run.site.id, u[0])
                for u in run.site.units if u[2] == slave]

    def shuffle(self, runs=None, n=2):
        """Move n random units of runs to another state by hand: the fast
        dynamics end once every unit has migrated, a long run must not."""
        runs = runs or self.runs
        for _ in range(n):
            r = self.rng.choice(runs)
            unit = self.rng.choice(r.site.units)[0]
            now = r.states()[unit]
            r.sim.cmd(f"state {unit} " + self.rng.choice(
                [x for x in ("pending", "migrating", "migrated", "retired")
                 if x != now]))

    def step_until_changed(self, runs=None, n=3, min_changes=3):
        """Run ticks of the dynamics (frozen otherwise), and move a unit
        by hand, until at least min_changes units changed; bounded."""
        runs = runs or self.runs
        before = {r.site.id: r.states() for r in runs}
        for _ in range(50):
            for r in runs:
                r.sim.cmd(f"step {n}")
            self.shuffle(runs, 1)
            changed = sum(r.states()[u] != s for r in runs
                          for u, s in before[r.site.id].items())
            if changed >= min_changes:
                return changed
        raise AssertionError("the simulators do not move")

    # -- the check
    def unit_mismatches(self, truth):
        got = {}
        for _, payload in retained(self.port, "vigie/v1/unit/#").items():
            if payload:
                p = json.loads(payload)
                got[(p["program"], p["region"], p["site"], p["unit"])] = \
                    (p["state"], "fault" in p)
        want = {k: (v, k in truth.faulted) for k, v in truth.units.items()}
        return [f"{k}: (state, fault) {got.get(k)} != {v}"
                for k, v in want.items() if got.get(k) != v] + \
            [f"{k}: extra" for k in got if k not in want]

    def check(self, truth, what, timeout=SETTLE_S):
        """Wait until every retained summary and unit status equals truth
        (states, faults, stale counts); fail with the differences."""
        last = []

        def agree():
            last[:] = diff_summaries(self.port, truth, FY)
            if not last:
                last[:] = self.unit_mismatches(truth)
            return not last
        try:
            wait_for(agree, timeout=timeout, interval=0.3, what=what)
        except TimeoutError:
            raise AssertionError(f"{what}: the broker's retained state "
                                 "differs from the ground truth (seed "
                                 f"{SEED}):\n  " + "\n  ".join(last[:25]))
        regions = {k[1] for k in truth.units}
        STATS["checks"] += 1
        STATS["states"] += len(truth.units)
        STATS["summaries"] += 2 * (len(regions) + 1)

    def settle(self, what):
        """Freeze the dynamics and check against the simulators' truth."""
        self.freeze()
        truth = self.truth()
        self.check(truth, what)
        return truth

    def close(self):
        if self.gateway:
            self.gateway.stop()
        for r in reversed(self.runs):
            r.stop()
        for c in self.cutters.values():
            c.close()
        self.broker.stop(signal.SIGKILL)


def pause(rng, lo, hi):
    time.sleep(rng.uniform(lo, hi))


def with_faults(truth, keys, states=None):
    """truth, but with units keys faulted and holding states (their last
    known states) instead of the simulators' current ones."""
    t = Truth()
    t.units = dict(truth.units)
    t.faulted = set(truth.faulted)
    for k in keys:
        if states is not None:
            t.units[k] = states[k]
        t.faulted.add(k)
    return t
