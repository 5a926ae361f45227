"""Vigie on a 3-node NATS JetStream cluster (deploy/nats/, Debian 12's
nats-server 2.9), credentials and rights from tools/vigie-pki: the
retained state outlives a node's kill -9, the real gateway and agent work
against it, the per-site rights hold, and what NATS does differently from
mosquitto (docs/scale-out.md) is pinned down.  Each test has its own
cluster in its own tmp dir; every wait is bounded.
"""
import json
import os
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import nats_kit as nk  # noqa: E402
from nats_kit import close, connect, retained, wait_for  # noqa: E402
from agent_kit import Agent, Sim  # noqa: E402
from vigie import Gateway, Truth, comparable  # noqa: E402

FY = 2024
# lav.7: a site id NATS cannot carry in a topic
SITES = ["mtl-042 06", "qc-1 03", "lav.7 13"]

if not os.access(nk.NATS, os.X_OK):
    # no silent skip: make check installs it (tests/cluster/cluster.mk)
    raise RuntimeError(f"{nk.NATS} missing: apt-get install nats-server")


@pytest.fixture
def cluster(tmp_path):
    pki = nk.make_pki(tmp_path, SITES)
    c = nk.Cluster(tmp_path, pki)
    try:
        c.start(timeout=90)
        yield c
    finally:
        c.stop()


@pytest.fixture
def procs():
    started = []
    yield started
    for p in reversed(started):
        p.stop()


def publish(c, topic, payload, retain=True, qos=1):
    """Whether the PUBACK came (False when the node cut the connection:
    it does so while its session stream's leader is being elected)."""
    info = c.publish(topic, payload, qos=qos, retain=retain)
    try:
        info.wait_for_publish(timeout=10)
    except (RuntimeError, ValueError):
        return False
    return info.is_published()


def site_publish(cluster, node, site, msgs):
    """Publish as `site` (QoS 1, retained): the PUBACKs, or None when the
    node did not take the connection."""
    c = connect(cluster, node, site, client_id=site)
    if c is None:
        return None
    try:
        return [publish(c, t, p) for t, p in msgs]
    finally:
        close(c)


def unit(program, region, site, uid, state, seq):
    return (f"vigie/v1/unit/{program}/{region}/{site}/{uid}",
            json.dumps({"v": 1, "program": program, "region": region,
                        "site": site, "unit": uid, "state": state,
                        "seq": seq, "ts": "2026-11-22T18:00:00Z"}))


def test_retained_state_outlives_a_node_killed(cluster):
    n1, n2, n3 = cluster.nodes
    t, p = unit("renir", "03", "qc-1", "u1", "migrated", 1)
    assert site_publish(cluster, n1, "qc-1", [(t, p)]) == [True]
    # published on node 1, read on node 3
    wait_for(lambda: (retained(cluster, n3, t, user="vigie-gateway") or {})
             .get(t) == p.encode(), 20, what="the retained unit on nats-3")
    n1.kill9()
    # Read at QoS 0: the node's own copy of the retained messages.  A
    # CONNECT may time out while the session stream's leader is
    # re-elected: retry, bounded.  (A QoS 1 subscription is a replicated
    # consumer, and while a node is down its creation often outlasts
    # NATS's 4 s internal timeout: SUBACK 0x80, docs/scale-out.md.)
    def read(node, topic_filter):
        return retained(cluster, node, topic_filter, user="vigie-gateway",
                        qos=0) or {}
    for node in (n3, n2):
        wait_for(lambda: read(node, t).get(t) == p.encode(), 60,
                 interval=0.5,
                 what=f"the retained unit on nats-{node.k} without nats-1")
    # and the survivors still take new retained state, and its removal
    # (an empty retained payload removes a unit, docs/protocol.md).  While
    # the retained stream's leader is being elected, a node acknowledges a
    # retained publish whose storing timed out ("unable to store retained
    # message", docs/scale-out.md): it is delivered, not retained.  Send
    # again until it is retained, as an agent does when it reconnects.
    t2, p2 = unit("renir", "03", "qc-1", "u2", "pending", 2)
    seen, sent = [], []

    def stored():
        if site_publish(cluster, n2, "qc-1", [(t2, p2), (t, "")]) \
                == [True, True]:
            sent.append(1)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                seen[:] = [read(n3, "vigie/v1/unit/#")]
                if seen[0] == {t2: p2.encode()}:
                    return True
        return False
    try:
        wait_for(stored, 90, interval=0.5,
                 what="the new unit alone on nats-3")
    except TimeoutError:
        raise AssertionError(f"retained on nats-3: {seen}, {len(sent)} "
                             "acknowledged sends\n" + n2.logtail(3000))
    if len(sent) > 1:
        print(f"nats-2 acknowledged {len(sent) - 1} retained send(s) it "
              "did not retain")


