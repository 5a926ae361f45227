"""End to end: the demo's own pieces (tools/vigie-demo's data set and
config writers, vigie-sim with its migration dynamics, vigie-agent, a real
mosquitto, vigie-gateway) at a small size: four sites in three regions,
TCP and RTU.  The simulators' ground truth (their registers, read back
with the "truth" command) plus the technicians' hand marks must equal every
retained summary and every retained unit status once the system settles;
then again after an agent's kill -9, a broker restart and changes made
while an agent was cut off.  Also: the demo itself checks out in its
--duration mode, and SIGINT leaves no process behind; an agent's kill -9
leaves the demo running with the site shown offline and its units stale
(and the check still exact), the gateway's ends it with a clear message;
the table says loading before its first figures; --help documents every
option.
"""
import contextlib
import importlib.util
import json
import os
import select
import signal
import subprocess
import sys
import time
from importlib.machinery import SourceFileLoader

import pytest

from agent_kit import Agent
from conftest import BUILD, ROOT, retained, wait_for
from vigie import Gateway, Truth, wait_truth

DEMO_PATH = os.path.join(ROOT, "tools", "vigie-demo")
_loader = SourceFileLoader("vigie_demo", DEMO_PATH)
_spec = importlib.util.spec_from_loader("vigie_demo", _loader)
demo = importlib.util.module_from_spec(_spec)
_loader.exec_module(demo)

FY = 2024                 # Gateway's default --today is 2024-06-01
SEED = 4242
# fast dynamics: per 100 ms tick, 3 % start, 15 % finish, 0.3 % retire
RATES = (30000, 150000, 3000)


def start_sim(site, d):
    """The site's simulator (the demo's, 100 ms ticks), its units file in
    folder d."""
    units = os.path.join(d, "units.txt")
    demo.write_units_file(site, units)
    return demo.Sim(subprocess.Popen(
        demo.Sim.args(BUILD, site, units, tick_ms=100),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE))


class SiteRun:
    """One simulated site: its simulator and its agent."""

    def __init__(self, site, root, broker_port):
        self.site = site
        self.dir = os.path.join(str(root), site.id)
        os.makedirs(self.dir)
        self.sim = start_sim(site, self.dir)
        conf = os.path.join(self.dir, "agent.conf")
        demo.write_agent_conf(site, conf, broker_port, self.sim.endpoint,
                              os.path.join(self.dir, "data"), poll_ms=200,
                              log_level="debug")
        self.agent = Agent(conf, self.dir)

    def states(self):
        return {u["unit"]: u["state"] for u in self.sim.truth()}

    def stop(self):
        self.agent.stop()
        if self.sim.proc.poll() is None:
            self.sim.proc.kill()
        self.sim.proc.wait(10)


@pytest.fixture
def sites(broker, tmp_path):
    plan = demo.make_sites(demo.SMALL_PLAN, seed=SEED)
    for s in plan:
        s.rates = RATES
    runs = []
    try:
        for s in plan:
            runs.append(SiteRun(s, tmp_path / "sites", broker.port))
        for r in runs:
            r.agent.start()
        yield runs
    finally:
        for r in reversed(runs):
            r.stop()


@pytest.fixture
def gateway(broker, tmp_path):
    g = Gateway(tmp_path, broker.port).start()
    yield g
    g.stop()


def mark(run, unit, state, marks):
    rc, out, err = run.agent.ctl("mark", unit, state, "--tech", "T-E2E")
    assert rc == 0, out + err
    program = next(p for u, p, _ in run.site.manual if u == unit)
    marks[(run.site.id, unit)] = (program, run.site.region, state)


def ground_truth(runs, marks):
    """The simulators' truth (frozen) and the hand marks."""
    t = Truth()
    for r in runs:
        for u in r.sim.truth():
            t.set(u["program"], u["region"], u["site"], u["unit"],
                  u["state"])
    for (site, unit), (program, region, state) in marks.items():
        t.set(program, region, site, unit, state)
    return t


def unit_mismatches(port, truth):
    got = {}
    for topic, payload in retained(port, "vigie/v1/unit/#").items():
        if payload:
            p = json.loads(payload)
            got[(p["program"], p["region"], p["site"], p["unit"])] = \
                p["state"]
    return [f"{k}: {got.get(k)} != {v}" for k, v in truth.units.items()
            if got.get(k) != v] + [f"{k}: extra" for k in got
                                   if k not in truth.units]


