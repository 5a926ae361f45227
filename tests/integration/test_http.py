"""The gateway's HTTP side over real HTTP (urllib), against a real mosquitto:
the JSON API and /metrics equal an independently computed ground truth,
/metrics passes a strict Prometheus text-format check, the server is
read-only, the token and TLS options work, the event stream is live, the
projection follows the documented method, and `vigie-gateway report`
matches an independently computed "as of" figure across a fiscal-year end.
"""
import base64
import csv
import datetime as dt
import io
import json
import math
import os
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import urllib.error
import urllib.request
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from conftest import BUILD, free_port, publish_all, summaries, wait_for
from vigie import (Gateway, Truth, REGIONS, comparable, expected,
                   unit_payload, unit_topic, wait_truth)
from test_gateway import population, publish_units

FY = 2024
GATEWAY = os.path.join(BUILD, "vigie-gateway")


class Http:
    def __init__(self, port, scheme="http", context=None, headers=None):
        self.base = f"{scheme}://127.0.0.1:{port}"
        self.context = context
        self.headers = headers or {}

    def req(self, path, method="GET", headers=None, data=None):
        r = urllib.request.Request(self.base + path, method=method, data=data,
                                   headers={**self.headers, **(headers or {})})
        try:
            with urllib.request.urlopen(r, timeout=10,
                                        context=self.context) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path):
        status, _, body = self.req(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def text(self, path):
        status, headers, body = self.req(path)
        assert status == 200, (path, status)
        return headers, body.decode("utf-8")


def start_http_gateway(tmp_path, broker, extra=(), today="2024-06-01"):
    port = free_port()
    gw = Gateway(tmp_path, broker.port, today=today or "2024-06-01",
                 extra=("--http", f"127.0.0.1:{port}", *extra))
    if today is None:  # the real date
        i = gw.args.index("--today")
        del gw.args[i:i + 2]
    gw.start()
    http = Http(port)
    wait_for(lambda: _up(port), timeout=10, what="HTTP listening")
    return gw, http


def _up(port):
    try:
        with socket.create_connection(("127.0.0.1", port), 0.2):
            return True
    except OSError:
        return False


@pytest.fixture
def web(tmp_path, broker):
    gw, http = start_http_gateway(tmp_path, broker)
    yield gw, http
    gw.stop()


# ---- JSON API --------------------------------------------------------------

def test_api_summaries_equal_truth_and_mqtt(broker, web):
    gw, http = web
    truth = Truth()
    publish_units(broker.port, truth, population(600, seed=11), seq=1)
    wait_truth(broker.port, truth, FY)
    mqtt = summaries(broker.port)
    doc = http.json("/api/v1/summary")
    assert doc["fiscal_year"] == "2024-2025" and doc["broker_connected"]
    got = {(s["program"], s["region"]): s for s in doc["summaries"]}
    assert len(got) == 2 * 18
    for prog in ("renir", "rgt"):
        for reg in REGIONS + ["all"]:
            want = truth.summary(prog, reg, FY)
            have = comparable(got[(prog, reg)])
            for k, v in want.items():
                assert have[k] == v, (prog, reg, k)
            # same fields, same values as the retained MQTT summary
            assert have == comparable(mqtt[(prog, reg)]), (prog, reg)
            one = http.json(f"/api/v1/summary/{prog}/{reg}")
            assert comparable(one) == have
    for bad in ("/api/v1/summary/bogus/06", "/api/v1/summary/renir/18",
                "/api/v1/summary/renir", "/nope"):
        assert http.req(bad)[0] == 404, bad


def test_units_paged_and_filtered(broker, web):
    gw, http = web
    truth = Truth()
    publish_units(broker.port, truth, population(300, seed=12), seq=1)
    wait_truth(broker.port, truth, FY)
    want = {(k[2], k[3]): v for k, v in truth.units.items()
            if k[0] == "renir" and k[1] == "06"}
    # the store lags the broker by one batch (200 ms): wait for it
    def all_pages():
        seen, offset = {}, 0
        while offset is not None:
            page = http.json(f"/api/v1/units?program=renir&region=06"
                             f"&limit=7&offset={offset}")
            assert len(page["units"]) <= 7
            for u in page["units"]:
                assert (u["program"], u["region"]) == ("renir", "06")
                seen[(u["site"], u["unit"])] = u["state"]
            offset = page["next_offset"]
        return seen
    wait_for(lambda: all_pages() == want, timeout=10, what="units pages")
    migrated = http.json("/api/v1/units?program=renir&region=06"
                         "&state=migrated&limit=1000")["units"]
    assert sorted((u["site"], u["unit"]) for u in migrated) == sorted(
        k for k, v in want.items() if v == "migrated")
    for bad in ("program=x", "region=18", "state=done", "limit=0",
                "limit=1001", "offset=-1", "offset=abc"):
        assert http.req(f"/api/v1/units?{bad}")[0] == 400, bad


def test_history_records_the_counts(broker, web):
    gw, http = web
    truth = Truth()
    publish_units(broker.port, truth, population(200, seed=13), seq=1)
    wait_truth(broker.port, truth, FY)
    want = truth.summary("renir", "06", FY)

    def last_point():
        pts = http.json("/api/v1/history?program=renir&region=06")["points"]
        return pts and pts[-1]["counts"] == want["counts"] and pts[-1]
    p = wait_for(last_point, timeout=10, what="a history point")
    assert p["eligible"] == want["eligible"]
    assert Decimal(str(p["percent"])) == want["percent"]
    few = http.json("/api/v1/history?program=renir&region=all&points=2")
    assert len(few["points"]) <= 2
    for bad in ("", "program=renir&region=18", "program=renir&from=x",
                "program=renir&points=1"):
        assert http.req(f"/api/v1/history?{bad}")[0] == 400, bad


# ---- /metrics ----------------------------------------------------------------

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_prometheus(text):
    """Strict parser of the text exposition format 0.0.4: every family has
    one HELP and one TYPE before its samples, families are contiguous,
    names and labels are well formed, no series repeats, values are floats.
    Returns {(name, frozenset(labels.items())): value}."""
    assert text.endswith("\n"), "must end with a newline"
    families, samples, current, closed = {}, {}, None, set()
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}: {line!r}"
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (\S+) (.*)", line)
            assert m, where
            kind, name, rest = m.groups()
            assert NAME.match(name), where
            fam = families.setdefault(name, {})
            assert kind not in fam, "repeated " + where
            if kind == "TYPE":
                assert rest in TYPES, where
                assert "samples" not in fam, "TYPE after samples " + where
            fam[kind] = rest
            if current != name:
                assert name not in closed, "family split " + where
                if current:
                    closed.add(current)
                current = name
            continue
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)", line)
        assert m, where
        name, _, labels, value = m.groups()
        assert name == current, "sample outside its family " + where
        assert {"HELP", "TYPE"} <= set(families[name]), where
        families[name]["samples"] = True
        lab = {}
        if labels:
            pos = 0
            while pos < len(labels):
                lm = LABEL.match(labels, pos)
                assert lm, where
                assert lm.group(1) not in lab, where
                lab[lm.group(1)] = lm.group(2)
                pos = lm.end()
                if pos < len(labels):
                    assert labels[pos] == ",", where
                    pos += 1
        v = float(value)
        assert not math.isnan(v), where
        key = (name, frozenset(lab.items()))
        assert key not in samples, "duplicate series " + where
        samples[key] = v
    return samples