def test_wills_and_a_node_s_death(cluster):
    """A client cut off is announced by its will, on every node; but the
    wills of the clients of a node that dies die with it: nobody
    publishes them (with mosquitto, the broker's death stopped everything
    anyway).  An agent that cannot reach another node stays "online" in
    the gateway's eyes (docs/scale-out.md)."""
    n1, n2, n3 = cluster.nodes
    gw = Watch(cluster, n3, "vigie-gateway", ["vigie/v1/agent/#"])
    offline = '{"v":1,"site":"%s","region":"%s","online":false}'
    cut = connect(cluster, n2, "qc-1", client_id="qc-1",
                  will=("vigie/v1/agent/qc-1", offline % ("qc-1", "03"), 1,
                        True))
    lost = connect(cluster, n1, "mtl-042", client_id="mtl-042",
                   will=("vigie/v1/agent/mtl-042", offline % ("mtl-042", "06"),
                         1, True))
    for c in (cut, lost):
        c.reconnect_delay_set(120, 120)
    cut.socket().shutdown(2)        # no DISCONNECT: the will goes out
    wait_for(lambda: "vigie/v1/agent/qc-1" in gw.topics(), 20,
             what="qc-1's will")
    n1.kill9()                      # mtl-042's node
    # the watcher's consumer outlives node 1 (a birth through node 2
    # reaches it); no will of mtl-042 came before it
    birth = '{"v":1,"site":"qc-1","region":"03","online":true}'
    wait_for(lambda: site_publish(cluster, n2, "qc-1",
                                  [("vigie/v1/agent/qc-1", birth)])
             == [True], 45, interval=0.5, what="a birth through nats-2")
    wait_for(lambda: ("vigie/v1/agent/qc-1", birth.encode()) in gw.msgs,
             45, what="the birth on nats-3")
    time.sleep(1)
    assert "vigie/v1/agent/mtl-042" not in gw.topics(), gw.msgs
    for c in (cut, lost):
        c.loop_stop()
    gw.close()


def agent_config(tmp_path, cluster, node, site, region, sim, units):
    """A real agent's config for `site`, TLS and its vigie-pki password,
    against one node; units: {id: (program, address)}."""
    pki = cluster.pki
    lines = ["[site]", f"id = {site}", f"region = {region}", "",
             "[broker]", "host = 127.0.0.1", f"port = {node.mqtt_port}",
             f"username = {site}",
             f"password_file = {pki}/sites/{site}.password",
             f"ca_file = {pki}/ca.crt", "keepalive = 10", "",
             "[agent]", f"data_dir = {tmp_path}/data", "log_level = debug",
             "", "[device plc]", f"tcp = 127.0.0.1:{sim.port}", "slave = 1",
             "poll_interval_ms = 200", "response_timeout_ms = 300",
             "retries = 1", ""]
    for uid, (program, address) in units.items():
        lines += [f"[unit {uid}]", f"program = {program}", "device = plc",
                  f"address = {address}", ""]
    path = tmp_path / "agent.conf"
    path.write_text("\n".join(lines))
    return str(path)


