"""Regional store-and-forward (docs/scale-out.md): two regional mosquittos
(regions 03 and 06) running deploy/mosquitto/regional.conf, bridged to a
central one running deploy/mosquitto/vigie.conf, with the credentials and
ACLs of tools/vigie-pki --region; the real gateway on the centre and real
agents (manual units, `vigie-agent mark`) on the regional brokers.

Region 03's bridge goes through a TCP relay that the test cuts for 30 s
(every connection reset, every new one reset at once: the centre sees the
bridge go, the bridge cannot come back), while units change in both
regions and one unit of region 03 leaves its agent's configuration (the
agent restarts and announces the removal).  Afterwards the centre's
retained summaries equal the ground truth, the removed unit is out of the
counts, and every agent holds the NOC's receipt for every unit.

The cut is a long cut compressed into 30 s: region 03's broker retries
every 1-2 s (restart_timeout 1 2 instead of 10 120) and holds at most 40
messages for the centre (max_queued_messages 40 instead of 2,000,000), so
its queue overflows as it would in a cut longer than it was sized for
(every retry queues the region's retained state again,
eclipse/mosquitto#2248), and the removal and the changes of qc-3's 120
units come after the overflow.  What was dropped must reach the centre
with the retained replay at reconnection, which mosquitto 2.0.11 bounds
by max_inflight_messages (regional.conf: 0, no bound; with 100 some of
qc-3's units stay as they were at the centre); an empty retained message
is in no replay (eclipse/mosquitto#1040), so the removal gets there only
as a retained "removed" status.  Everything else in the three
configurations is the deploy/ text with paths and ports made local.

Every wait is bounded and waits for a state, except the cut itself, which
lasts 30 s by definition.
"""
import importlib.util
import json
import os
import pwd
import re
import select
import socket
import struct
import subprocess
import threading
import time
from importlib.machinery import SourceFileLoader

import paho.mqtt.client as mqtt
import pytest

from agent_kit import Agent
from conftest import MOSQUITTO, ROOT, free_port, wait_for, wait_port
from vigie import Gateway, Truth, comparable

_loader = SourceFileLoader("vigie_demo", os.path.join(ROOT, "tools",
                                                       "vigie-demo"))
_spec = importlib.util.spec_from_loader("vigie_demo", _loader)
demo = importlib.util.module_from_spec(_spec)
_loader.exec_module(demo)

