"""After the plan (its last due date is past), no projection to a due
date means anything: the gateway gives the pace instead, units migrated a
week over the projection window and when the last target falls at that
pace, in the API and /metrics (not in the retained summary: it is fitted to
the gateway's own history)."""
import datetime as dt
import os
import sqlite3

from conftest import summaries, wait_for
from test_gateway import publish_units
from test_http import _up, metric, parse_prometheus, start_http_gateway
from vigie import Truth

DAY = 86400


def test_pace_once_the_plan_has_ended(tmp_path, broker):
    # the real date: the compiled-in plan ended on 2025-03-31
    gw, http = start_http_gateway(tmp_path, broker, today=None)
    try:
        truth = Truth()
        # today: 740 of 1000 migrated, 10 short of the last target (75 %)
        publish_units(broker.port, truth,
                      [("renir", "06", f"s{i % 4}", f"u{i}",
                        "migrated" if i < 740 else "pending")
                       for i in range(1000)], 1)
        wait_for(lambda: http.json("/api/v1/summary/renir/06")["migrated"]
                 == 740, what="units applied")
        gw.stop()
        # 30 days of history before that, rising by 10 units a day
        now = int(dt.datetime.now(dt.timezone.utc).timestamp())
        db = sqlite3.connect(os.path.join(gw.data, "vigie.db"))
        for h in range(720, 0, -1):
            migrated = 440 + (720 - h) * 10 // 24
            db.execute("INSERT OR REPLACE INTO history VALUES"
                       "('renir','06',?,?,0,?,0,0,0)",
                       (now - h * 3600, 1000 - migrated, migrated))
        db.commit()
        db.close()
        gw.start()
        wait_for(lambda: _up(int(http.base.rsplit(":", 1)[1])), timeout=10,
                 what="HTTP listening again")
        s = wait_for(lambda: http.json("/api/v1/summary/renir/06")
                     .get("pace"), timeout=20, what="a pace")
        assert "projection" not in http.json("/api/v1/summary/renir/06")
        assert s["fiscal_year"] == "2024-2025" and s["target"] == 75.0
        # ~70 a week; 10 units short: reached within about a day
        assert 60 < s["units_per_week"] < 80, s
        assert s["units_needed"] == 10 and s["reached_by"] is not None
        when = dt.date.fromisoformat(s["reached_by"])
        assert when <= dt.date.today() + dt.timedelta(days=3), s
        # the API's alone: not in the retained summary (docs/protocol.md)
        retained_06 = summaries(broker.port)[("renir", "06")]
        assert retained_06["migrated"] == 740 and "pace" not in retained_06
        # /metrics in base units: per second, the same pace as the API's
        m = parse_prometheus(http.text("/metrics")[1])
        per_s = metric(m, "vigie_pace_units_per_second", program="renir",
                       region="06")
        assert abs(per_s * 7 * DAY - s["units_per_week"]) < 0.1, (per_s, s)
    finally:
        gw.stop()
