"""Quebec's calendar whatever the server's zone: a gateway on a UTC or a
Tokyo server holds the 2024-2025 target until midnight in Quebec, not until
its own midnight.  --today takes an instant (RFC 3339 UTC) whose Quebec
date it holds targets as of: 2025-04-01T00:30:00Z is 20:30 on March 31 in
Quebec, 2025-04-01T04:30:00Z is 00:30 on April 1.  The offline report
places its dates the same way."""
import json
import os
import subprocess

import pytest

from conftest import BUILD, publish_all, summaries, wait_for
from vigie import Gateway, unit_payload, unit_topic

GATEWAY = os.path.join(BUILD, "vigie-gateway")
NEXT_PLAN = "renir 2025-2026 80\nrgt 2025-2026 55.5\n"


def summary_of(port, n):
    """The retained renir/06 summary once it counts n units."""
    def got():
        s = summaries(port).get(("renir", "06"))
        return s if s and s["eligible"] == n else None
    return wait_for(got, what=f"renir/06 with {n} units")


@pytest.mark.parametrize("server_tz", ["UTC", "Asia/Tokyo"])
@pytest.mark.parametrize("today,current,percent", [
    ("2025-04-01T00:30:00Z", "2024-2025", 75.0),  # 20:30 on March 31
    ("2025-04-01T04:30:00Z", "2025-2026", 80.0),  # 00:30 on April 1
])
def test_target_turns_at_midnight_in_quebec(tmp_path, broker, monkeypatch,
                                            server_tz, today, current,
                                            percent):
    monkeypatch.setenv("TZ", server_tz)
    tf = tmp_path / "targets.conf"
    tf.write_text(NEXT_PLAN)
    gw = Gateway(tmp_path, broker.port, today=today,
                 extra=["--targets", str(tf)]).start()
    try:
        publish_all(broker.port, [
            (unit_topic("renir", "06", "mtl", f"u{i}"),
             unit_payload("renir", "06", "mtl", f"u{i}",
                          "migrated" if i < 7 else "pending", 1), True)
            for i in range(10)])
        s = summary_of(broker.port, 10)
        assert s["target"]["fiscal_year"] == current
        assert s["target"]["percent"] == percent
        assert s["plan_ended"] is False
    finally:
        assert gw.stop() == 0


def report(data, *args, tz):
    r = subprocess.run([GATEWAY, "report", "--data-dir", data,
                        "--format", "json", "--program", "renir", *args],
                       capture_output=True, text=True, timeout=30,
                       env={**os.environ, "TZ": tz})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("server_tz", ["UTC", "Asia/Tokyo"])
def test_report_days_end_at_midnight_in_quebec(tmp_path, broker, server_tz):
    gw = Gateway(tmp_path, broker.port).start()  # only to create the store
    assert gw.stop() == 0
    end = report(gw.data, "--as-of", "2025-03-31", tz=server_tz)
    assert end["cutoff"] == "2025-04-01T04:00:00Z"  # midnight EDT
    assert end["fiscal_year"] == "2024-2025"
    nxt = report(gw.data, "--as-of", "2025-04-01", tz=server_tz)
    assert nxt["cutoff"] == "2025-04-02T04:00:00Z"
    assert nxt["fiscal_year"] == "2025-2026"
    winter = report(gw.data, "--as-of", "2025-01-15", tz=server_tz)
    assert winter["cutoff"] == "2025-01-16T05:00:00Z"  # midnight EST


def test_no_tz_database_no_gateway(tmp_path):
    """Without Quebec's calendar no target can be placed: refuse to start
    (and the report refuses too) rather than guess from the server."""
    env = {**os.environ, "TZDIR": str(tmp_path / "no-zoneinfo")}
    for args in ([GATEWAY, "--today", "2025-03-31", "--broker",
                  "127.0.0.1:1", "--data-dir", str(tmp_path)],
                 [GATEWAY, "report", "--data-dir", str(tmp_path)]):
        r = subprocess.run(args, capture_output=True, text=True, timeout=30,
                           env=env)
        assert r.returncode != 0, args
        assert "America/Toronto" in r.stderr, r.stderr