def truth_problems(cluster, node, truth, regions):
    got = nk.summaries(cluster, node)
    problems = []
    for prog in ("renir", "rgt"):
        for reg in regions + ["all"]:
            have = got.get((prog, reg))
            if have is None:
                problems.append(f"{prog}/{reg}: no summary")
                continue
            have = comparable(have)
            for k, v in truth.summary(prog, reg, FY).items():
                if have.get(k) != v:
                    problems.append(f"{prog}/{reg} {k}: {have.get(k)!r} "
                                    f"!= {v!r}")
    return problems


def wait_truth(cluster, node, truth, regions, timeout=30):
    last = []

    def ok():
        last[:] = truth_problems(cluster, node, truth, regions)
        return not last
    try:
        wait_for(ok, timeout, interval=0.5, what="summaries")
    except TimeoutError:
        raise AssertionError("summaries differ from the truth:\n  " +
                             "\n  ".join(last[:20]))


def test_gateway_and_agent_on_node_1(cluster, tmp_path, procs):
    """The real gateway and a real agent on node 1, with vigie-pki's
    accounts: the agent falls back to MQTT 3.1.1 by itself (NATS 2.9
    refuses 5), its units and the summaries are right, read on node 3."""
    n1, _, n3 = cluster.nodes
    pki = cluster.pki
    gw = Gateway(tmp_path, n1.mqtt_port, extra=[
        "--broker-kind", "nats",
        "--username", "vigie-gateway", "--password-file",
        f"{pki}/vigie-gateway.password", "--cafile", f"{pki}/ca.crt",
        "--inventory", f"{pki}/sites.map"])
    procs.append(gw)
    gw.start()
    sim = Sim(slaves="1")
    procs.append(sim)
    agent = Agent(agent_config(tmp_path, cluster, n1, "qc-1", "03", sim,
                               {"U1": ("renir", 10), "U2": ("renir", 11),
                                "L1": ("rgt", 12)}), tmp_path)
    procs.append(agent)
    agent.start()
    truth = Truth()
    for uid, prog in (("U1", "renir"), ("U2", "renir"), ("L1", "rgt")):
        truth.set(prog, "03", "qc-1", uid, "pending")
    wait_truth(cluster, n3, truth, ["03"])
    sim.cmd("set 1 10 2")   # U1 migrated
    sim.cmd("set 1 12 1")   # L1 migrating
    truth.set("renir", "03", "qc-1", "U1", "migrated")
    truth.set("rgt", "03", "qc-1", "L1", "migrating")
    wait_truth(cluster, n3, truth, ["03"])
    st = agent.status()
    assert st["link"]["connected"] and st["link"]["mqtt"] == "3.1.1", st
    log = open(tmp_path / "agent.log").read()
    assert "the broker refuses MQTT 5; falling back to MQTT 3.1.1" in log
    # the gateway's receipt comes back to the agent (its own QoS 1
    # subscription): the NOC has every record the agent sent
    units = nk.retained(cluster, n3, "vigie/v1/unit/#", user="vigie-gateway")
    top = max(json.loads(p)["seq"] for p in units.values() if p)

    def receipt():
        noc = (agent.status() or {}).get("noc") or {}
        return noc.get("receipt") and noc["seq"] >= top
    wait_for(receipt, 20, what=f"a receipt for seq {top}")
    assert "rejected" not in gw.logtext()


class Watch:
    """A live subscriber with `user`'s rights on `node`."""

    def __init__(self, cluster, node, user, filters):
        self.msgs = []
        self.granted = []
        self.c = connect(cluster, node, user,
                         on_message=lambda _c, _u, m: self.msgs.append(
                             (m.topic, m.payload)))
        assert self.c is not None, f"{user} could not connect"
        self.c.on_subscribe = lambda _c, _u, _m, g: self.granted.extend(g)
        self.c.subscribe([(f, 1) for f in filters])
        wait_for(lambda: len(self.granted) == len(filters), 30,
                 what=f"{user}'s SUBACK")

    def topics(self):
        return {t for t, _ in self.msgs}

    def close(self):
        close(self.c)


