"""A technician's mark, end to end with the real agent, broker and
gateway: `mark --wait` says "received by the NOC" only once the gateway's
receipt covers it, and `status` says which units the NOC has."""
import json

from agent_kit import Agent, write_config
from conftest import publish_all, retained, summaries, wait_for
from vigie import Gateway, unit_payload, unit_topic


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


def test_every_site_of_a_storm_gets_its_receipt(tmp_path, broker, procs):
    """Receipts go out at most 200 a second, the rest in the next seconds:
    in a storm of more sites than that, each site still gets its receipt,
    with its own highest seq, those that changed again meanwhile too."""
    gw = Gateway(tmp_path, broker.port).start()
    procs.append(gw)
    sites = [f"s{i:03d}" for i in range(450)]
    publish_all(broker.port, [
        (unit_topic("rgt", "05", s, "U1"),
         unit_payload("rgt", "05", s, "U1", "pending", 10 + i), True)
        for i, s in enumerate(sites)])
    # the first 50 sites change again while the rest wait their turn
    publish_all(broker.port, [
        (unit_topic("rgt", "05", s, "U1"),
         unit_payload("rgt", "05", s, "U1", "migrated", 1000 + i), True)
        for i, s in enumerate(sites[:50])])
    want = {s: (1000 + i if i < 50 else 10 + i) for i, s in enumerate(sites)}

    def got():
        r = {t.rsplit("/", 1)[1]: json.loads(p)["seq"]
             for t, p in retained(broker.port, "vigie/v1/receipt/#").items()
             if p}
        return r if r == want else None
    wait_for(got, timeout=60, interval=1, what="450 sites' receipts")