def settle_and_check(broker, runs, marks):
    for r in runs:
        r.sim.cmd("freeze")
    truth = ground_truth(runs, marks)
    wait_truth(broker.port, truth, FY, timeout=60)
    bad = []
    wait_for(lambda: not bad.__setitem__(slice(None), unit_mismatches(
        broker.port, truth)) and not bad, timeout=30,
        what="retained unit statuses equal to the truth")
    return truth


def changed(run, before, n=1):
    """True once at least n of run's units left the states of before."""
    now = run.states()
    return sum(now[u] != s for u, s in before.items()) >= n


def test_summaries_equal_simulators_truth_through_failures(broker, sites,
                                                           gateway):
    marks = {}
    manual = [(r, u) for r in sites for u, _, _ in r.site.manual]
    assert manual, "the data set has hand-marked units"
    regions = {r.site.region for r in sites}
    assert len(sites) >= 4 and len(regions) >= 3
    assert {r.site.transport for r in sites} == {"tcp", "rtu"}
    # the simulated migration moves while everything runs
    first = {r.site.id: r.states() for r in sites}
    for r, unit in manual:
        mark(r, unit, "migrating", marks)
    for r in sites:
        wait_for(lambda: changed(r, first[r.site.id], 3), timeout=30,
                 what=f"{r.site.id} migrating")
    truth = settle_and_check(broker, sites, marks)
    assert len(truth.units) == sum(len(r.site.units) + len(r.site.manual)
                                   for r in sites)

    # an agent dies without a word, the site keeps changing meanwhile
    victim, other = sites[0], sites[-1]
    victim.agent.stop(signal.SIGKILL)
    before = victim.states()
    for r in sites:
        r.sim.cmd("thaw")
    wait_for(lambda: changed(victim, before, 3), timeout=30,
             what="changes while the agent is dead")
    # the broker restarts; every agent is cut off while states change
    broker.stop()
    before = other.states()
    wait_for(lambda: changed(other, before, 2), timeout=30,
             what="changes while the broker is down")
    r, unit = next((r, u) for r, u in manual if r is not victim)
    mark(r, unit, "migrated", marks)
    broker.start()
    victim.agent.start()
    truth = settle_and_check(broker, sites, marks)
    assert sum(s == "migrated" for s in truth.units.values()) > 0