def test_a_site_writes_only_its_own_units_in_its_own_region(cluster):
    """vigie-pki's rights on NATS: qc-1 (region 03) cannot write mtl-042's
    topics, its own site in another region, summaries or receipts, nor
    read anything but its receipt; the dashboard writes nothing.  As on
    mosquitto with MQTT 3.1.1, a refused publish is acknowledged all the
    same (the node logs a Publish Violation)."""
    n1, n2, n3 = cluster.nodes
    gw = Watch(cluster, n2, "vigie-gateway",
               ["vigie/v1/unit/#", "vigie/v1/agent/#"])
    dash = Watch(cluster, n3, "vigie-dashboard", ["vigie/v1/summary/#"])
    victim = Watch(cluster, n3, "mtl-042", ["vigie/v1/receipt/mtl-042"])
    assert gw.granted == [1, 1] and dash.granted == [1]
    assert victim.granted == [1]
    own = unit("renir", "03", "qc-1", "u1", "migrated", 1)
    forged = [unit("renir", "06", "mtl-042", "u1", "pending", 99),
              unit("renir", "06", "qc-1", "u9", "migrated", 5),
              ("vigie/v1/agent/mtl-042",
               '{"v":1,"site":"mtl-042","region":"06","online":false}'),
              ("vigie/v1/summary/renir/06", "{}"),
              ("vigie/v1/receipt/mtl-042",
               '{"v":1,"site":"mtl-042","seq":1}')]
    acked = site_publish(cluster, n1, "qc-1", forged + [own])
    assert acked == [True] * 6   # refusals look delivered
    wait_for(lambda: own[0] in gw.topics(), 20, what="qc-1's own unit")
    dash_pub = connect(cluster, n1, "vigie-dashboard")
    assert [publish(dash_pub, t, p) for t, p in
            [("vigie/v1/summary/renir/03", '{"v":1,"forged":true}'),
             unit("renir", "03", "vigie-dashboard", "u1", "migrated", 1)]]
    close(dash_pub)
    # what qc-1 may read: its receipt; nothing else, not even by wildcard
    spy = Watch(cluster, n1, "qc-1",
                ["vigie/v1/#", "vigie/v1/unit/renir/06/mtl-042/u1",
                 "vigie/v1/receipt/qc-1"])
    assert spy.granted == [0x80, 0x80, 1]
    time.sleep(1.0)   # give a forged message time to show up
    assert gw.topics() == {own[0]}, gw.msgs
    assert dash.msgs == [] and victim.msgs == [] and spy.msgs == []
    for w in (gw, dash, victim, spy):
        w.close()
    log = "".join(n.logtail(200000) for n in cluster.nodes)
    assert log.count('Publish Violation - User "qc-1"') == 5
    assert log.count('Publish Violation - User "vigie-dashboard"') == 2