FY = 2024
CUT_S = 30
# site -> (region, {unit: program})
SITES = {
    "qc-1": ("03", {"Q1": "renir", "Q2": "renir", "Q3": "rgt", "Q4": "rgt"}),
    "qc-2": ("03", {"R1": "renir", "R2": "rgt", "R3": "rgt"}),
    "mtl-1": ("06", {"M1": "renir", "M2": "renir", "M3": "rgt"}),
    # more units than 2.0.11 lets through of a replay after an overflow
    # when max_inflight_messages is bounded (100 at the centre)
    "qc-3": ("03", {f"B{i:03d}": "renir" for i in range(120)}),
}
# ---------------------------------------------------------------- the link
def _reset(sock):
    """Close with a TCP RST, as a link that drops ends for the far side."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class Link:
    """A TCP relay between a regional broker's bridge and the centre.
    cut(): every connection it carries is reset, and every new one is
    reset as soon as it is accepted; restore(): it relays again."""

    def __init__(self, target_port):
        self.target = target_port
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.up = True
        self.stopping = False
        self.lock = threading.Lock()
        self.conns = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping:
            if not select.select([self.ls], [], [], 0.1)[0]:
                continue
            try:
                down, _ = self.ls.accept()
            except OSError:
                continue
            if not self.up:
                _reset(down)
                continue
            try:
                up = socket.create_connection(("127.0.0.1", self.target), 2)
            except OSError:
                _reset(down)
                continue
            with self.lock:
                self.conns.append((down, up))
            t = threading.Thread(target=self._pump, args=(down, up),
                                 daemon=True)
            t.start()
            self.threads.append(t)

    def _pump(self, down, up):
        while not self.stopping:
            try:
                ready = select.select([down, up], [], [], 0.1)[0]
            except (OSError, ValueError):
                break
            try:
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        raise OSError("closed")
                    (up if s is down else down).sendall(data)
            except OSError:
                break
        self._drop(down, up)

    def _drop(self, down, up):
        with self.lock:
            if (down, up) in self.conns:
                self.conns.remove((down, up))
        _reset(down)
        _reset(up)

    def cut(self):
        self.up = False
        with self.lock:
            conns = list(self.conns)
        for down, up in conns:
            self._drop(down, up)

    def restore(self):
        self.up = True

    def stop(self):
        self.stopping = True
        self.cut()
        for t in self.threads:
            t.join(2)
        self.ls.close()


# ---------------------------------------------------------------- brokers
class Mosquitto:
    def __init__(self, conf, ports, log):
        self.ports, self.log = ports, log
        self.proc = subprocess.Popen([MOSQUITTO, "-c", conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        for port in ports.values():
            wait_port(port)

    def logtext(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def regional_conf(rdir, pki_region, region, ports, central, overrides):
    """deploy/mosquitto/regional.conf filled in for `region`, its paths and
    ports made local (as the demo does for vigie.conf), and the options in
    `overrides` ({directive: value}) replaced."""
    with open(os.path.join(ROOT, "deploy", "mosquitto", "regional.conf")) as f:
        text = f.read()
    text = text.replace("@REGION@", region).replace("@CENTRAL@", central)
    text = text.replace("/etc/mosquitto/vigie", pki_region)
    text = text.replace("/var/lib/mosquitto/", rdir + "/")
    for std, port in ports.items():
        text, n = re.subn(rf"^listener {std}( 127\.0\.0\.1)?$",
                          f"listener {port} 127.0.0.1", text, flags=re.M)
        assert n == 1, f"regional.conf: listener {std}"
    for key, value in overrides.items():
        text, n = re.subn(rf"^{key} .*$", f"{key} {value}", text, flags=re.M)
        assert n == 1, f"regional.conf: {key}"
    assert "allow_anonymous false" in text and "@" not in re.sub(
        r"#.*", "", text), "regional.conf: a placeholder is left"
    # debug logging: every PUBLISH is in the log, for the loop check
    text += (f"log_dest file {rdir}/mosquitto.log\nlog_type all\n"
             f"user {pwd.getpwuid(os.getuid()).pw_name}\n")
    conf = os.path.join(rdir, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(text)
    return conf


# ---------------------------------------------------------------- clients
def read_retained(port, user, pw, topic_filter, settle=0.5, timeout=20.0):
    """{topic: payload} of the retained messages `user` may read (one
    connection at a time per account: the user name is the client id)."""
    got, last, rc = {}, [time.monotonic()], {}

    def on_message(_c, _u, m):
        if m.retain:
            got[m.topic] = m.payload
            last[0] = time.monotonic()

    c = mqtt.Client(client_id=user, clean_session=True)
    c.username_pw_set(user, pw)
    c.on_message = on_message
    c.on_connect = lambda _c, _u, _f, r: rc.setdefault("rc", r)
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    try:
        wait_for(lambda: "rc" in rc, timeout=10, what=f"CONNACK for {user}")
        assert rc["rc"] == 0, f"{user} refused: {rc['rc']}"
        c.subscribe(topic_filter, qos=1)
        last[0] = time.monotonic()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and \
                time.monotonic() - last[0] < settle:
            time.sleep(0.05)
    finally:
        c.loop_stop()
        c.disconnect()
    return got


class Centre:
    """What the NOC reads at the central broker, as vigie-dashboard."""

    def __init__(self, port, pki):
        self.port = port
        with open(os.path.join(pki, "vigie-dashboard.password")) as f:
            self.pw = f.read().strip()

    def read(self, topic_filter):
        return read_retained(self.port, "vigie-dashboard", self.pw,
                             topic_filter)

    def summaries(self):
        out = {}
        for t, p in self.read("vigie/v1/summary/#").items():
            if p:
                prog, region = t.split("/")[3:5]
                out[(prog, region)] = json.loads(p)
        return out

    def bridge(self, region):
        return self.read(f"vigie/v1/bridge/{region}").get(
            f"vigie/v1/bridge/{region}")

    def diff(self, truth, regions, programs=("renir", "rgt")):
        got = self.summaries()
        problems = []
        for prog in programs:
            for reg in list(regions) + ["all"]:
                want = truth.summary(prog, reg, FY)
                have = got.get((prog, reg))
                if have is None:
                    problems.append(f"{prog}/{reg}: no summary")
                    continue
                have = comparable(have)
                problems += [f"{prog}/{reg} {k}: {have.get(k)!r} != {v!r}"
                             for k, v in want.items() if have.get(k) != v]
        return problems

    def wait_truth(self, truth, regions, timeout, **kw):
        last = []

        def ok():
            last[:] = self.diff(truth, regions, **kw)
            return not last
        try:
            wait_for(ok, timeout=timeout, interval=0.3, what="summaries")
        except TimeoutError:
            raise AssertionError("centre's summaries differ from the ground "
                                 "truth:\n  " + "\n  ".join(last[:20]))


def agent_conf(path, site, region, units, port, pki, data):
    """A site's agent on its regional broker: TLS with the site's password,
    manual units only."""
    lines = ["[site]", f"id = {site}", f"region = {region}", "",
             "[broker]", "host = localhost", f"port = {port}",
             "keepalive = 5", f"username = {site}",
             f"password_file = {pki}/sites/{site}.password",
             f"ca_file = {pki}/ca.crt", "",
             "[agent]", f"data_dir = {data}", "log_level = debug", ""]
    for unit, program in units.items():
        lines += [f"[unit {unit}]", f"program = {program}",
                  "source = manual", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


class Site:
    def __init__(self, tmp, site, pki, port):
        self.id = site
        self.region, self.units = SITES[site][0], dict(SITES[site][1])
        self.dir = tmp / "sites" / site
        self.dir.mkdir(parents=True)
        self.pki, self.port = pki, port
        self.conf = str(self.dir / "agent.conf")
        self.write()
        self.agent = Agent(self.conf, self.dir)

    def write(self):
        agent_conf(self.conf, self.id, self.region, self.units, self.port,
                   self.pki, str(self.dir / "data"))

    def mark(self, truth, unit, state):
        rc, out, err = self.agent.ctl("mark", unit, state, "--tech", "T-42")
        assert rc == 0, (self.id, unit, state, out, err)
        truth.set(self.units[unit], self.region, self.id, unit, state)

    def status(self):
        st = self.agent.status()
        assert st is not None, f"{self.id}: agent not answering"
        return st

    def stop(self):
        self.agent.stop()


# ---------------------------------------------------------------- the test
@pytest.fixture
def system(tmp_path):
    started = []
    try:
        yield tmp_path, started
    finally:
        errors = []
        for p in reversed(started):
            try:
                p.stop()
            except Exception as e:  # stop the others all the same
                errors.append(e)
        if errors:
            raise errors[0]


def bridge_metrics(http):
    """vigie_bridge_down of regions 03 and 06, from the gateway's
    /metrics."""
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics",
                                  timeout=10).read().decode()
    got = {}
    for line in text.splitlines():
        for r in ("03", "06"):
            if line.startswith(f'vigie_bridge_down{{region="{r}"}} '):
                got[r] = int(line.split()[-1])
    return got


def test_a_cut_bridge_stores_and_forwards_states_and_a_removal(system):
    tmp, started = system
    sites_txt = tmp / "sites.txt"
    sites_txt.write_text("".join(f"{s} {r}\n" for s, (r, _) in SITES.items()))
    pki = str(tmp / "pki")
    subprocess.run([os.path.join(ROOT, "tools", "vigie-pki"),
                    "--region", "03", "--region", "06", pki, str(sites_txt),
                    "localhost"], check=True, capture_output=True)

    # the centre: deploy/mosquitto/vigie.conf, as the demo's --secure runs it
    cdir = tmp / "central"
    cdir.mkdir()
    cports = {p: free_port() for p in (1883, 8883, 8884, 8885)}
    conf = demo.secure_broker_conf(str(cdir), pki, cports)
    with open(conf, "a") as f:
        f.write("log_type all\n")
    central = Mosquitto(conf, cports, str(cdir / "mosquitto.log"))
    started.append(central)
    centre = Centre(cports[1883], pki)

    # the regions: 03 through a link the test cuts; 06 with two central
    # addresses, the first one dead (round_robin moves to the next)
    links = {r: Link(cports[8883]) for r in ("03", "06")}
    started += links.values()
    dead = free_port()
    centrals = {"03": f"127.0.0.1:{links['03'].port}",
                "06": f"127.0.0.1:{dead} 127.0.0.1:{links['06'].port}"}
    regional = {}
    for r in ("03", "06"):
        rdir = tmp / f"region-{r}"
        rdir.mkdir()
        ports = {p: free_port() for p in (1883, 8883, 8884)}
        overrides = {"restart_timeout": "1 2"}
        if r == "03":
            overrides["max_queued_messages"] = "40"
        conf = regional_conf(str(rdir), os.path.join(pki, "regions", r), r,
                             ports, centrals[r], overrides)
        regional[r] = Mosquitto(conf, ports, str(rdir / "mosquitto.log"))
        started.append(regional[r])
    wait_for(lambda: centre.bridge("03") == b"1" and
             centre.bridge("06") == b"1", timeout=20,
             what="both bridges connected to the centre")

    http = free_port()
    gw = Gateway(tmp / "gw", cports[1883], extra=[
        "--username", "vigie-gateway",
        "--password-file", os.path.join(pki, "vigie-gateway.password"),
        "--inventory", os.path.join(pki, "sites.map"),
        "--http", f"127.0.0.1:{http}"])
    os.makedirs(tmp / "gw", exist_ok=True)
    gw.start()
    started.append(gw)

    sites = {}
    for s, (r, _) in SITES.items():
        sites[s] = Site(tmp, s, pki, regional[r].ports[8884])
        sites[s].agent.start()
        started.append(sites[s])

    # every unit gets a first state through its regional broker (qc-3's
    # are left unknown, as an agent publishes them first)
    truth = Truth()
    first = ["pending", "migrating", "migrated"]
    for site in sites.values():
        for i, unit in enumerate(site.units):
            if site.id == "qc-3":
                truth.set(site.units[unit], site.region, site.id, unit,
                          "unknown")
            else:
                site.mark(truth, unit, first[i % 3])
    centre.wait_truth(truth, ("03", "06"), timeout=30)

    # ---- the cut
    before_cut = {p: truth.summary(p, "03", FY)["counts"]
                  for p in ("renir", "rgt")}
    links["03"].cut()
    t_cut = time.monotonic()
    # the centre loses the bridge at once (reset) and publishes its will
    wait_for(lambda: centre.bridge("03") == b"0", timeout=10,
             what="region 03's bridge notification at 0 at the centre")
    qc1, qc2, mtl1 = sites["qc-1"], sites["qc-2"], sites["mtl-1"]
    qc1.mark(truth, "Q1", "migrated")
    qc2.mark(truth, "R1", "migrated")
    mtl1.mark(truth, "M1", "migrated")
    mtl1.mark(truth, "M3", "migrated")

    # region 06 goes on; the NOC sees region 03 as it was before the cut,
    # and as such: every unit of it stale (the gateway reads the bridge's
    # notification), none of region 06's
    def region06_and_frozen_03():
        got = centre.summaries()
        return all(comparable(got[(p, "06")])["counts"] ==
                   truth.summary(p, "06", FY)["counts"] and
                   got[(p, "06")]["stale"] == 0 and
                   got[(p, "03")]["counts"] == before_cut[p] and
                   got[(p, "03")]["stale"] == sum(before_cut[p].values())
                   for p in ("renir", "rgt"))
    wait_for(region06_and_frozen_03, timeout=15, interval=0.3,
             what="region 06 up to date, region 03 frozen and stale at "
             "the centre")
    # and Prometheus is told why (deploy/prometheus: VigieRegionCutOff)
    assert bridge_metrics(http) == {"03": 1, "06": 0}

    # region 03's queue for the centre overflows (retries re-queue its
    # retained state) before the removal
    wait_for(lambda: "Outgoing messages are being dropped for client "
             "vigie-bridge-03" in regional["03"].logtext(), timeout=25,
             what="region 03's bridge queue past max_queued_messages")

    # Q4 leaves qc-1's configuration: the agent restarts and announces it
    qc1.stop()
    del qc1.units["Q4"]
    qc1.write()
    qc1.agent.start()
    truth.remove("rgt", "03", "qc-1", "Q4")
    wait_for(lambda: qc1.status()["link"]["connected"] and
             qc1.status()["outbox"]["removals"] == 0 and
             qc1.status()["outbox"]["unacked"] == 0, timeout=15,
             what="qc-1's removal acknowledged by its regional broker")
    qc1.mark(truth, "Q2", "retired")
    qc2.mark(truth, "R2", "migrated")
    mtl1.mark(truth, "M2", "migrating")
    # every unit of qc-3 changes too, all past the overflow: only the
    # replay at reconnection can carry them
    qc3 = sites["qc-3"]
    for i, unit in enumerate(qc3.units):
        qc3.mark(truth, unit, first[1 + i % 2])

    # the cut lasts CUT_S (at least: its steps may take longer on a
    # loaded machine), by definition
    time.sleep(max(0.0, CUT_S - (time.monotonic() - t_cut)))
    links["03"].restore()

    # ---- after the cut
    wait_for(lambda: centre.bridge("03") == b"1", timeout=20,
             what="region 03's bridge back at the centre")
    wait_for(lambda: bridge_metrics(http) == {"03": 0, "06": 0},
             timeout=20, what="vigie_bridge_down back at 0")
    centre.wait_truth(truth, ("03", "06"), timeout=30)
    s = centre.summaries()[("rgt", "03")]
    rgt03 = [k for k in truth.units if k[:2] == ("rgt", "03")]
    assert ("rgt", "03", "qc-1", "Q4") not in rgt03 and len(rgt03) == 3
    assert sum(s["counts"].values()) == 3 and s["eligible"] == 3, \
        f"the removed unit Q4 is still counted: {s['counts']}"

    # the receipts came back over the bridge: every agent knows the NOC
    # has every one of its units
    for site in sites.values():
        wait_for(lambda: (lambda st: st["counts"]["delivery"]["noc"] ==
                          st["counts"]["units"] == len(site.units))(
                              site.status()), timeout=20,
                 what=f"{site.id}: the NOC's receipt for every unit")

    # nothing looped: the centre sent a bridge nothing but receipts and
    # took none from it; no bridge brought a unit or presence into its
    # region.  (The bridge's client has the same name on both brokers:
    # "Sending PUBLISH to" it at the centre is the in direction, "Received
    # PUBLISH from" it at a regional broker too.)
    clog = central.logtext()
    for r in ("03", "06"):
        assert not re.search(rf"Sending PUBLISH to vigie-bridge-{r} "
                             r"\([^)]*'vigie/v1/(unit|agent|bridge)/", clog), r
        assert not re.search(rf"Received PUBLISH from vigie-bridge-{r} "
                             r"\([^)]*'vigie/v1/receipt/", clog), r
        assert not re.search(rf"Received PUBLISH from vigie-bridge-{r} "
                             r"\([^)]*'vigie/v1/(unit|agent)/",
                             regional[r].logtext()), r
        # the bridge's account: no refusal at the centre
        assert f"Denied PUBLISH from vigie-bridge-{r}" not in clog, r
    assert re.search(r"Received PUBLISH from vigie-bridge-03 "
                     r"\([^)]*'vigie/v1/receipt/qc-1'", regional["03"].logtext())
    # the gateway refused nothing the bridges carried, but maybe an older
    # copy of a status from a replay (stale_seq)
    bad = [line for line in gw.logtext().splitlines()
           if "rejected " in line and not line.rstrip().endswith(": stale_seq")]
    assert not bad, "\n".join(bad[:10])
