"""What one site's credential must not do to the NOC's picture, tried for
real against mosquitto running deploy/mosquitto/vigie.conf with the ACL
vigie-pki writes, and a real gateway: take another client's session, pass
a service account off as a site, invent units, freeze a unit or a site.
Each test asserts the attack failed and the summaries did not move."""
import json
import time

import paho.mqtt.client as mqtt
import pytest

from conftest import Broker, publish_all, wait_for
from test_security import (SecureBroker, assert_unchanged_since, baseline,
                           connect, make_pki, password, publish, round_trip,
                           site_client, summaries_as)
from vigie import Gateway, unit_payload, unit_topic

SEQ_MAX = 2**53 - 1


def now_ms():
    return int(time.time() * 1000)


def gateway(tmp_path, secure, *extra):
    return Gateway(tmp_path, secure.ports[1883],
                   extra=["--username", "vigie-gateway", "--password-file",
                          str(secure.pki / "vigie-gateway.password"),
                          *extra]).start()


@pytest.fixture
def secure(tmp_path):
    b = SecureBroker(tmp_path, make_pki(tmp_path))
    yield b
    b.stop()


def test_no_credential_takes_another_clients_session(tmp_path, secure):
    """Finding 1: qc-1's credential connecting with the gateway's or
    another site's client id used to kick them off, again and again."""
    g = gateway(tmp_path, secure)
    try:
        drops = []
        victim = mqtt.Client(client_id="mtl-042", clean_session=True)
        victim.username_pw_set("mtl-042", password(secure.pki, "mtl-042"))
        victim.tls_set(ca_certs=str(secure.pki / "ca.crt"))
        victim.on_disconnect = lambda *_a: drops.append(1)
        victim.connect("localhost", secure.ports[8884], keepalive=10)
        victim.loop_start()
        wait_for(victim.is_connected, what="victim connected")
        for cid in ("vigie-gateway", "vigie-gateway-central", "mtl-042",
                    "vigie-agent-mtl-042") * 2:
            c = mqtt.Client(client_id=cid, clean_session=True)
            c.username_pw_set("qc-1", password(secure.pki, "qc-1"))
            c.connect("127.0.0.1", secure.ports[1883], keepalive=10)
            c.loop_start()
            wait_for(c.is_connected, what=f"attacker as {cid}")
            c.loop_stop()
            c.disconnect()
        # Each attacker was connected (CONNACK in) before the next, so a
        # takeover had closed the victim's connection by then.  A round
        # trip on that connection (no SUBACK from a closed one), then a
        # unit through the gateway (a kicked gateway logs it before it
        # reconnects to receive anything) show that nothing was.
        round_trip(victim, "vigie/v1/receipt/mtl-042")
        publish(victim, unit_topic("renir", "06", "mtl-042", "u1"),
                unit_payload("renir", "06", "mtl-042", "u1", "pending", 1))
        wait_for(lambda: summaries_as(secure)[("renir", "06")]["counts"]
                 ["pending"] == 1, what="the victim's unit counted")
        assert drops == [], "the site's session was taken over"
        assert "lost the broker connection" not in g.logtext()
        victim.loop_stop()
        victim.disconnect()
    finally:
        g.stop()


def test_service_account_cannot_publish_units_under_its_own_name(
        tmp_path, secure):
    """Finding 2, at the broker: no pattern line lets the dashboard
    account write vigie/v1/unit/+/+/vigie-dashboard/+."""
    g = gateway(tmp_path, secure)
    try:
        before = baseline(secure, g)
        c = connect(secure.ports[1883], "vigie-dashboard",
                    password(secure.pki, "vigie-dashboard"))
        t = unit_topic("renir", "06", "vigie-dashboard", "u1")
        publish(c, t, unit_payload("renir", "06", "vigie-dashboard", "u1",
                                   "migrated", now_ms()))
        c.loop_stop()
        c.disconnect()
        assert_unchanged_since(secure, before)
        assert t not in g.logtext()  # the broker stopped it first
    finally:
        g.stop()