def test_client_id_is_not_bound_to_the_user(cluster):
    """NATS 2.9 has no use_username_as_clientid (CVE-2026-33215, fixed in
    2.11.15 and 2.12.6): any credential of the account takes over a
    client id, cluster-wide, and the victim's will is dropped.  What Vigie
    keeps (docs/scale-out.md): every client uses a clean session, so the
    taker inherits no subscription and reads nothing of the victim's."""
    n1, n2, n3 = cluster.nodes
    gone = []
    victim = connect(cluster, n1, "vigie-gateway", client_id="vigie-gateway",
                     will=("vigie/v1/gateway/central",
                           '{"v":1,"online":false}', 1, True))
    assert victim is not None
    victim.reconnect_delay_set(120, 120)   # stay down once kicked off
    victim.on_disconnect = lambda *_a: gone.append(time.monotonic())
    sub = []
    victim.on_subscribe = lambda *_a: sub.append(1)
    victim.subscribe("vigie/v1/unit/#", 1)
    wait_for(lambda: sub, 30, what="the victim's SUBACK")
    dash = Watch(cluster, n3, "vigie-dashboard", ["vigie/v1/gateway/#"])
    taker = connect(cluster, n2, "qc-1", client_id="vigie-gateway",
                    clean=False)
    assert taker is not None, "the takeover was refused: update the docs"
    wait_for(lambda: gone, 20, what="the victim kicked off")
    own = unit("renir", "06", "mtl-042", "u1", "migrated", 1)
    watch = Watch(cluster, n3, "vigie-gateway", ["vigie/v1/unit/#"])
    taken = []
    taker.on_message = lambda _c, _u, m: taken.append(m.topic)
    site_publish(cluster, n1, "mtl-042", [own])
    wait_for(lambda: own[0] in watch.topics(), 20, what="the unit")
    time.sleep(0.5)
    assert taken == []          # no subscription inherited
    assert dash.msgs == []      # and the victim's will was dropped
    for c in (victim, taker):
        close(c)
    watch.close()
    dash.close()


def test_what_nats_refuses_that_mosquitto_takes(cluster):
    """A '.' in a topic (legal in Vigie's ids) and a QoS 2 publish: NATS
    2.9 closes the connection, with no PUBACK; the client reconnects and
    sends it again, forever.  Hence no '.' in site or unit ids on NATS
    (vigie-pki leaves such a site out of nats-accounts.conf)."""
    n1 = cluster.nodes[0]
    for topic, qos in (("vigie/v1/unit/renir/03/qc-1/u.1", 1),
                       ("vigie/v1/unit/renir/03/qc-1/u1", 2)):
        c = connect(cluster, n1, "qc-1")
        c.reconnect_delay_set(120, 120)
        dropped = []
        c.on_disconnect = lambda _c, _u, rc: dropped.append(rc)
        info = c.publish(topic, "{}", qos=qos, retain=True)
        wait_for(lambda: dropped, 20, what=f"{topic} QoS {qos} cut off")
        assert not info.is_published() and dropped[0] != 0
        c.loop_stop()
    log = n1.logtail(100000)
    assert "characters ' ' and '.' not supported for MQTT topics" in log
    assert "publish QoS=2 not supported" in log
    with open(os.path.join(cluster.pki, "nats-accounts.conf")) as f:
        accounts = f.read()
    assert '"qc-1"' in accounts and '"lav.7"' not in accounts


def test_a_replay_bigger_than_max_pending_cuts_the_subscriber(tmp_path):
    """The retained messages matching a new subscription are written to
    the connection at once; past max_pending the node drops the client
    as a slow consumer, every time it comes back.  deploy/nats/ sets
    max_pending for the gateway's whole replay (about 400 bytes a unit);
    here 64 KB against about 100 KB of retained units."""
    pki = nk.make_pki(tmp_path, SITES)
    c = nk.Cluster(tmp_path, pki,
                   extra="max_pending: 64KB\nmax_payload: 32KB\n")
    try:
        c.start(timeout=90)
        n1 = c.nodes[0]
        site = connect(c, n1, "qc-1")
        infos = [site.publish(unit("renir", "03", "qc-1", f"u{i}", "pending",
                                   i)[0], "x" * 300, qos=1, retain=True)
                 for i in range(300)]
        for i in infos:
            i.wait_for_publish(timeout=30)
        close(site)
        got, dropped = [], []
        gw = connect(c, n1, "vigie-gateway",
                     on_message=lambda *_a: got.append(1))
        gw.reconnect_delay_set(120, 120)
        gw.on_disconnect = lambda _c, _u, rc: dropped.append(rc)
        gw.subscribe("vigie/v1/unit/#", 1)
        wait_for(lambda: dropped, 30, what="the subscriber cut off")
        gw.loop_stop()
        assert len(got) < 300
        assert "Slow Consumer Detected: MaxPending of 65536 Exceeded" in \
            n1.logtail(100000)
    finally:
        c.stop()


