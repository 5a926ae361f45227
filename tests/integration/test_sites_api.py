"""The NOC sees each site's agent: presence, session and the health the
agent reports in its birth (outbox, oldest unacknowledged record, devices,
refused publishes, config hash), in /api/v1/sites and /metrics."""
import json
import time

from conftest import publish_all, wait_for
from test_http import start_http_gateway
from vigie import unit_payload, unit_topic

BIRTH = {"v": 1, "site": "mtl-042", "region": "06", "online": True,
         "version": "0.2.0", "board": "rpi4", "units": 1,
         "ts": "2026-11-22T18:00:00Z", "outbox": 7, "oldest_unacked_s": 42,
         "devices_ok": 2, "devices_failing": 1, "refused": 3,
         "config_hash": "9f2c61aa03b7d415"}


def test_site_health_in_the_api_and_metrics(tmp_path, broker):
    gw, http = start_http_gateway(tmp_path, broker)
    try:
        session = int(time.time() * 1000)
        publish_all(broker.port, [
            (unit_topic("renir", "06", "mtl-042", "u1"),
             unit_payload("renir", "06", "mtl-042", "u1", "migrated",
                          session - 5), True),
            ("vigie/v1/agent/mtl-042",
             json.dumps({**BIRTH, "session": session}), True)])
        site = wait_for(lambda: next(
            (s for s in http.json("/api/v1/sites")["sites"]
             if s["site"] == "mtl-042" and s["session"] == session), None),
            what="the site with its health")
        assert site["online"] is True and site["region"] == "06"
        assert site["version"] == "0.2.0" and site["board"] == "rpi4"
        assert site["units"] == {"renir": 1, "rgt": 0}
        assert site["health"] == {
            "outbox": 7, "oldest_unacked_s": 42, "devices_ok": 2,
            "devices_failing": 1, "refused": 3,
            "config_hash": "9f2c61aa03b7d415"}
        assert http.json("/api/v1/sites?region=03")["sites"] == []
        assert http.req("/api/v1/sites?region=99")[0] == 400
        assert http.req("/api/v1/sites?site=mtl-042")[0] == 400
        _, metrics = http.text("/metrics")
        for line in (
                'vigie_agent_online{site="mtl-042",region="06"} 1',
                'vigie_agent_outbox_records{site="mtl-042",region="06"} 7',
                'vigie_agent_oldest_unacked_seconds{site="mtl-042",'
                'region="06"} 42',
                'vigie_agent_devices{site="mtl-042",status="failing"} 1',
                'vigie_agent_publishes_refused_total{site="mtl-042",'
                'region="06"} 3'):
            assert line in metrics.splitlines(), line
        # the will of the same session marks it offline
        publish_all(broker.port, [("vigie/v1/agent/mtl-042", json.dumps(
            {"v": 1, "site": "mtl-042", "region": "06", "online": False,
             "session": session, "ts": "2026-11-22T17:59:00Z"}), True)])
        wait_for(lambda: http.json("/api/v1/sites")["sites"][0]["online"]
                 is False, what="offline after the will")
    finally:
        gw.stop()
