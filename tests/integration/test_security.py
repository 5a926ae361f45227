"""Tests that try to get in, against a real mosquitto started with
deploy/mosquitto/vigie.conf and credentials made by tools/vigie-pki.
Each asserts the denial and that no summary changed."""
import importlib.util
import json
import os
import ssl
import subprocess
import threading
import time
from importlib.machinery import SourceFileLoader

import paho.mqtt.client as mqtt
import pytest

from conftest import MOSQUITTO, ROOT, free_port, wait_for, wait_port
from vigie import REGIONS, Gateway, comparable, unit_payload, unit_topic

_loader = SourceFileLoader("vigie_demo", os.path.join(ROOT, "tools",
                                                       "vigie-demo"))
_spec = importlib.util.spec_from_loader("vigie_demo", _loader)
demo = importlib.util.module_from_spec(_spec)
_loader.exec_module(demo)

FY = 2024
SITES = "mtl-042 06\nqc-1 03\n"
# every summary the gateway publishes (it publishes them all at start)
ALL_SUMMARIES = frozenset((p, r) for p in ("renir", "rgt")
                          for r in REGIONS + ["all"])


def make_pki(tmp, name="pki"):
    out = tmp / name
    sites = tmp / "sites.txt"
    sites.write_text(SITES)
    subprocess.run([os.path.join(ROOT, "tools", "vigie-pki"), str(out),
                    str(sites), "localhost"], check=True,
                   capture_output=True)
    return out