def metric(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def test_metrics_parse_and_equal_truth(broker, web):
    gw, http = web
    truth = Truth()
    publish_units(broker.port, truth, population(400, seed=14), seq=1)
    presence = lambda site, online: json.dumps(
        {"v": 1, "site": site, "region": "03", "online": online,
         "ts": "2026-11-22T18:00:00Z"})
    publish_all(broker.port, [
        ("vigie/v1/agent/site-03-0", presence("site-03-0", True), True),
        ("vigie/v1/agent/site-03-1", presence("site-03-1", False), True),
        ("vigie/v1/unit/renir/06/x/y", b"{not json", False),
        ("vigie/v1/unit/renir/06/x/y",
         unit_payload("renir", "06", "x", "y", "done", 1), False),
    ])
    truth.offline_sites.add("site-03-1")
    wait_truth(broker.port, truth, FY)
    headers, text = http.text("/metrics")
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    s = parse_prometheus(text)
    for prog in ("renir", "rgt"):
        for reg in REGIONS + ["all"]:
            want = truth.summary(prog, reg, FY)
            lab = {"program": prog, "region": reg}
            assert metric(s, "vigie_eligible_units", **lab) == \
                want["eligible"]
            assert metric(s, "vigie_migrated_units", **lab) == \
                want["migrated"]
            assert metric(s, "vigie_stale_units", **lab) == want["stale"]
            ratio = metric(s, "vigie_migrated_ratio", **lab)
            if want["percent"] is None:
                assert ratio is None
            else:
                assert Decimal(str(ratio)) * 100 == want["percent"]
            assert metric(s, "vigie_target_ratio", **lab) == \
                (0.75 if prog == "renir" else 0.40)
            # the shortfall the rules compute (deploy/prometheus/)
            short = metric(s, "vigie_target_units", **lab) - \
                metric(s, "vigie_migrated_units", **lab)
            assert max(0, short) == want["target"]["units_needed"]
            assert metric(s, "vigie_target_met", **lab) == \
                int(want["target"]["met"])
            for st, n in want["counts"].items():
                assert metric(s, "vigie_units", state=st, **lab) == n
    assert metric(s, "vigie_messages_rejected_total", reason="malformed") >= 1
    assert metric(s, "vigie_messages_rejected_total", reason="state") >= 1
    assert metric(s, "vigie_messages_total") >= 402
    assert metric(s, "vigie_agents", region="03", state="online") == 1
    assert metric(s, "vigie_agents", region="03", state="offline") == 1
    assert metric(s, "vigie_broker_connected") == 1
    assert metric(s, "vigie_database_writable") == 1
    assert any(k[0] == "vigie_build_info" for k in s)
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], input=text,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr


def test_strict_parser_rejects_bad_exposition():
    good = "# HELP a x\n# TYPE a gauge\na{b=\"c\"} 1\n"
    parse_prometheus(good)
    for bad in ("a 1\n", good + "a{b=\"c\"} 2\n", good.replace("1\n", "x\n"),
                good.replace('b="c"', "b=c"), good[:-1],
                good + "# HELP d y\n# TYPE d gauge\nd 1\na{b=\"e\"} 1\n"):
        with pytest.raises((AssertionError, ValueError)):
            parse_prometheus(bad)


# ---- health, read-only, token, TLS --------------------------------------------

def test_healthz_follows_the_broker(broker, web):
    gw, http = web
    wait_for(lambda: http.req("/healthz")[0] == 200, timeout=10,
             what="healthy")
    body = json.loads(http.req("/healthz")[2])
    assert body["broker_connected"] and body["database_writable"]
    broker.stop()
    wait_for(lambda: http.req("/healthz")[0] == 503, timeout=20,
             what="unhealthy without the broker")
    assert json.loads(http.req("/healthz")[2])["broker_connected"] is False
    broker.start()
    wait_for(lambda: http.req("/healthz")[0] == 200, timeout=30,
             what="healthy again")


def test_read_only_every_other_method_is_405(broker, web):
    gw, http = web
    truth = Truth()
    publish_units(broker.port, truth, [("renir", "06", "s", "u", "pending")], 1)
    wait_truth(broker.port, truth, FY, regions=["06"])
    before = http.json("/api/v1/summary/renir/06")
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/", "/api/v1/summary", "/api/v1/units", "/metrics"):
            status, headers, _ = http.req(path, method=method, data=b"{}")
            assert status == 405, (method, path)
            assert headers["Allow"] == "GET, HEAD"
    status, headers, body = http.req("/api/v1/summary", method="HEAD")
    assert status == 200 and body == b""
    after = http.json("/api/v1/summary/renir/06")
    assert comparable(after) == comparable(before)
    # the page forbids loading anything from elsewhere
    status, headers, body = http.req("/")
    assert status == 200 and b"<html" in body
    assert "default-src 'self'" in headers["Content-Security-Policy"]


