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
from nats_kit import close, connect, password, retained, wait_for  # noqa: E402
from agent_kit import Agent, Sim  # noqa: E402
from vigie import Gateway, Truth, comparable  # noqa: E402

FY = 2024
SITES = ["mtl-042 06", "qc-1 03"]

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
    info = c.publish(topic, payload, qos=qos, retain=retain)
    info.wait_for_publish(timeout=10)
    return info.is_published()


def site_publish(cluster, node, site, msgs):
    c = connect(cluster, node, site, client_id=site)
    assert c is not None, f"{site} could not connect to nats-{node.k}"
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
    # the stream leaders on node 1 are re-elected on 2 and 3; meanwhile a
    # CONNECT may time out: retry, bounded
    for node in (n3, n2):
        wait_for(lambda: (retained(cluster, node, t, user="vigie-gateway")
                          or {}).get(t) == p.encode(), 45, interval=0.5,
                 what=f"the retained unit on nats-{node.k} without nats-1")
    # and the survivors still take new retained state
    t2, p2 = unit("renir", "03", "qc-1", "u2", "pending", 2)
    wait_for(lambda: site_publish(cluster, n2, "qc-1", [(t2, p2)]) == [True],
             30, interval=0.5, what="a publish on nats-2")
    wait_for(lambda: (retained(cluster, n3, "vigie/v1/unit/#",
                               user="vigie-gateway") or {}).get(t2)
             == p2.encode(), 20, what="the new unit on nats-3")


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