class SecureBroker:
    """The deploy/ configuration with its paths and ports made local (the
    same rewrite `make demo DEMO_ARGS=--secure` uses): every directive
    about who may do what is kept as it is."""

    def __init__(self, tmp, pki):
        self.ports = {p: free_port() for p in (1883, 8883, 8884, 8885)}
        conf = demo.secure_broker_conf(str(tmp), str(pki), self.ports)
        self.proc = subprocess.Popen([MOSQUITTO, "-c", conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        for port in self.ports.values():
            wait_port(port)
        self.pki = pki

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def secure(tmp_path):
    pki = make_pki(tmp_path)
    b = SecureBroker(tmp_path, pki)
    yield b
    b.stop()


def password(pki, user):
    p = pki / "sites" / f"{user}.password"
    return (p if p.exists() else pki / f"{user}.password").read_text().strip()


def connect(port, user=None, pw=None, tls=None, cert=None):
    """Connect and return the CONNACK code, or the exception raised."""
    got = {}
    c = mqtt.Client(clean_session=True)
    if user:
        c.username_pw_set(user, pw)
    if tls:
        c.tls_set(ca_certs=str(tls), certfile=cert and str(cert[0]),
                  keyfile=cert and str(cert[1]), tls_version=ssl.PROTOCOL_TLSv1_2)
    c.on_connect = lambda _c, _u, _f, rc: got.setdefault("rc", rc)
    try:
        c.connect("localhost" if tls else "127.0.0.1", port, keepalive=10)
    except (ssl.SSLError, OSError) as e:
        return e
    c.loop_start()
    try:
        wait_for(lambda: "rc" in got, timeout=5, what="CONNACK")
    except TimeoutError as e:
        c.loop_stop()
        return e
    if got["rc"] != 0:
        c.loop_stop()
        return got["rc"]
    c.vigie_rc = 0
    return c


def site_client(secure, site):
    c = connect(secure.ports[8884], site, password(secure.pki, site),
                tls=secure.pki / "ca.crt")
    assert not isinstance(c, (int, Exception)), f"{site} could not connect: {c}"
    return c


def publish(c, topic, payload, retain=True):
    info = c.publish(topic, payload, qos=1, retain=retain)
    info.wait_for_publish(timeout=5)


def round_trip(c, topic):
    """Subscribe c to topic and wait for the SUBACK: the broker answers in
    order, so everything it queued to c before (messages routed to it)
    has reached c by then."""
    acked = threading.Event()
    c.on_subscribe = lambda *_a: acked.set()
    c.subscribe(topic, qos=1)
    assert acked.wait(10), f"no SUBACK for {topic}"


def watch(secure, user, topic):
    """A subscriber with `user`'s rights, subscribed (SUBACK in) when it
    returns; returns (client, received dict)."""
    got = {}
    c = connect(secure.ports[1883], user, password(secure.pki, user))
    assert not isinstance(c, (int, Exception)), c
    c.on_message = lambda _c, _u, m: got.__setitem__(m.topic, m.payload)
    round_trip(c, topic)
    return c, got


@pytest.fixture
def gw(tmp_path, secure):
    g = Gateway(tmp_path, secure.ports[1883],
                extra=["--username", "vigie-gateway", "--password-file",
                       str(secure.pki / "vigie-gateway.password")]).start()
    yield g
    g.stop()


def summaries_as(secure, user="vigie-dashboard", want=ALL_SUMMARIES):
    """The retained summaries `user` reads, {(program, region): summary},
    once every one of `want` has arrived: the broker sends all of them on
    subscribe, so no quiet period is needed to know the set is whole."""
    c, got = watch(secure, user, "vigie/v1/summary/#")
    keys = lambda: {tuple(t.split("/")[-2:]) for t, p in list(got.items())
                    if p}
    try:
        wait_for(lambda: want <= keys(), what=f"{user}'s summaries")
    finally:
        c.loop_stop()
        c.disconnect()
    return {tuple(t.split("/")[-2:]): comparable(json.loads(p))
            for t, p in got.items() if p}


def baseline(secure, gw):
    """Legitimate traffic from both sites, and the summaries it gives."""
    for site, region in (("mtl-042", "06"), ("qc-1", "03")):
        c = site_client(secure, site)
        publish(c, unit_topic("renir", region, site, "u1"),
                unit_payload("renir", region, site, "u1", "migrated", 1))
        c.loop_stop()
        c.disconnect()
    wait_for(lambda: summaries_as(secure)[("renir", "all")]["migrated"] == 2,
             what="both sites' units in the summaries")
    return summaries_as(secure)


def retire_marker(secure):
    """qc-1 adds a retired unit of its own, a legitimate change that only
    moves counts.retired of renir/03 and renir/all, and waits until
    renir/03 shows it.  Published after an attempt's PUBACKs, it reaches
    the gateway after whatever the attempt got through (broker and
    gateway handle messages in order), and the gateway publishes each
    pass's summaries province first: once renir/03 shows the marker,
    renir/all counts whatever the attempt could have moved."""
    before = summaries_as(secure)[("renir", "03")]["counts"]["retired"]
    c = site_client(secure, "qc-1")
    unit = f"mark-{time.time_ns()}"
    publish(c, unit_topic("renir", "03", "qc-1", unit),
            unit_payload("renir", "03", "qc-1", unit, "retired", 1))
    c.loop_stop()
    c.disconnect()
    wait_for(lambda: summaries_as(secure)[("renir", "03")]["counts"]
             ["retired"] == before + 1, what="the marker in renir/03")


def assert_unchanged_since(secure, before):
    """Whatever was tried since `before` moved no summary: after the
    marker, every summary equals `before` but for the marker itself."""
    retire_marker(secure)
    want = dict(before)
    for k in (("renir", "03"), ("renir", "all")):
        want[k] = dict(before[k], counts=dict(before[k]["counts"]))
        want[k]["counts"]["retired"] += 1
    assert summaries_as(secure) == want


def test_anonymous_is_refused_on_every_listener(secure):
    assert connect(secure.ports[1883]) != 0
    for port in (8884, 8885):
        r = connect(secure.ports[port], tls=secure.pki / "ca.crt")
        assert isinstance(r, (int, Exception)) and r != 0, port


def test_wrong_password_is_refused(secure):
    r = connect(secure.ports[1883], "qc-1", "not-the-password")
    assert isinstance(r, int) and r != 0


def test_agent_cannot_write_another_sites_topics(secure, gw):
    before = baseline(secure, gw)
    c = site_client(secure, "qc-1")
    publish(c, unit_topic("renir", "06", "mtl-042", "u1"),
            unit_payload("renir", "06", "mtl-042", "u1", "pending", 99))
    publish(c, "vigie/v1/agent/mtl-042",
            json.dumps({"v": 1, "site": "mtl-042", "region": "06",
                        "online": False}))
    publish(c, "vigie/v1/summary/renir/06", b"{}")
    c.loop_stop()
    c.disconnect()
    assert_unchanged_since(secure, before)
    assert "rejected" not in gw.logtext()  # the broker stopped it first


def test_agent_cannot_move_numbers_into_another_region(secure, gw):
    """vigie-pki's ACL pins each site's region: the broker drops the
    claim before the gateway (whose own binding is the second line,
    tested in tests/unit/test_gw_sites.c) ever sees it."""
    before = baseline(secure, gw)
    c = site_client(secure, "qc-1")  # qc-1 is in 03
    t = unit_topic("renir", "06", "qc-1", "u9")  # its own site, region 06
    publish(c, t, unit_payload("renir", "06", "qc-1", "u9", "migrated", 5))
    c.loop_stop()
    c.disconnect()
    assert_unchanged_since(secure, before)
    assert t not in gw.logtext()


def test_dashboard_user_cannot_publish(secure, gw):
    before = baseline(secure, gw)
    c = connect(secure.ports[1883], "vigie-dashboard",
                password(secure.pki, "vigie-dashboard"))
    publish(c, "vigie/v1/summary/renir/06", b'{"v":1,"forged":true}')
    publish(c, unit_topic("renir", "06", "mtl-042", "u2"),
            unit_payload("renir", "06", "mtl-042", "u2", "migrated", 1))
    c.loop_stop()
    c.disconnect()
    assert_unchanged_since(secure, before)


def test_certificate_from_another_ca_is_refused(tmp_path, secure):
    other = make_pki(tmp_path, "other")  # same names, different CA
    good = (secure.pki / "sites" / "qc-1.crt", secure.pki / "sites" / "qc-1.key")
    bad = (other / "sites" / "qc-1.crt", other / "sites" / "qc-1.key")
    ok = connect(secure.ports[8883], tls=secure.pki / "ca.crt", cert=good)
    assert not isinstance(ok, (int, Exception)), ok  # the real one works
    ok.loop_stop()
    ok.disconnect()
    r = connect(secure.ports[8883], tls=secure.pki / "ca.crt", cert=bad)
    assert isinstance(r, (int, Exception)) and r != 0


def run_agent(tmp_path, secure, ca, name):
    conf = tmp_path / f"{name}.conf"
    conf.write_text(
        "[site]\nid = qc-1\nregion = 03\n\n[broker]\nhost = localhost\n"
        f"port = {secure.ports[8884]}\nusername = qc-1\n"
        f"password = {password(secure.pki, 'qc-1')}\n"
        f"ca_file = {ca}\nkeepalive = 5\n\n"
        f"[agent]\ndata_dir = {tmp_path / name}\nlog_level = debug\n\n"
        "[unit m1]\nprogram = renir\nsource = manual\n")
    conf.chmod(0o600)  # it holds a password
    log = tmp_path / f"{name}.log"
    from agent_kit import AGENT
    with open(log, "wb") as lf:
        p = subprocess.Popen([AGENT, "-c", str(conf)], stdout=lf, stderr=lf)
    return p, log


def test_agent_refuses_a_broker_it_cannot_verify(tmp_path, secure):
    broker_log = tmp_path / "mosquitto.log"
    logins = lambda: broker_log.read_text(errors="replace").count("u'qc-1'")
    # control: with the right CA the same agent gets in
    p, _ = run_agent(tmp_path, secure, secure.pki / "ca.crt", "good")
    try:
        wait_for(lambda: logins() >= 1, timeout=60,
                 what="agent connected with right CA")
    finally:
        p.terminate()
        p.wait(10)
    before = logins()
    other = make_pki(tmp_path, "other")
    p, log = run_agent(tmp_path, secure, other / "ca.crt", "bad")
    try:
        # every reconnect attempt is refused: never a silent fallback
        wait_for(lambda: log.read_text(errors="replace").count("TLS error") >= 3,
                 timeout=60, what="three refused TLS handshakes")
    finally:
        p.terminate()
        p.wait(10)
    assert logins() == before, "the agent must never log in"


def test_agent_wildcard_subscription_sees_nothing(secure, gw):
    baseline(secure, gw)
    c, got = watch(secure, "qc-1", "#")
    receipt = "vigie/v1/receipt/mtl-042"
    rc, receipts = watch(secure, "mtl-042", receipt)
    other = site_client(secure, "mtl-042")
    publish(other, unit_topic("renir", "06", "mtl-042", "u3"),
            unit_payload("renir", "06", "mtl-042", "u3", "pending", 1))
    # what the gateway answers with: the summaries and mtl-042's receipt
    wait_for(lambda: summaries_as(secure)[("renir", "06")]["counts"]
             ["pending"] == 1, what="the unit in the summaries")
    wait_for(lambda: receipt in receipts and
             json.loads(receipts[receipt])["seq"] >= 1,
             what="mtl-042's receipt")
    rc.loop_stop()
    rc.disconnect()
    # all of it went through the broker before this SUBACK comes back
    round_trip(c, "vigie/v1/receipt/qc-1")
    c.loop_stop()
    c.disconnect()
    other.loop_stop()
    other.disconnect()
    # its own receipt (what the NOC has processed from it), nothing else
    assert set(got) <= {"vigie/v1/receipt/qc-1"}, f"an agent read {sorted(got)}"


def test_sites_file_binds_regions_before_first_sight(tmp_path, secure):
    """With vigie-pki's sites.map, even an agent's very first message
    cannot claim another region, and an unlisted site is refused."""
    g = Gateway(tmp_path, secure.ports[1883],
                extra=["--username", "vigie-gateway", "--password-file",
                       str(secure.pki / "vigie-gateway.password"),
                       "--sites", str(secure.pki / "sites.map")]).start()
    try:
        c = site_client(secure, "qc-1")  # listed in 03
        t = unit_topic("renir", "06", "qc-1", "u1")
        publish(c, t, unit_payload("renir", "06", "qc-1", "u1", "migrated", 1))
        c.loop_stop()
        c.disconnect()
        # a retired unit: counted, never eligible, published after the claim
        retire_marker(secure)
        got = summaries_as(secure)
        assert all(s["eligible"] == 0 for s in got.values()), got
    finally:
        g.stop()