def test_gateway_refuses_units_from_a_service_name(tmp_path):
    """Finding 2, at the gateway: even a broker that lets it through (a
    mis-written ACL) does not get a vigie-* name counted as a site."""
    b = Broker(tmp_path)
    b.start()
    g = Gateway(tmp_path, b.port).start()
    try:
        t = unit_topic("renir", "06", "vigie-dashboard", "u1")
        publish_all(b.port, [(t, unit_payload(
            "renir", "06", "vigie-dashboard", "u1", "migrated", now_ms()),
            True)])
        wait_for(lambda: f"rejected {t}: not_site" in g.logtext(),
                 what="not_site rejection")
    finally:
        g.stop()
        b.stop()


def invent(secure, n, state="migrated"):
    """qc-1 publishes n made-up units of its own site, QoS 1."""
    c = site_client(secure, "qc-1")
    seq = now_ms()
    infos = [c.publish(unit_topic("renir", "03", "qc-1", f"fake-{i}"),
                       unit_payload("renir", "03", "qc-1", f"fake-{i}",
                                    state, seq + i), qos=1, retain=True)
             for i in range(n)]
    for i in infos:
        i.wait_for_publish(timeout=60)
    c.loop_stop()
    c.disconnect()


def renir_03(secure):
    return summaries_as(secure).get(("renir", "03"), {})


def test_invented_units_are_refused_by_the_inventory(tmp_path, secure):
    """Finding 3: 100,000 made-up units of one site showed its region at
    100 %.  With an inventory, only listed units count, and the listed
    ones that never reported count as unknown (eligible)."""
    inv = tmp_path / "inventory"
    inv.write_text("site mtl-042 06\nsite qc-1 03\n"
                   "unit qc-1 renir r1 r2 r3 r4\n")
    g = gateway(tmp_path, secure, "--inventory", str(inv))
    try:
        c = site_client(secure, "qc-1")
        publish(c, unit_topic("renir", "03", "qc-1", "r1"),
                unit_payload("renir", "03", "qc-1", "r1", "migrated",
                             now_ms()))
        c.loop_stop()
        c.disconnect()
        wait_for(lambda: renir_03(secure).get("migrated") == 1,
                 what="the real unit counted")
        invent(secure, 500)
        wait_for(lambda: g.logtext().count("unit_unknown") >= 1,
                 what="unit_unknown rejections")
        s = renir_03(secure)
        assert (s["eligible"], s["migrated"], s["counts"]["unknown"]) == \
            (4, 1, 3), s
        assert s["percent"] == 25.0
    finally:
        g.stop()


def test_invented_units_are_bounded_by_the_site_cap(tmp_path, secure):
    """Finding 3 without a unit list: the per-site cap bounds the damage
    (and the gateway's memory)."""
    g = gateway(tmp_path, secure, "--inventory",
                str(secure.pki / "sites.map"), "--site-cap", "50")
    try:
        invent(secure, 300)
        wait_for(lambda: renir_03(secure).get("eligible") == 50,
                 what="capped at 50")
        assert "unit_unknown" in g.logtext()
    finally:
        g.stop()


def test_a_future_seq_cannot_freeze_a_unit(tmp_path, secure):
    """Finding 4: seq = 2^53-1 froze a unit for good, across restarts."""
    g = gateway(tmp_path, secure)
    c = site_client(secure, "qc-1")
    try:
        t = unit_topic("renir", "03", "qc-1", "u1")
        publish(c, t, unit_payload("renir", "03", "qc-1", "u1", "migrated",
                                   SEQ_MAX))
        wait_for(lambda: f"rejected {t}: future" in g.logtext(),
                 what="future seq refused")
        publish(c, t, unit_payload("renir", "03", "qc-1", "u1", "pending",
                                   now_ms()))
        wait_for(lambda: renir_03(secure).get("counts", {}).get("pending")
                 == 1, what="the real agent's update applied")
        g.stop()
        g = gateway(tmp_path, secure)  # replays the retained state
        publish(c, t, unit_payload("renir", "03", "qc-1", "u1", "migrating",
                                   now_ms()))
        wait_for(lambda: renir_03(secure).get("counts", {}).get("migrating")
                 == 1, what="still updatable after a restart")
    finally:
        c.loop_stop()
        c.disconnect()
        g.stop()


