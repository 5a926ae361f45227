#!/usr/bin/env python3
"""bench/fanout: live dashboards on one gateway, against MQTT's fan-out.

Each run starts a private mosquitto and a gateway (--http, default bounds
but --http-max-per-ip raised: every viewer here is 127.0.0.1), then
bench/fanout twice on them:

1. VIEWERS event streams (/api/v1/events) while a unit changes every
   PERIOD ms, CHANGES times: per change, the time from the MQTT publish
   of the unit to the last viewer showing it; /healthz and
   /api/v1/summary times meanwhile; the gateway's resident memory before
   the streams and once every change is delivered (RSS per stream =
   difference / VIEWERS);
2. the peer: VIEWERS MQTT subscribers of vigie/v1/summary/# on the same
   broker, the same kind of changes: the time from the unit's publish to
   the last subscriber holding the summary the gateway published for it.

Both paths share everything up to the gateway's coalesced publish (the
unit's trip through mosquitto, the gateway's --coalesce-ms 200); they
differ in what carries the summary to a thousand readers.  Prints each
run and the medians over RUNS (min-max), and the ratio of the p99s
(streams / subscribers, per run, then its median).

usage: fanout.py [--viewers N] [--runs R] [--changes K] [--period-ms P]
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request

from benchkit import BUILD, free_port, start_mosquitto, stop, wait


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def cpu_s(pid):
    """User + system CPU seconds a process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                timeout=10) as r:
        return json.loads(r.read())


def healthy(port):
    try:
        return http_json(port, "/healthz")["status"] == "ok"
    except OSError:
        return False


def phase(mode, hport, mport, a, base, run, gw, broker):
    """One bench/fanout run; its figures plus memory (KiB)."""
    p = subprocess.Popen([os.path.join(BUILD, "bench", "fanout"), mode,
                          str(hport), str(mport), str(a.viewers),
                          str(a.changes), str(a.period_ms), str(base),
                          str(run)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    out = {"gw_rss_before": rss_kib(gw.pid),
           "broker_rss_before": rss_kib(broker.pid)}
    try:
        for want in ("ready", "done"):
            line = p.stdout.readline().strip()
            if line != want:
                raise RuntimeError(f"fanout {mode}: {line!r}, not {want}")
            out[f"gw_rss_{want}"] = rss_kib(gw.pid)
            out[f"broker_rss_{want}"] = rss_kib(broker.pid)
            for who, q in (("gw", gw), ("broker", broker), ("client", p)):
                out[f"{who}_cpu_{want}"] = cpu_s(q.pid)
        p.stdin.write("\n")
        p.stdin.flush()
        out.update(json.loads(p.stdout.readline()))
        if p.wait(60) != 0:
            raise RuntimeError(f"fanout {mode} failed")
    finally:
        stop(p)
    return out


def one_run(a, run):
    tmp = tempfile.mkdtemp(prefix="vigie-fanout-")
    broker = gw = None
    try:
        # the peer at its best: no Nagle delay on its deliveries
        broker, mport = start_mosquitto(tmp, "set_tcp_nodelay true\n")
        hport = free_port()
        log = open(os.path.join(tmp, "gateway.log"), "w")
        gw = subprocess.Popen([
            os.path.join(BUILD, "vigie-gateway"),
            "--broker", f"127.0.0.1:{mport}", "--data-dir", tmp,
            "--today", "2024-06-01", "--http", f"127.0.0.1:{hport}",
            "--http-max-per-ip", str(a.viewers + 16)],
            stdout=log, stderr=subprocess.STDOUT)
        wait(lambda: healthy(hport), 30, "gateway healthy", step=0.1)
        base = http_json(hport, "/api/v1/summary/renir/06")["migrated"]
        sse = phase("sse", hport, mport, a, base, run, gw, broker)
        base = http_json(hport, "/api/v1/summary/renir/06")["migrated"]
        peer = phase("mqtt", hport, mport, a, base, run, gw, broker)
        return sse, peer
    finally:
        for p in (gw, broker):
            if p:
                stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


def spread(xs):
    return f"{statistics.median(xs):.1f} ({min(xs):.1f}-{max(xs):.1f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--viewers", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--changes", type=int, default=200)
    ap.add_argument("--period-ms", type=int, default=200)
    a = ap.parse_args()
    # a thousand sockets each for the gateway, mosquitto and the client
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * a.viewers + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (min(want, hard) if hard > 0 else want, hard))
    runs = []
    for r in range(a.runs):
        sse, peer = one_run(a, r)
        runs.append((sse, peer))
        per = (sse["gw_rss_done"] - sse["gw_rss_before"]) / a.viewers
        print(f"run {r + 1}: streams last-viewer p50 {sse['last_p50']:.1f}"
              f" p99 {sse['last_p99']:.1f} ms (missing {sse['missing']});"
              f" MQTT p50 {peer['last_p50']:.1f} p99 {peer['last_p99']:.1f}"
              f" ms (missing {peer['missing']}); /healthz p99"
              f" {sse['healthz_p99']:.1f} ms, API p99 {sse['api_p99']:.1f}"
              f" ms; {per:.1f} KiB per stream", flush=True)
    s = [x[0] for x in runs]
    m = [x[1] for x in runs]
    rows = [
        ("streams: publish -> last viewer p50 (ms)", [x["last_p50"] for x in s]),
        ("streams: publish -> last viewer p99 (ms)", [x["last_p99"] for x in s]),
        ("streams: publish -> last viewer max (ms)", [x["last_max"] for x in s]),
        ("streams: every delivery p99 (ms)", [x["all_p99"] for x in s]),
        ("MQTT: publish -> last subscriber p50 (ms)", [x["last_p50"] for x in m]),
        ("MQTT: publish -> last subscriber p99 (ms)", [x["last_p99"] for x in m]),
        ("MQTT: publish -> last subscriber max (ms)", [x["last_max"] for x in m]),
        ("p99 ratio streams / MQTT", [a_["last_p99"] / b["last_p99"]
                                      for a_, b in runs]),
        ("/healthz during streams p50 (ms)", [x["healthz_p50"] for x in s]),
        ("/healthz during streams p99 (ms)", [x["healthz_p99"] for x in s]),
        ("/api/v1/summary during streams p50 (ms)", [x["api_p50"] for x in s]),
        ("/api/v1/summary during streams p99 (ms)", [x["api_p99"] for x in s]),
        ("gateway RSS per stream (KiB)",
         [(x["gw_rss_done"] - x["gw_rss_before"]) / a.viewers for x in s]),
        ("mosquitto RSS per subscriber (KiB)",
         [(x["broker_rss_done"] - x["broker_rss_before"]) / a.viewers
          for x in m]),
        ("gateway CPU during the streams' changes (s)",
         [x["gw_cpu_done"] - x["gw_cpu_ready"] for x in s]),
        ("client CPU reading the streams (s)",
         [x["client_cpu_done"] - x["client_cpu_ready"] for x in s]),
        ("mosquitto CPU during the MQTT changes (s)",
         [x["broker_cpu_done"] - x["broker_cpu_ready"] for x in m]),
        ("deliveries missing (streams + MQTT)",
         [x["missing"] + y["missing"] for x, y in zip(s, m)]),
    ]
    print(f"\n{a.viewers} viewers, {a.changes} changes every {a.period_ms}"
          f" ms; median over {a.runs} runs (min-max); load average at the"
          f" end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name, xs in rows:
        print(f"  {name:44s} {spread(xs)}")
    print(json.dumps({"runs": [{"streams": x, "mqtt": y} for x, y in runs]}),
          file=sys.stderr)


if __name__ == "__main__":
    main()