def run_demo(tmp_path, *args):
    return subprocess.Popen(
        [sys.executable, DEMO_PATH, "--small", "--plain", "--lang", "en",
         "--build", BUILD, "--dir", str(tmp_path / "demo"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@contextlib.contextmanager
def demo_running(tmp_path, *args):
    """run_demo, and the demo killed on the way out if it still runs,
    whatever the test's outcome."""
    p = run_demo(tmp_path, *args)
    try:
        yield p
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def leftovers(path, but=None):
    """Processes whose command line names path (the demo's folder)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if pid == str(but):
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if path.encode() in f.read():
                    found.append(pid)
        except OSError:
            pass
    return found


def wait_line(p, want, timeout):
    """True once p prints the line want; bounded.  Reads the raw pipe so
    that no line waits in a buffer select cannot see."""
    deadline, seen = time.monotonic() + timeout, ""
    fd = p.stdout.fileno()
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 1.0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                return False
            seen += chunk.decode(errors="replace")
            if f"\n{want}\n" in seen:
                return True
    return False


@pytest.mark.parametrize("mode", [[], ["--secure"]], ids=["plain", "secure"])
def test_demo_duration_mode_checks_out_and_exits_0(tmp_path, mode):
    with demo_running(tmp_path, "--duration", "6", "--tick-ms", "200",
                      *mode) as p:
        out, _ = p.communicate(timeout=90)
    assert p.returncode == 0, out
    assert "ground truth" in out and "SIMULATED" in out, out
    assert "Montréal" in out and "Nord-du-Québec" in out
    if mode:  # agents really went through TLS with their own accounts
        assert "secured     TLS" in out, out
        log = (tmp_path / "demo" / "broker" / "mosquitto.log").read_text()
        assert "u'sim-" in log or "as vigie-agent-sim-" in log, log[-2000:]
    assert leftovers(str(tmp_path / "demo")) == []


def test_demo_sigint_leaves_no_process(tmp_path):
    with demo_running(tmp_path) as p:
        assert wait_line(p, "ready", timeout=60), "demo not ready"
        # broker, 4 simulators, 4 agents, gateway
        assert len(leftovers(str(tmp_path / "demo"), but=p.pid)) == 10
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=60)
    assert p.returncode == 0
    assert leftovers(str(tmp_path / "demo")) == []


def read_until(p, seen, pred, timeout):
    """Read p's output into seen[0] until pred(seen[0]); bounded.  False
    when p ended or the time ran out first."""
    deadline, fd = time.monotonic() + timeout, p.stdout.fileno()
    while time.monotonic() < deadline:
        if pred(seen[0]):
            return True
        if select.select([fd], [], [], 1.0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                return pred(seen[0])
            seen[0] += chunk.decode(errors="replace")
    return pred(seen[0])


def pid_of(path):
    """The one process whose command line names path."""
    pids = leftovers(path)
    assert len(pids) == 1, pids
    return int(pids[0])


def after_ready(out):
    return out.split("\nready\n", 1)[1]


def test_demo_goes_on_when_an_agent_dies_and_says_so(tmp_path):
    """kill -9 of one agent: the demo keeps running, lists the site as
    offline (its own view and the gateway's), counts its units stale,
    checks out at the end of --duration and exits 0.  The table says
    loading before its first figures, and repeats where to look."""
    site = "sim-06-1"
    conf = str(tmp_path / "demo" / "sites" / site / "agent.conf")
    seen = [""]
    with demo_running(tmp_path, "--duration", "20", "--tick-ms", "200",
                      "--refresh", "1") as p:
        assert read_until(p, seen, lambda s: "\nready\n" in s, 60), seen[0]
        # the first figures: the province's line of a table
        assert read_until(p, seen, lambda s: "\nall " in after_ready(s),
                          60), seen[0]
        os.kill(pid_of(conf), signal.SIGKILL)
        rest, _ = p.communicate(timeout=120)
    out = seen[0] + rest
    assert p.returncode == 0, out
    after = after_ready(out)
    # loading, then figures; never partial figures first
    assert "loading…" in after, after[:3000]
    assert after.index("loading…") < after.index("\nall "), after[:3000]
    # where to look, above every table
    tables = after.count("Vigie — demo ·")
    assert tables >= 3
    assert after.count("\nbroker 127.0.0.1:") == tables, after[:3000]
    assert after.count(" · dashboard http://127.0.0.1:") == tables
    # the agent's death is news, not the end
    assert f"the agent of {site} exited (SIGKILL): the demo goes on" in out
    assert "Offline sites" in after
    offline = [ln for ln in after.splitlines()
               if ln.startswith(f"  {site} (06): agent exited (SIGKILL)")]
    assert offline, after[-4000:]
    # the gateway saw the will: the site offline, its units stale
    last = offline[-1]
    assert "gateway: offline" in last, last
    n_stale = int(last.rsplit("; ", 1)[1].split()[0])
    assert n_stale > 0, last
    tail = after[after.rindex("Vigie — demo ·"):]
    row06 = next(ln for ln in tail.splitlines() if ln.startswith("06 "))
    assert int(row06.split()[-1]) == n_stale, tail
    # the check held for every unit, the dead agent's included
    assert "check: all 8 summaries equal the simulators' ground truth" \
        in out, out[-3000:]
    assert f"check: {site} offline (agent SIGKILL): its {n_stale} " \
        "reported units count at their last known state, stale" in out
    assert leftovers(str(tmp_path / "demo")) == []


def test_demo_ends_clearly_when_the_gateway_dies(tmp_path):
    seen = [""]
    with demo_running(tmp_path) as p:
        assert read_until(p, seen, lambda s: "\nready\n" in s, 60), seen[0]
        gw = pid_of(os.path.join(str(tmp_path / "demo"), "gateway") + "\0")
        os.kill(gw, signal.SIGKILL)
        rest, _ = p.communicate(timeout=60)
    out = seen[0] + rest
    assert p.returncode == 1, out
    assert "vigie-demo: the gateway exited (SIGKILL): the demo cannot go " \
        "on without it; see " in out, out[-2000:]
    assert leftovers(str(tmp_path / "demo")) == []


def test_demo_help_documents_every_option():
    parser = demo.build_parser()
    for action in parser._actions:
        assert action.help, action.option_strings
    text = parser.format_help()
    for word in ("modes:", "--duration N", "--plain", "loading…",
                 "offline", "stale", "dashboard"):
        assert word in text, word
