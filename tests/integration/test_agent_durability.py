"""Nothing is lost: kill -9 of the agent between a write and its
acknowledgement, the broker down for a while, a reload by SIGHUP."""
import json
import signal


from conftest import retained, wait_for
from agent_kit import (Agent, Sim, Watcher, state_of, unit_states,
                       write_config)


def site(tmp_path, broker, sim, extra_units=None):
    units = {"U1": {"program": "renir", "device": "plc", "address": 1},
             "U2": {"program": "renir", "device": "plc", "address": 2},
             "M1": {"program": "rgt", "source": "manual"},
             "M2": {"program": "rgt", "source": "manual"}}
    units.update(extra_units or {})
    return write_config(tmp_path, broker.port,
                        {"plc": {"tcp": f"127.0.0.1:{sim.port}",
                                 "poll_interval_ms": 200,
                                 "response_timeout_ms": 300}}, units)



def status_shows(agent, *needles):
    rc, out, _ = agent.ctl("status", "--all")
    return rc == 0 and all(any(all(n in line for n in needle.split("&"))
                               for line in out.splitlines())
                           for needle in needles)


def test_kill9_before_ack_loses_nothing(broker, tmp_path, procs):
    sim = Sim(slaves="1")
    procs.append(sim)
    agent = Agent(site(tmp_path, broker, sim), tmp_path)
    procs.append(agent)
    agent.start()
    wait_for(lambda: unit_states(broker.port).get("U1", {}).get("state")
             == "pending", what="first birth")
    broker.stop()
    sim.cmd("set 1 1 2")
    rc, out, err = agent.ctl("mark", "M1", "migrated", "--tech", "T-12",
                             "--note", "radio swapped")
    assert rc == 0, err
    rc, _, err = agent.ctl("mark", "M2", "retired", "--tech", "T-12")
    assert rc == 0, err
    wait_for(lambda: status_shows(agent, "U1&migrated&unacked"),
             what="U1 change recorded")
    agent.stop(signal.SIGKILL)
    sim.stop()  # the device is gone too: only the store knows U1 now
    agent.start()
    assert status_shows(agent, "M1&migrated&manual", "U1&migrated")
    broker.start()
    wait_for(lambda: status_shows(agent, "0 record(s) awaiting"),
             timeout=40, what="outbox drained")
    st = unit_states(broker.port)
    assert st["U1"]["state"] == "migrated"
    assert st["U2"]["state"] == "pending"
    assert st["M1"]["state"] == "migrated"
    assert st["M1"]["source"] == "manual" and st["M1"]["tech"] == "T-12"
    assert st["M2"]["state"] == "retired"


def test_broker_outage_delivers_latest_state(broker, tmp_path, procs):
    sim = Sim(slaves="1")
    procs.append(sim)
    agent = Agent(site(tmp_path, broker, sim), tmp_path)
    procs.append(agent)
    agent.start()
    wait_for(lambda: len(unit_states(broker.port)) == 4,
             what="first birth")
    broker.stop()
    for v in (1, 2, 3, 0, 2):
        sim.cmd(f"set 1 1 {v}")
        sim.cmd(f"set 1 2 {3 - v if v <= 3 else 0}")
        wait_for(lambda: status_shows(
            agent, f"U1&{['pending', 'migrating', 'migrated', 'retired'][v]}"),
            what=f"U1 read as {v}")
    rc, _, _ = agent.ctl("mark", "M1", "migrating", "--tech", "T-1")
    assert rc == 0
    rc, _, _ = agent.ctl("mark", "M1", "migrated", "--tech", "T-2")
    assert rc == 0
    broker.start()
    wait_for(lambda: status_shows(agent, "0 record(s) awaiting"),
             timeout=40, what="outbox drained")
    st = unit_states(broker.port)
    assert st["U1"]["state"] == "migrated"
    assert st["U2"]["state"] == "migrating"
    assert st["M1"]["state"] == "migrated" and st["M1"]["tech"] == "T-2"
    assert st["M2"]["state"] == "unknown"
    presence = retained(broker.port, "vigie/v1/agent/#")
    assert json.loads(presence["vigie/v1/agent/site-t"])["online"] is True


def test_will_and_sighup_reload(broker, tmp_path, procs):
    sim = Sim(slaves="1")
    procs.append(sim)
    conf = site(tmp_path, broker, sim)
    agent = Agent(conf, tmp_path)
    procs.append(agent)
    agent.start()
    w = Watcher(broker.port)
    try:
        wait_for(lambda: state_of(w.msgs, "U1") == "pending",
                 what="U1 pending")
        # an invalid file is refused and the agent keeps running
        good = open(conf).read()
        with open(conf, "a") as f:
            f.write("[unit BAD]\nprogram = nope\n")
        agent.proc.send_signal(signal.SIGHUP)
        assert status_shows(agent, "U1&pending")
        # a valid one adds a unit
        with open(conf, "w") as f:
            f.write(good + "\n[unit U3]\nprogram = rgt\ndevice = plc\n"
                    "address = 3\n")
        sim.cmd("set 1 3 1")
        agent.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: state_of(w.msgs, "U3", "rgt") == "migrating",
                 what="U3 after reload")
        agent.stop(signal.SIGKILL)
        wait_for(lambda: (w.get("vigie/v1/agent/site-t") or {})
                 .get("online") is False, timeout=40, what="will")
    finally:
        w.close()
    assert b"reload refused" in open(tmp_path / "agent.log", "rb").read()
