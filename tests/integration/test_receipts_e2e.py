"""A technician's mark, end to end with the real agent, broker and
gateway: `mark --wait` says "received by the NOC" only once the gateway's
receipt covers it, and `status` says which units the NOC has."""
from agent_kit import Agent, write_config
from conftest import summaries, wait_for
from vigie import Gateway


def test_mark_wait_reports_the_nocs_receipt(tmp_path, broker):
    conf = write_config(tmp_path, broker.port, {},
                        {"M1": {"program": "rgt", "source": "manual"}})
    agent = Agent(conf, tmp_path)
    agent.start()
    try:
        # no gateway yet: the broker has the mark, the NOC does not
        rc, out, err = agent.ctl("mark", "M1", "migrating", "--tech", "T-7",
                                 "--wait", "2")
        assert rc == 3 and "received by the NOC" not in out, (out, err)
        g = Gateway(tmp_path, broker.port).start()
        try:
            rc, out, err = agent.ctl("mark", "M1", "migrated", "--tech",
                                     "T-7", "--wait", "30")
            assert rc == 0 and "received by the NOC" in out, (out, err)
            s = wait_for(lambda: summaries(broker.port).get(("rgt", "03")),
                         what="rgt/03")
            assert s["counts"]["migrated"] == 1
            rc, out, _ = agent.ctl("status", "--all")
            assert rc == 0 and "received by the NOC" in out, out
        finally:
            g.stop()
    finally:
        agent.stop()
