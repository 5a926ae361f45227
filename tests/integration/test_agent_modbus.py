"""vigie-agent against real libmodbus servers (tools/sim) and a real
mosquitto: register changes become retained unit statuses, a dead slave
never stops the others, on TCP and on RTU over a pseudo-terminal."""
import json
import subprocess


from conftest import retained, wait_for
from agent_kit import (AGENT, Agent, Sim, Watcher, state_of, unit_topic,
                       write_config)


def tcp_device(sim, slave, **kw):
    d = {"tcp": f"127.0.0.1:{sim.port}", "slave": slave,
         "poll_interval_ms": 200, "response_timeout_ms": 300,
         "retries": 1}
    d.update(kw)
    return d


def test_register_change_appears_as_retained_status(broker, tmp_path,
                                                     procs):
    sim = Sim(slaves="1")
    procs.append(sim)
    conf = write_config(tmp_path, broker.port,
                        {"plc": tcp_device(sim, 1)},
                        {"U1": {"program": "renir", "device": "plc",
                                "address": 10},
                         "U2": {"program": "rgt", "device": "plc",
                                "address": 11},
                         "C1": {"program": "renir", "device": "plc",
                                "register": "coil", "address": 5}})
    agent = Agent(conf, tmp_path)
    procs.append(agent)
    agent.start()
    w = Watcher(broker.port)
    try:
        wait_for(lambda: state_of(w.msgs, "U1") == "pending",
                 what="U1 pending")
        first = w.get(unit_topic("U1"))
        sim.cmd("set 1 10 2")
        sim.cmd("coil 1 5 1")
        wait_for(lambda: state_of(w.msgs, "U1") == "migrated",
                 what="U1 migrated")
        wait_for(lambda: state_of(w.msgs, "C1") == "migrated",
                 what="C1 migrated")
    finally:
        w.close()
    msgs = retained(broker.port, "vigie/v1/#")
    st = json.loads(msgs[unit_topic("U1")])
    assert st["v"] == 1 and st["site"] == "site-t" and st["region"] == "03"
    assert st["program"] == "renir" and st["unit"] == "U1"
    assert st["source"] == "modbus" and "fault" not in st
    assert st["seq"] > first["seq"]
    assert json.loads(msgs[unit_topic("U2", "rgt")])["state"] == "pending"
    presence = json.loads(msgs["vigie/v1/agent/site-t"])
    assert presence["online"] is True and presence["units"] == 3
    # contiguous registers 10-11 are one request, the coil another
    rc, out, _ = agent.ctl("status", "--all")
    assert rc == 0 and "2 request(s) planned per poll" in out


def test_dead_slave_does_not_stop_the_others(broker, tmp_path, procs):
    sim = Sim(slaves="1-2")
    procs.append(sim)
    conf = write_config(tmp_path, broker.port,
                        {"good": tcp_device(sim, 1),
                         "dead": tcp_device(sim, 2, retries=2)},
                        {"G1": {"program": "renir", "device": "good",
                                "address": 1},
                         "D1": {"program": "renir", "device": "dead",
                                "address": 1}})
    agent = Agent(conf, tmp_path)
    procs.append(agent)
    agent.start()
    w = Watcher(broker.port)
    try:
        wait_for(lambda: state_of(w.msgs, "D1") == "pending",
                 what="D1 read once")
        sim.cmd("kill 2")
        wait_for(lambda: (w.get(unit_topic("D1")) or {}).get("fault"),
                 what="D1 fault")
        for value, state in ((1, "migrating"), (2, "migrated"),
                             (3, "retired")):
            sim.cmd(f"set 1 1 {value}")
            wait_for(lambda: state_of(w.msgs, "G1") == state,
                     what=f"G1 {state} while slave 2 is dead")
        d1 = w.get(unit_topic("D1"))
        assert d1["state"] == "pending"  # last known state kept
        sim.cmd("revive 2")
        sim.cmd("set 2 1 2")
        wait_for(lambda: state_of(w.msgs, "D1") == "migrated",
                 what="D1 back")
        assert "fault" not in w.get(unit_topic("D1"))
    finally:
        w.close()


def test_busy_is_retried_and_illegal_address_is_a_fault(broker, tmp_path,
                                                         procs):
    sim = Sim(slaves="1", size=100)
    procs.append(sim)
    conf = write_config(tmp_path, broker.port,
                        {"plc": tcp_device(sim, 1, retries=3)},
                        {"B1": {"program": "rgt", "device": "plc",
                                "address": 3},
                         "X1": {"program": "rgt", "device": "plc",
                                "address": 150}})
    sim.cmd("set 1 3 2")
    sim.cmd("busy 1 2")
    agent = Agent(conf, tmp_path)
    procs.append(agent)
    agent.start()
    w = Watcher(broker.port)
    try:
        wait_for(lambda: state_of(w.msgs, "B1", "rgt") == "migrated",
                 what="B1 read through busy answers")
        wait_for(lambda: "Illegal data address" in
                 ((w.get(unit_topic("X1", "rgt")) or {}).get("fault")
                  or ""), what="X1 illegal address fault")
        assert "fault" not in w.get(unit_topic("B1", "rgt"))
    finally:
        w.close()


def test_rtu_over_a_pty(broker, tmp_path, procs):
    sim = Sim(rtu=True, slaves="1-2")
    procs.append(sim)
    rtu = {"rtu": sim.pty, "baud": 19200, "poll_interval_ms": 200,
           "response_timeout_ms": 300, "frame_gap_ms": 2}
    conf = write_config(tmp_path, broker.port,
                        {"s1": dict(rtu, slave=1), "s2": dict(rtu, slave=2)},
                        {"R1": {"program": "renir", "device": "s1",
                                "register": "input", "address": 4},
                         "R2": {"program": "renir", "device": "s2",
                                "address": 4}})
    agent = Agent(conf, tmp_path)
    procs.append(agent)
    agent.start()
    w = Watcher(broker.port)
    try:
        wait_for(lambda: state_of(w.msgs, "R2") == "pending",
                 what="R2 pending")
        sim.cmd("kill 2")
        sim.cmd("input 1 4 1")
        wait_for(lambda: state_of(w.msgs, "R1") == "migrating",
                 what="R1 over RTU while slave 2 is dead")
        wait_for(lambda: (w.get(unit_topic("R2")) or {}).get("fault"),
                 what="R2 fault")
    finally:
        w.close()


def test_check_config_and_once(tmp_path, procs):
    sim = Sim(slaves="1")
    procs.append(sim)
    sim.cmd("set 1 7 3")
    conf = write_config(tmp_path, 1, {"plc": tcp_device(sim, 1)},
                        {"U7": {"program": "rgt", "device": "plc",
                                "address": 7},
                         "M1": {"program": "renir", "source": "manual"}})
    r = subprocess.run([AGENT, "--check-config", conf], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([AGENT, "--once", "--json", "-c", conf], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    by_topic = {x["topic"]: x["payload"] for x in lines}
    assert by_topic[unit_topic("U7", "rgt")]["state"] == "retired"
    assert by_topic[unit_topic("M1")]["state"] == "unknown"
    assert not (tmp_path / "data").exists()  # --once touches nothing

    bad = tmp_path / "bad.conf"
    bad.write_text("[site]\nid = s\nregion = 42\n")
    r = subprocess.run([AGENT, "--check-config", str(bad)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert f"{bad}:3: region" in r.stderr


def test_client_says_when_agent_is_not_running(tmp_path):
    r = subprocess.run([AGENT, "-s", str(tmp_path / "none.sock"), "status"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "not running" in r.stderr