def test_a_site_certificate_cannot_join_the_cluster(cluster, tmp_path):
    """Routes are mutual TLS, and a peer must hold a certificate naming
    one of the routes: a node started with qc-1's certificate (same CA)
    is turned away, while the three nodes keep their two routes each."""
    n1 = cluster.nodes[0]
    pki = cluster.pki
    port, cport = nk.free_ports(2)
    conf = tmp_path / "intruder.conf"
    conf.write_text(
        f"server_name: intruder\nlisten: 127.0.0.1:{port}\n"
        f"log_file: {tmp_path}/intruder.log\n"
        "cluster {\n  name: vigie\n"
        f"  listen: 127.0.0.1:{cport}\n"
        "  tls {\n"
        f"    cert_file: {pki}/sites/qc-1.crt\n"
        f"    key_file: {pki}/sites/qc-1.key\n"
        f"    ca_file: {pki}/ca.crt\n    timeout: 5\n  }}\n"
        f"  routes: [ nats-route://localhost:{n1.cport} ]\n}}\n")
    intruder = nk.subprocess.Popen([nk.NATS, "-c", str(conf)],
                                   stdout=nk.subprocess.DEVNULL,
                                   stderr=nk.subprocess.DEVNULL)
    try:
        refused = "Router connection closed: Authentication Failure"
        wait_for(lambda: refused in n1.logtail(100000), 20,
                 what="nats-1 refusing the intruder")

        def routes(node):
            code, body = node.http("/routez")
            return json.loads(body)["num_routes"] if code == 200 else None
        assert [routes(n) for n in cluster.nodes] == [2, 2, 2]
    finally:
        intruder.kill()
        intruder.wait()


def test_gateway_reconnects_when_a_subscription_is_refused(
        cluster, tmp_path, procs):
    """NATS answers 0x80 to a subscription its rights refuse (and to QoS 1
    subscriptions while it elects leaders after a node died).  The gateway
    must not look synced while blind to units or presences: it asks for
    the refused filters again on the same connection (an election's
    refusals pass, and dropping the connection made NATS delete and
    create the session's consumers each time), after 1, 2, 4 and 8 s,
    then drops the connection and tries again, and never reports the
    replay whole.  A
    site's credential, which may not read the units, stands in for both
    (mosquitto's acl_file grants such a subscription and delivers
    nothing, so this is the broker that shows it)."""
    n1 = cluster.nodes[0]
    pki = cluster.pki
    gw = Gateway(tmp_path, n1.mqtt_port, extra=[
        "--username", "qc-1", "--password-file",
        f"{pki}/sites/qc-1.password", "--cafile", f"{pki}/ca.crt"])
    procs.append(gw)
    gw.start(wait=False)
    # asked again on the same connection 4 times (1, 2, 4, 8 s later),
    # then a new connection, twice
    wait_for(lambda: gw.logtext().count("times: reconnecting rather than "
                                        "missing messages") >= 2, 90,
             what="refused subscriptions, then two reconnections")
    log = gw.logtext()
    assert Gateway.READY not in log
    for ms in (1000, 2000, 4000, 8000):
        assert "vigie/v1/unit/# (reason 0x80): asking again in %d ms" % ms \
            in log, log
    # a refused connection is a failed one: the backoff grows (it used to
    # start again at 500 ms, the CONNECT having been accepted, so that a
    # gateway hammered the nodes while they elected leaders)
    log = gw.logtext()
    assert "retrying 127.0.0.1:%d in 1000 ms" % n1.mqtt_port in log, log
