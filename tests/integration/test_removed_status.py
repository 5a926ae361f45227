"""A unit the agent no longer has is announced by a retained status with
"state":"removed" on its topic, not only by an empty retained message: a
deletion made while a mosquitto bridge is down never crosses it
(eclipse/mosquitto#1040), a status does.  With the real agent, broker and
gateway: the unit leaves the gateway's counts, the topic keeps the
removed status (ordered after the unit's last status by its seq), and a
gateway that starts afterwards does not count the unit either."""
import json

from agent_kit import Agent, write_config
from conftest import publish_all, retained, summaries, wait_for
from vigie import Gateway

UNITS = {"M1": {"program": "rgt", "source": "manual"},
         "M2": {"program": "rgt", "source": "manual"}}
M2 = "vigie/v1/unit/rgt/03/site-t/M2"


def rgt03(port):
    return summaries(port).get(("rgt", "03"))


def counted(s):
    return sum(s["counts"].values()) if s else None


def test_removed_unit_leaves_the_counts_and_keeps_its_topic(tmp_path, broker,
                                                            procs):
    conf = write_config(tmp_path, broker.port, {}, UNITS)
    agent = Agent(conf, tmp_path)
    procs.append(agent)
    agent.start()
    gw = Gateway(tmp_path, broker.port).start()
    procs.append(gw)
    rc, out, err = agent.ctl("mark", "M2", "migrated", "--tech", "T-7",
                             "--wait", "30")
    assert rc == 0, (out, err)
    s = wait_for(lambda: (lambda s: s if s and s["counts"]["migrated"] == 1
                          else None)(rgt03(broker.port)), what="M2 counted")
    assert counted(s) == 2 and s["eligible"] == 2
    last = json.loads(retained(broker.port, M2)[M2])
    assert last["state"] == "migrated"

    # M2 leaves the configuration; the agent restarts
    agent.stop()
    write_config(tmp_path, broker.port, {}, {"M1": UNITS["M1"]})
    agent.start()
    s = wait_for(lambda: (lambda s: s if counted(s) == 1 else None)(
        rgt03(broker.port)), what="M2 out of the counts")
    assert s["counts"]["migrated"] == 0 and s["eligible"] == 1
    wait_for(lambda: "0 removal(s) pending" in agent.ctl("status", "--all")[1],
             what="removal acknowledged")
    tomb = json.loads(retained(broker.port, M2)[M2])
    assert tomb["state"] == "removed" and tomb["seq"] > last["seq"], tomb
    assert {"v", "program", "region", "site", "unit", "ts"} <= set(tomb)
    assert (tomb["program"], tomb["region"], tomb["site"], tomb["unit"]) == \
        ("rgt", "03", "site-t", "M2")
    assert "refused" not in gw.logtext() and "rejected" not in gw.logtext()

    # a gateway that starts now (the removal is history) agrees
    gw.stop()
    procs.remove(gw)
    publish_all(broker.port, [("vigie/v1/summary/rgt/03", b"", True)])
    (tmp_path / "late").mkdir()
    late = Gateway(tmp_path / "late", broker.port).start()
    procs.append(late)
    s = wait_for(lambda: (lambda s: s if s and counted(s) == 1 else None)(
        rgt03(broker.port)), what="the late gateway's rgt/03")
    assert s["eligible"] == 1
