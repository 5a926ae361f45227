"""The NOC sees each site's agent: presence, session and the health the
agent reports in its birth (outbox, oldest unacknowledged record, devices,
refused publishes, config hash), in /api/v1/sites and /metrics."""
import json
import sqlite3
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
                'vigie_agent_devices{site="mtl-042",region="06",'
                'status="failing"} 1',
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


# ---- /api/v1/units: the site filter, the technician's note ----------------

def _unit(site, region, unit, state, seq, **extra):
    return (unit_topic("renir", region, site, unit),
            unit_payload("renir", region, site, unit, state, seq, **extra),
            True)


def test_units_filtered_by_site_with_the_note(tmp_path, broker):
    gw, http = start_http_gateway(tmp_path, broker)
    try:
        publish_all(broker.port, [
            _unit("qc-001", "03", "u1", "migrating", 1, source="manual",
                  tech="jtremblay", note="Antenne remplacée; rappel lundi",
                  since="2026-11-20T14:00:00Z"),
            _unit("qc-001", "03", "u2", "pending", 1),
            _unit("mtl-042", "06", "u1", "migrated", 1),
            _unit("mtl-042", "06", "u2", "pending", 1,
                  fault="modbus timeout")])
        units = wait_for(lambda: (lambda u: len(u) == 2 and u)(
            http.json("/api/v1/units?site=qc-001")["units"]),
            what="the store to hold qc-001's units")
        assert {u["site"] for u in units} == {"qc-001"}
        assert {u["region"] for u in units} == {"03"}
        u1 = next(u for u in units if u["unit"] == "u1")
        assert u1["note"] == "Antenne remplacée; rappel lundi"
        assert (u1["tech"], u1["source"]) == ("jtremblay", "manual")
        assert u1["since"] == "2026-11-20T14:00:00Z"
        assert "note" not in next(u for u in units if u["unit"] == "u2")
        mtl = wait_for(lambda: (lambda u: len(u) == 2 and u)(
            http.json("/api/v1/units?site=mtl-042&program=renir")["units"]),
            what="mtl-042's units")
        assert {u["site"] for u in mtl} == {"mtl-042"}
        assert next(u for u in mtl if u["unit"] == "u2")["fault"] == \
            "modbus timeout"
        # a site and another region's filter: nothing, not either list
        assert http.json("/api/v1/units?site=qc-001&region=06")["units"] == []
        assert http.json("/api/v1/units?site=nowhere")["units"] == []
        for bad in ("site=", "site=a/b", "site=" + "x" * 49):
            assert http.req(f"/api/v1/units?{bad}")[0] == 400, bad
    finally:
        gw.stop()


def test_unknown_query_parameters_are_400(tmp_path, broker):
    gw, http = start_http_gateway(tmp_path, broker)
    try:
        for path in ("/api/v1/summary", "/api/v1/summary/renir/06",
                     "/api/v1/history?program=renir&sit=x",
                     "/api/v1/units?regoin=06", "/api/v1/units?sites=a",
                     "/api/v1/sites?site=x", "/api/v1/events"):
            sep = "&" if "?" in path else "?"
            url = path if "=" in path else path + sep + "bogus=1"
            status, _, body = http.req(url)
            assert status == 400, url
            assert "unknown query parameter" in json.loads(body)["error"]
        for ok in ("/api/v1/summary", "/api/v1/summary/renir/06",
                   "/api/v1/history?program=renir&region=06&points=2",
                   "/api/v1/units?program=renir&region=06&site=a&state="
                   "pending&offset=0&limit=5", "/api/v1/sites?region=06"):
            assert http.req(ok)[0] == 200, ok
    finally:
        gw.stop()


def test_a_schema_1_database_gains_the_note_column(tmp_path, broker):
    """A database written before the note column: the gateway adds it,
    keeps the old rows, and stores the note of the next status."""
    data = tmp_path / "gw-data"
    data.mkdir()
    db = sqlite3.connect(data / "vigie.db")
    db.executescript(
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
        "INSERT INTO meta VALUES('schema', '1');"
        "CREATE TABLE unit(program TEXT NOT NULL, site TEXT NOT NULL,"
        " unit TEXT NOT NULL, region TEXT NOT NULL, state TEXT NOT NULL,"
        " seq INTEGER NOT NULL, since INTEGER NOT NULL, ts INTEGER,"
        " source TEXT, tech TEXT, fault TEXT,"
        " removed INTEGER NOT NULL DEFAULT 0,"
        " PRIMARY KEY(program, site, unit)) WITHOUT ROWID;"
        "INSERT INTO unit VALUES('renir', 'old-1', 'u1', '05', 'pending',"
        " 1, 1700000000, 1700000000, 'modbus', NULL, NULL, 0);")
    db.commit()
    db.close()
    gw, http = start_http_gateway(tmp_path, broker)
    try:
        old = http.json("/api/v1/units?site=old-1")["units"]
        assert [(u["unit"], u["state"]) for u in old] == [("u1", "pending")]
        assert "note" not in old[0]
        publish_all(broker.port, [
            (unit_topic("renir", "05", "old-1", "u1"),
             unit_payload("renir", "05", "old-1", "u1", "migrated", 2,
                          note="fait"), True)])
        wait_for(lambda: http.json("/api/v1/units?site=old-1")["units"][0]
                 .get("note") == "fait", what="the note of seq 2")
    finally:
        gw.stop()
    db = sqlite3.connect(data / "vigie.db")
    assert db.execute("SELECT value FROM meta WHERE key='schema'"
                      ).fetchone() == ("2",)
    db.close()