def test_token_required_when_configured(tmp_path, broker):
    tok = tmp_path / "token"
    tok.write_text("s3cret-token\n")
    tok.chmod(0o644)
    port = free_port()
    r = subprocess.run([GATEWAY, "--http", f"127.0.0.1:{port}",
                        "--http-token-file", str(tok)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "readable by others" in r.stderr
    tok.chmod(0o600)
    gw, http = start_http_gateway(tmp_path, broker,
                                  extra=("--http-token-file", str(tok)))
    try:
        for path in ("/", "/api/v1/summary", "/metrics", "/api/v1/units"):
            status, headers, _ = http.req(path)
            assert status == 401, path
            assert "Basic" in headers["WWW-Authenticate"]
        assert http.req("/metrics", headers={
            "Authorization": "Bearer wrong"})[0] == 401
        assert http.req("/metrics", headers={
            "Authorization": "Bearer s3cret-token"})[0] == 200
        basic = base64.b64encode(b"noc:s3cret-token").decode()
        assert http.req("/", headers={
            "Authorization": "Basic " + basic})[0] == 200
        # probes need no token, and learn nothing but health
        assert http.req("/healthz")[0] in (200, 503)
    finally:
        gw.stop()


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl")
def test_tls(tmp_path, broker):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    key.chmod(0o600)
    gw, http = start_http_gateway(tmp_path, broker, extra=(
        "--http-cert", str(cert), "--http-key", str(key)))
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        https = Http(http.base.rsplit(":", 1)[1], scheme="https", context=ctx)
        wait_for(lambda: https.req("/healthz")[0] == 200, timeout=10,
                 what="https healthz")
        assert https.json("/api/v1/summary")["summaries"]
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            http.req("/healthz")
    finally:
        gw.stop()


# ---- events ------------------------------------------------------------------

def read_event(resp):
    """One Server-Sent Event's data (bounded by the socket timeout)."""
    data = None
    while True:
        line = resp.readline().decode("utf-8")
        assert line, "stream closed"
        line = line.rstrip("\n")
        if line.startswith("data: "):
            data = line[6:]
        elif line == "" and data is not None:
            return json.loads(data)


def test_event_stream_pushes_changes(broker, web):
    gw, http = web
    truth = Truth()
    publish_units(broker.port, truth, [("renir", "06", "s", "u1", "pending")], 1)
    wait_truth(broker.port, truth, FY, regions=["06"])
    resp = urllib.request.urlopen(http.base + "/api/v1/events", timeout=10)
    try:
        assert resp.headers["Content-Type"] == "text/event-stream"
        first = read_event(resp)
        by = lambda d: {(s["program"], s["region"]): s for s in d["summaries"]}
        assert by(first)[("renir", "06")]["migrated"] == 0
        publish_units(broker.port, truth, [("renir", "06", "s", "u1",
                                            "migrated")], 2)
        for _ in range(20):
            ev = read_event(resp)
            if by(ev)[("renir", "06")]["migrated"] == 1:
                break
        else:
            raise AssertionError("no event with the change")
    finally:
        resp.close()


# ---- projection ----------------------------------------------------------------

def fy_of(d):
    return d.year if d.month >= 4 else d.year - 1


def project(points, now, window, due):
    """The documented method, written again: the percentage in force at 64
    evenly spaced instants over the window, least squares, value at due."""
    start = max(now - window, points[0][0])
    xs, ys, k = [], [], 0
    for i in range(64):
        t = start + (now - start) * i // 63
        while k + 1 < len(points) and points[k + 1][0] <= t:
            k += 1
        if points[k][0] <= t:
            xs.append((t - now) / 86400)
            ys.append(points[k][1])
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / \
        sum((x - mx) ** 2 for x in xs)
    y = my + slope * ((due - now) / 86400 - mx)
    return min(100.0, max(0.0, y))


def test_projection_from_history(tmp_path, broker):
    # targets ahead of today, whatever today is: this FY and the next
    fy = fy_of(dt.date.today())
    targets = tmp_path / "targets.conf"
    targets.write_text(f"renir {fy}-{fy + 1} 80\nrgt {fy}-{fy + 1} 55\n")
    gw, http = start_http_gateway(tmp_path, broker, today=None, extra=(
        "--targets", str(targets)))
    try:
        truth = Truth()
        # region 06: 1 of 2 migrated now (50 %)
        publish_units(broker.port, truth, [("renir", "06", "s", "a", "migrated"),
                                           ("renir", "06", "s", "b", "pending")], 1)
        wait_for(lambda: http.json("/api/v1/summary/renir/06")["migrated"] == 1,
                 what="units applied")
        gw.stop()
        # 30 days of hourly history before now: 40 % rising to 50 %
        now = int(dt.datetime.now(dt.timezone.utc).timestamp())
        db = sqlite3.connect(os.path.join(gw.data, "vigie.db"))
        pts = []
        for h in range(720, 0, -1):
            at = now - h * 3600
            migrated = 400 + (720 - h) * 100 // 720
            pts.append((at, migrated / 10))
            db.execute("INSERT OR REPLACE INTO history VALUES"
                       "('renir','06',?,?,0,?,0,0,0)", (at, 1000 - migrated, migrated))
        db.commit()
        db.close()
        gw.start()
        wait_for(lambda: _up(int(http.base.rsplit(":", 1)[1])), timeout=10,
                 what="HTTP listening again")
        s = wait_for(lambda: http.json("/api/v1/summary/renir/06").get("projection"),
                     timeout=20, what="a projection")
        due = dt.datetime(fy + 1, 4, 1).astimezone().timestamp()
        t = int(dt.datetime.now(dt.timezone.utc).timestamp())
        want = project(pts + [(t - 1, 50.0)], t, 30 * 86400, due)
        assert s["method"] == "least_squares" and s["window_days"] == 30
        assert s["due"] == f"{fy + 1}-03-31" and s["fiscal_year"] == f"{fy}-{fy + 1}"
        # seconds pass between the fits: a tenth of a point of slack
        assert abs(s["percent"] - want) < 0.1, (s, want)
        assert s["on_track"] == (s["percent"] >= 80)
        assert s["slope_per_day"] > 0
        # too little history for the province: no projection there
        assert "projection" not in http.json("/api/v1/summary/renir/all")
        # /metrics has it; the retained MQTT summary does not: fitted to
        # this gateway's own history, it would differ from another
        # gateway's on the same stream (docs/protocol.md, Summary)
        retained_06 = summaries(broker.port)[("renir", "06")]
        assert retained_06["migrated"] == 1 and "projection" not in retained_06
        m = parse_prometheus(http.text("/metrics")[1])
        assert abs(metric(m, "vigie_projected_ratio", program="renir",
                          region="06") * 100 - s["percent"]) < 0.1
    finally:
        gw.stop()


# ---- report ------------------------------------------------------------------

TZ = "America/Montreal"


def local(y, m, d, hh=0, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(TZ))


def rfc(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def history_for(i, rnd):
    """A unit's states over time: (since, state), strictly later each."""
    t = local(2024, 3, 28) + dt.timedelta(hours=rnd.randrange(0, 24))
    out = []
    for _ in range(rnd.randrange(1, 4)):
        out.append((t, rnd.choice(("pending", "migrating", "migrated",
                                   "retired", "unknown"))))
        t += dt.timedelta(minutes=rnd.randrange(30, 3 * 24 * 60))
    return out


def as_of(units, day, program):
    """Counts per region as of the end of `day` (local), computed from the
    published histories: consecutive equal states are one transition."""
    cutoff = local(day.year, day.month, day.day) + dt.timedelta(days=1)
    counts = {}
    for (prog, region, _site, _unit), hist in units.items():
        if prog != program:
            continue
        state, prev = None, None
        for since, st in hist:
            if st == prev:
                continue
            prev = st
            if since < cutoff:
                state = st
        if state:
            for r in (region, "all"):
                c = counts.setdefault(r, dict.fromkeys(
                    ("pending", "migrating", "migrated", "retired",
                     "unknown"), 0))
                c[state] += 1
    return counts


def run_report(gw, *args):
    r = subprocess.run([GATEWAY, "report", "--data-dir", gw.data, *args],
                       capture_output=True, text=True, timeout=30,
                       # dates are Quebec's (TZ), not the server's zone
                       env={**os.environ, "TZ": "Asia/Tokyo"})
    assert r.returncode == 0, r.stderr
    return r.stdout


def report_expected(prog, reg, counts, fy):
    """A report summary: the MQTT one, except that with nothing eligible
    it says no_data and its (vacuous) met is null."""
    want = expected(prog, reg, counts, 0, fy)
    want["no_data"] = want["eligible"] == 0
    if want["no_data"]:
        for t in [want["target"]] + want["targets"]:
            t["met"] = None
    return want


def empty_store(tmp_path, broker):
    """A store with the gateway's schema and nothing in it."""
    gw = Gateway(tmp_path, broker.port).start()
    db = os.path.join(gw.data, "vigie.db")
    try:
        wait_for(lambda: os.path.exists(db), timeout=10, what="vigie.db")
    finally:
        assert gw.stop() == 0
    return gw, db


def seed_transitions(db, units, removed_at):
    """Write the histories as the gateway records transitions (one per
    change of state).  A transition's time is when the gateway applied it
    (never a payload's since), so a past date can only be seeded."""
    con = sqlite3.connect(db)
    with con:
        for (p, r, s, u), hist in units.items():
            prev = None
            for k, (at, st) in enumerate(hist):
                if st == prev:
                    continue
                con.execute(
                    "INSERT INTO transition(program, region, site, unit,"
                    " from_state, to_state, at, seq, source)"
                    " VALUES(?,?,?,?,?,?,?,?,'modbus')",
                    (p, r, s, u, prev, st, int(at.timestamp()), k + 1))
                prev = st
        for (p, r, s, u), at in removed_at.items():
            con.execute(
                "INSERT INTO transition(program, region, site, unit,"
                " from_state, to_state, at) VALUES(?,?,?,?,?,NULL,?)",
                (p, r, s, u, units[(p, r, s, u)][-1][1], int(at)))
    con.close()


def test_report_as_of_across_fiscal_year_end(tmp_path, broker):
    import random
    import time
    rnd = random.Random(21)
    units = {}
    for i in range(240):
        region = REGIONS[i % 6]
        units[("renir" if i % 3 else "rgt", region, f"site-{region}",
               f"u{i}")] = history_for(i, rnd)
    # the boundary itself: 23:30 on March 31 counts, 00:30 on April 1 not
    units[("renir", "04", "site-04", "edge-a")] = [
        (local(2024, 3, 1), "pending"), (local(2024, 3, 31, 23, 30), "migrated")]
    units[("renir", "04", "site-04", "edge-b")] = [
        (local(2024, 3, 1), "pending"), (local(2024, 4, 1, 0, 30), "migrated")]
    gw, db = empty_store(tmp_path, broker)
    # removed today: gone from today's report, not from 2024's
    seed_transitions(db, units,
                     {("renir", "04", "site-04", "edge-a"): time.time()})
    for day, fy in ((dt.date(2024, 3, 31), 2023), (dt.date(2024, 4, 1), 2024),
                    (dt.date(2024, 3, 29), 2023)):
        out = json.loads(run_report(gw, "--as-of", day.isoformat(),
                                    "--format", "json"))
        assert out["as_of"] == day.isoformat()
        assert out["fiscal_year"] == f"{fy}-{fy + 1}"
        got = {(s["program"], s["region"]): comparable(s)
               for s in out["summaries"]}
        assert len(got) == 36
        for prog in ("renir", "rgt"):
            counts = as_of(units, day, prog)
            for reg in REGIONS + ["all"]:
                c = counts.get(reg, dict.fromkeys(
                    ("pending", "migrating", "migrated", "retired",
                     "unknown"), 0))
                want = report_expected(prog, reg, c, fy)
                have = got[(prog, reg)]
                for k, v in want.items():
                    assert have[k] == v, (day, prog, reg, k, have[k], v)
    # the two edge units, one on each side of the fiscal year end
    mar = json.loads(run_report(gw, "--as-of", "2024-03-31", "--format",
                                "json", "--program", "renir"))
    apr = json.loads(run_report(gw, "--as-of", "2024-04-01", "--format",
                                "json", "--program", "renir"))
    r04 = lambda d: next(s for s in d["summaries"] if s["region"] == "04")
    assert {s["program"] for s in mar["summaries"]} == {"renir"}
    assert r04(apr)["migrated"] - r04(mar)["migrated"] == \
        as_of(units, dt.date(2024, 4, 1), "renir")["04"]["migrated"] - \
        as_of(units, dt.date(2024, 3, 31), "renir")["04"]["migrated"]
    # today: edge-a was removed, so it is not counted any more
    today = json.loads(run_report(gw, "--format", "json", "--program", "renir"))
    assert sum(r04(today)["counts"].values()) == \
        sum(as_of(units, dt.date(2024, 4, 1), "renir")["04"].values()) - 1
    # csv and table carry the same numbers, in both languages
    rows = list(csv.DictReader(io.StringIO(run_report(
        gw, "--as-of", "2024-03-31", "--format", "csv", "--lang", "en"))))
    assert len(rows) == 36
    for row in rows:
        s = next(x for x in mar["summaries"] if x["region"] == row["region"]) \
            if row["program"] == "renir" else None
        if s:
            assert int(row["eligible"]) == s["eligible"]
            assert int(row["migrated"]) == s["counts"]["migrated"]
            assert row["target"] == "70.00" and row["fiscal_year"] == "2023-2024"
    fr = run_report(gw, "--as-of", "2024-03-31", "--lang", "fr")
    en = run_report(gw, "--as-of", "2024-03-31", "--lang", "en")
    assert "exercice 2023-2024" in fr and "Ensemble du Québec" in fr
    assert "fiscal year 2023-2024" in en and "All of Quebec" in en
    assert "02 Saguenay–Lac-Saint-Jean" in fr and "02 Saguenay–Lac-Saint-Jean" in en
    prov = r04(mar)  # any region: its percent appears with a comma in French
    if prov["percent"] is not None:
        assert f"{prov['percent']:.2f}".replace(".", ",") in fr
    r = subprocess.run([GATEWAY, "report", "--format", "xml"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2


def report_json(gw, *args):
    out = json.loads(run_report(gw, "--format", "json", *args))
    return out, {(s["program"], s["region"]): s for s in out["summaries"]}


def test_report_dates_a_backdated_status_by_its_arrival(tmp_path, broker):
    """Security finding 5: a status sent today with since (and a seq that
    reads as a Unix time in ms) from June 2023 must not make a unit
    migrated in the closed fiscal year 2023-2024, nor after a restart of
    the gateway (state reloaded from SQLite)."""
    import time
    topic = unit_topic("renir", "06", "mtl-1", "radio-1")
    back = 1685577600  # 2023-06-01T00:00:00Z

    def status(state, seq, since):
        return (topic, unit_payload("renir", "06", "mtl-1", "radio-1", state,
                                    seq, since=since), True)

    def today_06():
        return report_json(gw, "--program", "renir")[1][("renir", "06")]

    gw = Gateway(tmp_path, broker.port)
    i = gw.args.index("--today")  # today's real clock, as in the field
    del gw.args[i:i + 2]
    t0 = int(time.time())
    gw.start()
    try:
        publish_all(broker.port, [status("migrated", back * 1000,
                                         "2023-06-01T00:00:00Z")])
        wait_for(lambda: today_06()["migrated"] == 1, timeout=20,
                 what="the status in the store")
    finally:
        assert gw.stop() == 0
    past, by = report_json(gw, "--as-of", "2024-03-31")
    assert by[("renir", "06")]["counts"]["migrated"] == 0
    assert by[("renir", "06")]["eligible"] == 0
    assert by[("renir", "06")]["no_data"] is True
    assert past["data_since"] >= rfc(dt.datetime.fromtimestamp(
        t0, dt.timezone.utc))
    # since is kept (and shown), only not used to date the transition
    con = sqlite3.connect(os.path.join(gw.data, "vigie.db"))
    assert con.execute("SELECT since FROM unit").fetchall() == [(back,)]
    assert con.execute("SELECT MIN(at) FROM transition").fetchone()[0] >= t0
    con.close()
    # reloaded from the store, a later status backdated further still
    gw.start()
    try:
        publish_all(broker.port, [status("pending", back * 1000 + 1,
                                         "2022-01-01T00:00:00Z")])
        wait_for(lambda: today_06()["counts"]["pending"] == 1, timeout=20,
                 what="the second status in the store")
    finally:
        assert gw.stop() == 0
    for day in ("2022-06-01", "2024-03-31", "2025-03-31"):
        s = report_json(gw, "--as-of", day)[1][("renir", "06")]
        assert sum(s["counts"].values()) == 0, (day, s["counts"])
    now = today_06()
    assert now["counts"]["pending"] == 1 and now["migrated"] == 0


def test_report_without_data_says_so(tmp_path, broker):
    """Trust II point 4: before the first record, or with nothing eligible,
    a report says "no data" in every format, never met, and says when its
    data start."""
    import time
    gw = Gateway(tmp_path, broker.port)
    i = gw.args.index("--today")
    del gw.args[i:i + 2]
    gw.start()
    try:
        publish_all(broker.port, [
            (unit_topic("renir", "06", "m", "a"), unit_payload(
                "renir", "06", "m", "a", "migrated", 1), True),
            (unit_topic("renir", "05", "e", "b"), unit_payload(
                "renir", "05", "e", "b", "retired", 1), True)])
        wait_for(lambda: report_json(gw, "--program", "renir")[1][
            ("renir", "all")]["counts"]["retired"] == 1, timeout=20,
            what="the statuses in the store")
    finally:
        assert gw.stop() == 0
    first = dt.datetime.fromtimestamp(sqlite3.connect(os.path.join(
        gw.data, "vigie.db")).execute("SELECT MIN(at) FROM transition")
        .fetchone()[0], ZoneInfo(TZ))
    since_utc = rfc(first)
    since_local = first.strftime("%Y-%m-%d %H:%M")
    assert first.timestamp() <= time.time()

    # before the first record: every region and the province, every format
    for lang, none, since in (("fr", "aucune donnée", "Données depuis le"),
                              ("en", "no data", "Data since")):
        table = run_report(gw, "--as-of", "2025-03-31", "--lang", lang)
        assert "✔" not in table
        assert f"{since} {since_local}" in table
        assert table.count(none) >= 36
        rows = list(csv.reader(io.StringIO(run_report(
            gw, "--as-of", "2025-03-31", "--format", "csv", "--lang", lang))))
        assert len(rows) == 37
        met = rows[0].index("met" if lang == "en" else "atteinte")
        assert {r[met] for r in rows[1:]} == {none}
        assert {r[-1] for r in rows[1:]} == {since_utc}

    out, by = report_json(gw, "--as-of", "2025-03-31")
    assert out["data_since"] == since_utc
    assert len(by) == 36
    for s in by.values():
        assert s["no_data"] is True and s["eligible"] == 0
        assert s["target"]["met"] is None
        assert all(t["met"] is None for t in s["targets"])

    # after it: a region with no unit, or only retired ones, has no data;
    # the region with a migrated unit (and the province) meet the target
    out, by = report_json(gw, "--program", "renir")
    for reg in ("01", "05"):
        assert by[("renir", reg)]["no_data"] is True, reg
        assert by[("renir", reg)]["target"]["met"] is None, reg
    for reg in ("06", "all"):
        assert by[("renir", reg)]["no_data"] is False, reg
        assert by[("renir", reg)]["target"]["met"] is True, reg
    table = run_report(gw, "--program", "renir", "--lang", "en").splitlines()
    line = lambda code: next(x for x in table if x.startswith(code))
    assert "no data" in line("05 ") and "✔" not in line("05 ")
    assert "✔ met" in line("06 ") and "✔ met" in line("All of Quebec")