def test_a_future_presence_cannot_freeze_a_site(tmp_path, secure):
    g = gateway(tmp_path, secure)
    c = site_client(secure, "qc-1")
    try:
        t = "vigie/v1/agent/qc-1"
        frozen = {"v": 1, "site": "qc-1", "region": "03", "online": True,
                  "session": SEQ_MAX, "ts": "2026-11-22T18:00:00Z"}
        publish(c, t, json.dumps(frozen))
        wait_for(lambda: g.logtext().count(f"rejected {t}: future") >= 1,
                 what="future session refused")
        frozen.update(session=now_ms(), ts="2099-01-01T00:00:00Z")
        publish(c, t, json.dumps(frozen))
        wait_for(lambda: g.logtext().count(f"rejected {t}: future") >= 2,
                 what="future ts refused")
    finally:
        c.loop_stop()
        c.disconnect()
        g.stop()


def test_inventory_written_from_agent_configs(tmp_path):
    """tools/vigie-inventory turns the agents' configs into the inventory
    the gateway holds the denominator to: listed units that never
    reported count as unknown, and a bad config names its file."""
    import os
    import subprocess
    from conftest import ROOT, summaries
    confs = []
    for site, region, units in (("lav-1", "13", ("a", "b", "c")),
                                ("gas-2", "11", ("x",))):
        p = tmp_path / f"{site}.conf"
        p.write_text(f"[site]\nid = {site}\nregion = {region}\n\n"
                     + "".join(f"[unit {u}]\nprogram = renir\n"
                               "source = manual\n\n" for u in units))
        confs.append(str(p))
    tool = os.path.join(ROOT, "tools", "vigie-inventory")
    inv = tmp_path / "inventory"
    with open(inv, "w") as f:
        subprocess.run([tool, *confs], stdout=f, check=True)
    b = Broker(tmp_path)
    b.start()
    g = Gateway(tmp_path, b.port, extra=["--inventory", str(inv)]).start()
    try:
        s = wait_for(lambda: summaries(b.port).get(("renir", "13")),
                     what="renir/13 summary")
        assert (s["eligible"], s["counts"]["unknown"]) == (3, 3)
        assert summaries(b.port)[("renir", "all")]["eligible"] == 4
    finally:
        g.stop()
        b.stop()
    bad = tmp_path / "bad.conf"
    bad.write_text("[site]\nid = x\nregion = 99\n")
    r = subprocess.run([tool, str(bad)], capture_output=True, text=True)
    assert r.returncode == 1 and f"{bad}: [site] region" in r.stderr


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_gateway_files_are_private(tmp_path, umask):
    """Finding 10: run by hand (umask 022), the gateway made vigie.db
    world-readable; an MQTT --key at 0644 was accepted."""
    import os
    import stat
    import subprocess
    from conftest import BUILD
    b = Broker(tmp_path)
    b.start()
    g = Gateway(tmp_path, b.port)
    old = os.umask(umask)
    try:
        g.start()
    finally:
        os.umask(old)
    try:
        mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
        assert mode(g.data) == 0o750
        for name in os.listdir(g.data):
            assert mode(os.path.join(g.data, name)) & 0o027 == 0, name
        assert mode(os.path.join(g.data, "vigie.db")) == 0o640
    finally:
        g.stop()
        b.stop()
    key = tmp_path / "client.key"
    key.write_text("not really a key\n")
    key.chmod(0o644)
    r = subprocess.run([os.path.join(BUILD, "vigie-gateway"), "--cafile",
                        str(key), "--cert", str(key), "--key", str(key)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "--key" in r.stderr and "chmod" in r.stderr
