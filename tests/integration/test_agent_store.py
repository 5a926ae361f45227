"""The agent's store at its edges: a unit removed from the configuration is
removed from the broker (a retained "removed" status) durably, by reload or
by restart, even with the broker down and a kill -9 in between; a disk that
refuses writes leaves the agent running from memory, and it writes again
once the disk accepts writes."""
import glob
import os
import resource
import signal


from conftest import wait_for
from agent_kit import Agent, Sim, write_config, unit_states


UNITS = {"U1": {"program": "renir", "device": "plc", "address": 1},
         "U2": {"program": "renir", "device": "plc", "address": 2},
         "M1": {"program": "rgt", "source": "manual"}}


def conf(tmp_path, broker, sim, drop=()):
    units = {k: v for k, v in UNITS.items() if k not in drop}
    return write_config(tmp_path, broker.port,
                        {"plc": {"tcp": f"127.0.0.1:{sim.port}",
                                 "poll_interval_ms": 200,
                                 "response_timeout_ms": 300}}, units)



def status_shows(agent, *needles):
    rc, out, _ = agent.ctl("status", "--all")
    return rc == 0 and all(n in out for n in needles)


def store(tmp_path, pattern):
    return [os.path.basename(p) for p in
            glob.glob(os.path.join(str(tmp_path), "data", "units", pattern))]


def test_unit_removed_by_reload_leaves_the_broker(broker, tmp_path, procs):
    sim = Sim(slaves="1")
    procs.append(sim)
    path = conf(tmp_path, broker, sim)
    agent = Agent(path, tmp_path)
    procs.append(agent)
    agent.start()
    wait_for(lambda: set(unit_states(broker.port)) == {"U1", "U2", "M1"},
             what="first birth")
    conf(tmp_path, broker, sim, drop=("U2",))
    agent.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: set(unit_states(broker.port)) == {"U1", "M1"},
             what="U2 removed from the broker")
    wait_for(lambda: status_shows(agent, "0 removal(s) pending"),
             what="removal acknowledged")
    assert store(tmp_path, "u.U2") == [] and store(tmp_path, "t.*") == []
    assert agent.proc.poll() is None


def test_removal_survives_broker_outage_and_kill9(broker, tmp_path, procs):
    sim = Sim(slaves="1")
    procs.append(sim)
    path = conf(tmp_path, broker, sim)
    agent = Agent(path, tmp_path)
    procs.append(agent)
    agent.start()
    wait_for(lambda: set(unit_states(broker.port)) == {"U1", "U2", "M1"},
             what="first birth")
    agent.stop()
    broker.stop()  # the broker keeps M1's retained status on disk
    conf(tmp_path, broker, sim, drop=("M1",))
    agent.start()
    # the record became a tombstone on disk before the broker knows
    assert status_shows(agent, "1 removal(s) pending")
    assert store(tmp_path, "u.M1") == []
    assert store(tmp_path, "t.*") == ["t.vigie+v1+unit+rgt+03+site-t+M1"]
    agent.stop(signal.SIGKILL)
    agent.start()
    assert status_shows(agent, "1 removal(s) pending")
    broker.start()
    wait_for(lambda: status_shows(agent, "0 removal(s) pending"),
             timeout=40, what="removal acknowledged")
    assert set(unit_states(broker.port)) == {"U1", "U2"}
    assert store(tmp_path, "t.*") == []


def test_refused_writes_then_recovery(broker, tmp_path, procs):
    """The disk refuses writes: RLIMIT_FSIZE of the running agent set to
    1 byte (prlimit), so every record write fails with EFBIG as on a full
    disk, without mounts; then lifted."""
    sim = Sim(slaves="1")
    procs.append(sim)
    agent = Agent(conf(tmp_path, broker, sim), tmp_path)
    procs.append(agent)
    agent.start()
    wait_for(lambda: unit_states(broker.port).get("U1", {}).get("state")
             == "pending", what="first birth")
    pid = agent.proc.pid
    inf = resource.RLIM_INFINITY
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, inf))
    try:
        sim.cmd("set 1 1 2")
        rc, _, err = agent.ctl("mark", "M1", "retired", "--tech", "T-9")
        assert rc == 0, err
        wait_for(lambda: status_shows(agent, "DEGRADED",
                                      "held in memory only"),
                 what="store degraded")
        # still publishing, from memory
        wait_for(lambda: unit_states(broker.port).get("U1", {})
                 .get("state") == "migrated", what="U1 published")
        assert unit_states(broker.port)["M1"]["state"] == "retired"
        assert agent.proc.poll() is None
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (inf, inf))
    wait_for(lambda: status_shows(agent, "/units: ok") and
             not status_shows(agent, "held in memory"),
             timeout=30, what="store writable again")
    assert agent.proc.poll() is None
    # what was held in memory is on disk now: it survives a kill -9 with
    # the device gone
    agent.stop(signal.SIGKILL)
    sim.stop()
    broker.stop()
    agent.start()
    assert status_shows(agent, "U1", "migrated")
    _, out, _ = agent.ctl("status", "--all")
    line = [x for x in out.splitlines() if "M1" in x]
    assert line and "retired" in line[0], out
    log = open(os.path.join(str(tmp_path), "agent.log"), "rb").read()
    assert b"writable again" in log
