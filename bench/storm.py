#!/usr/bin/env python3
"""bench/storm.py: a birth storm (issue #14, docs/BENCHMARKS.md).

SITES agents x UNITS units reconnect at once: bench/stormgen opens SITES
MQTT connections from one process (client id = site id), and each site
publishes its birth then its UNITS unit statuses, retained, QoS 1.  Two
subscribers already connected receive the same storm:

- vigie-gateway (fresh store, --coalesce-ms 200 as deployed): time from
  the storm's start until every one of the 36 summaries it publishes
  (2 programs x 17 regions + all) has the counts computed here from
  stormgen's formula, and no stale unit (every site's birth applied);
- the peer, `mosquitto_sub -v -q 1 -t 'vigie/v1/unit/#' -C SITES*UNITS`
  (plus -d and stdbuf -oL, to see its SUBACK before the storm): time until it exits.

Each run starts everything afresh, on one mosquitto then on a 3-node NATS
JetStream cluster (bench/natskit.py; sites spread over the nodes in turn,
the gateway, the peer and the summary watcher on node 1), so the two
brokers share the machine's noise.  Prints every run, then medians with
min-max, the ratio gateway / mosquitto_sub on each broker (median of the
per-run ratios), and NATS / mosquitto.

usage: storm.py [--sites 500] [--units 40] [--runs 3] [--threads 2]
                [--brokers mosquitto,nats] [--timeout 600]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

import urllib.request

import paho.mqtt.client as mqtt
from benchkit import BUILD, free_port, stop, wait
from natskit import Cluster, Mosquitto, cpu_s

PROGRAMS = ("renir", "rgt")
STATES = ("pending", "migrating", "migrated", "retired", "unknown")
REGIONS = [f"{r:02d}" for r in range(1, 18)] + ["all"]


def expected(sites, units):
    """Counts per (program, region) from stormgen's formula."""
    exp = {(p, r): dict.fromkeys(STATES, 0) for p in PROGRAMS for r in REGIONS}
    for s in range(sites):
        region = f"{s % 17 + 1:02d}"
        for j in range(units):
            p, st = PROGRAMS[j % 2], STATES[(s * units + j) % 4]
            exp[(p, region)][st] += 1
            exp[(p, "all")][st] += 1
    return exp


class Watcher:
    """The summaries the gateway publishes; t_ok when all are right."""

    def __init__(self, port, exp):
        self.exp = exp
        self.lock = threading.Lock()
        self.latest = {}
        self.t_ok = None
        self.seen = 0
        self.receipts = 0
        self.c = mqtt.Client()
        self.c.on_message = self.on_message
        self.c.connect("127.0.0.1", port, keepalive=60)
        # QoS 0: on NATS no JetStream consumer, nothing to elect
        self.c.subscribe([("vigie/v1/summary/#", 0),
                          ("vigie/v1/receipt/#", 0)])
        self.c.loop_start()

    def on_message(self, _c, _u, m):
        now = time.monotonic()
        if not m.payload:
            return
        if m.topic.startswith("vigie/v1/receipt/"):
            self.receipts += 1
            return
        parts = m.topic.split("/")
        s = json.loads(m.payload)
        with self.lock:
            self.seen += 1
            self.latest[(parts[3], parts[4])] = (s["counts"], s["stale"])
            if self.t_ok is None and all(
                    self.latest.get(k) == (v, 0) for k, v in self.exp.items()):
                self.t_ok = now

    def wrong(self):
        with self.lock:
            return sorted(k for k, v in self.exp.items()
                          if self.latest.get(k) != (v, 0))

    def province(self):
        """Units and stale units in the last `all` summaries."""
        with self.lock:
            got = [self.latest.get((p, "all")) for p in PROGRAMS]
        return (sum(sum(g[0].values()) for g in got if g),
                sum(g[1] for g in got if g))

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()


class Peer:
    """mosquitto_sub -v -q 1 -C n, with -d so that its SUBACK is seen, its
    output to a file, line-buffered (stdbuf -oL) as on a terminal:
    block-buffered, the SUBACK line would wait for 4 KiB of messages."""

    def __init__(self, port, n, path):
        self.path = path
        self.out = open(path, "wb")
        self.p = subprocess.Popen(
            ["stdbuf", "-oL", "mosquitto_sub", "-p", str(port), "-d", "-v",
             "-q", "1", "-t", "vigie/v1/unit/#", "-C", str(n)],
            stdout=self.out, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def subacked(self):
        with open(self.path, "rb") as f:
            return b"received SUBACK" in f.read(4096)

    def received(self):
        """PUBLISH packets it received (redeliveries included)."""
        with open(self.path, "rb") as f:
            return sum(1 for line in f if b"received PUBLISH" in line)


def lines_of(p, into):
    for line in p.stdout:
        into.append((time.monotonic(), line.strip()))


def one_run(kind, a, tmp):
    n = a.sites * a.units
    exp = expected(a.sites, a.units)
    if kind == "mosquitto":
        broker = Mosquitto(tmp)
    else:
        # nats: deploy/nats's settings; nats-untuned: NATS's default
        # max_ack_pending (1,024), as the first measurements had it
        broker = Cluster(tmp, ack_pending=1024 if kind == "nats-untuned"
                         else 13107)
    procs, watcher = [], None
    try:
        broker.start()
        node1 = int(broker.addresses()[0].rsplit(":", 1)[1])
        watcher = Watcher(node1, exp)
        log = os.path.join(tmp, "gw.log")
        http = free_port()
        with open(log, "w") as lf:
            gw = subprocess.Popen(
                [os.path.join(BUILD, "vigie-gateway"), "--broker",
                 ",".join(broker.addresses()), "--data-dir",
                 os.path.join(tmp, "gwdata"), "--today", "2024-06-01",
                 "--http", f"127.0.0.1:{http}"] +
                (["--broker-kind", "nats"] if broker.nats else []),
                stderr=lf, stdout=subprocess.DEVNULL, start_new_session=True)
        procs.append(gw)
        # subscribed, its replay marker back: it will see the whole storm
        wait(lambda: "replayed" in open(log).read(), 90, "gateway replay",
             0.05)
        peer = Peer(node1, n, os.path.join(tmp, "sub.out"))
        procs.append(peer.p)
        wait(peer.subacked, 90, "mosquitto_sub SUBACK", 0.02)
        time.sleep(0.3)  # the gateway's empty summaries are out
        cpu0 = {pid: cpu_s(pid) for pid in broker.pids + [gw.pid]}
        out = []
        t0 = time.monotonic()
        gen = subprocess.Popen(
            [os.path.join(BUILD, "bench", "stormgen"),
             ",".join(broker.addresses()), str(a.sites), str(a.units),
             str(a.threads), str(a.timeout)],
            stdout=subprocess.PIPE, text=True, start_new_session=True)
        procs.append(gen)
        threading.Thread(target=lines_of, args=(gen, out),
                         daemon=True).start()
        end = t0 + a.timeout
        t_sub = t_recv = None
        next_poll = t0
        while time.monotonic() < end and (t_sub is None or
                                          watcher.t_ok is None):
            now = time.monotonic()
            if t_sub is None and peer.p.poll() is not None:
                t_sub = now
            if t_recv is None and now >= next_poll:
                # every birth and status in the gateway's hands (0.25 s
                # resolution: /metrics is not free)
                next_poll = now + 0.25
                if metrics(http).get("vigie_messages_total", 0) >= \
                        a.sites * (a.units + 1):
                    t_recv = time.monotonic()
            if gen.poll() is not None:
                break
            time.sleep(0.002)
        cpu = {pid: cpu_s(pid) - cpu0.get(pid, 0.0)
               for pid in broker.pids + [gw.pid, gen.pid]}
        stop(gen)  # SIGTERM: a clean DISCONNECT for every site, no will
        time.sleep(0.2)
        out_text = "\n".join(t for _, t in out)
        # a run that does not converge within the timeout is a figure
        # too (what broke), not an exception
        wrong = watcher.wrong()
        units, stale = watcher.province()
        got = metrics(http)
        row = {"gw": watcher.t_ok - t0 if watcher.t_ok else None,
               "sub": t_sub - t0 if t_sub else None,
               "recv": t_recv - t0 if t_recv else None,
               "wrong": len(wrong), "sub_got": peer.received(),
               "units": units, "stale": stale,
               "gw_msgs": got.get("vigie_messages_total", 0),
               "gw_dups": got.get("vigie_messages_duplicate_total", 0),
               "conn": _field(out, "connected", t0),
               "pub": _field(out, "published", t0),
               "reconnects": _reconnects(out_text),
               "cpu_broker": sum(cpu[p] for p in broker.pids),
               "cpu_gw": cpu[gw.pid], "cpu_gen": cpu[gen.pid],
               "summaries": watcher.seen, "receipts": watcher.receipts}
        if isinstance(broker, Mosquitto):
            row["nofile"] = broker.nofile()
        else:
            row["redelivered"], row["ack_pending"], row["undelivered"] = \
                consumer_state(broker)
            row["warn"] = len(broker.log_lines("[WRN]"))
            row["slow"] = len(broker.log_lines("Slow Consumer"))
            row["rss_mb"] = [round(broker.varz(k).get("mem", 0) / 2**20)
                             for k in range(3)]
        return row
    finally:
        if watcher:
            watcher.stop()
        for p in reversed(procs):
            stop(p)
        broker.stop()


def metrics(port):
    """The gateway's /metrics counters, summed over their labels."""
    out = {}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                    timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return out
    for line in text.splitlines():
        if line.startswith("vigie_messages"):
            name, _, value = line.rpartition(" ")
            name = name.split("{")[0]
            out[name] = out.get(name, 0) + int(float(value))
    return out


def consumer_state(cluster):
    """(redelivered, ack pending, num_pending) now, over the consumers of
    the MQTT messages stream: each node reports its replica, the leader
    the live figures, so each consumer's largest is taken (num_pending
    counts stream messages, not this subscriber's: not printed)."""
    best = {}
    for k in range(3):
        code, body = cluster.http(k, "/jsz?consumers=true")
        if code != 200:
            continue
        for a in json.loads(body).get("account_details", []):
            for st in a.get("stream_detail", []):
                for c in st.get("consumer_detail") or []:
                    r, p, w = best.get(c["name"], (0, 0, 0))
                    best[c["name"]] = (max(r, c.get("num_redelivered", 0)),
                                       max(p, c.get("num_ack_pending", 0)),
                                       max(w, c.get("num_pending", 0)))
    return tuple(sum(v[i] for v in best.values()) for i in range(3))


def _field(out, word, t0):
    """The time stormgen printed a line starting with word, from t0."""
    for t, text in out:
        if text.startswith(word):
            return float(text.split(" in ")[1].split()[0])
    return None


def _reconnects(text):
    for line in text.splitlines():
        if line.startswith("reconnects"):
            return int(line.split()[1])
    return 0


def med(rows, k):
    v = [r[k] for r in rows if r.get(k) is not None]
    return statistics.median(v) if v else float("nan")


def spread(rows, k):
    v = [r[k] for r in rows if r.get(k) is not None]
    return f"{min(v):.2f}-{max(v):.2f}" if v else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sites", type=int, default=500)
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--brokers", default="mosquitto,nats")
    ap.add_argument("--timeout", type=int, default=600)
    a = ap.parse_args()
    kinds = a.brokers.split(",")
    rows = {k: [] for k in kinds}
    for i in range(a.runs):
        for kind in kinds:
            tmp = tempfile.mkdtemp(prefix=f"vigie-storm-{kind}-")
            try:
                r = one_run(kind, a, tmp)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            rows[kind].append(r)
            gw = f"{r['gw']:.2f} s" if r["gw"] else \
                f"NOT within {a.timeout} s ({r['wrong']} of 36 summaries " \
                f"wrong: {r['units']} units, {r['stale']} stale)"
            sub = f"{r['sub']:.2f} s" if r["sub"] else \
                f"NOT within {a.timeout} s ({r['sub_got']} received)"
            ratio = f"{r['gw'] / r['sub']:.2f}" if r["gw"] and r["sub"] \
                else "-"
            extra = (f"mosquitto nofile {r['nofile']}" if kind == "mosquitto"
                     else f"consumers at the end: redelivered "
                          f"{r['redelivered']}, ack pending "
                          f"{r['ack_pending']}; "
                          f"[WRN] {r['warn']}, slow consumers {r['slow']}, "
                          f"nodes' mem {r['rss_mb']} MiB")
            print(f"  run {i + 1} {kind:10}: gateway {gw}, "
                  f"mosquitto_sub {sub}, ratio {ratio}; stormgen connected "
                  f"{r['conn']} s, acked {r['pub']} s, reconnects "
                  f"{r['reconnects']}; CPU s broker {r['cpu_broker']:.1f} "
                  f"gateway {r['cpu_gw']:.1f} stormgen {r['cpu_gen']:.1f}; "
                  f"gateway received {r['gw_msgs']} ({r['gw_dups']} duplicates)"
                  + (f" all by {r['recv']:.1f} s" if r["recv"] else "") +
                  ", "
                  f"published {r['summaries']} summaries, "
                  f"{r['receipts']} receipts; {extra}", flush=True)
    n = a.sites * a.units
    print(f"storm: {a.sites} sites x {a.units} units = {n} unit statuses "
          f"(+{a.sites} births), QoS 1 retained, {a.runs} runs (medians, "
          "min-max)")
    for kind in kinds:
        rs = rows[kind]
        # a run that did not converge counts as the timeout: the median
        # then says "at least", never flatters
        for r in rs:
            r["gw_t"] = r["gw"] or float(a.timeout)
            r["sub_t"] = r["sub"] or float(a.timeout)
        late = sum(1 for r in rs if not r["gw"] or not r["sub"])
        print(f"  {kind:10}: gateway all 36 summaries right "
              f"{med(rs, 'gw_t'):.2f} s ({spread(rs, 'gw_t')}), mosquitto_sub"
              f" -C {n} {med(rs, 'sub_t'):.2f} s ({spread(rs, 'sub_t')}); "
              f"ratio gateway/mosquitto_sub "
              f"{statistics.median(r['gw_t'] / r['sub_t'] for r in rs):.2f}; "
              f"all connected {med(rs, 'conn'):.2f} s, all acknowledged "
              f"{med(rs, 'pub'):.2f} s, all in the gateway's hands "
              + (f"{med(rs, 'recv'):.2f} s" if any(r["recv"] for r in rs)
                 else "- (not seen: done between two 0.25 s polls, or never)")
              + (f"; {late} run(s) not done in {a.timeout} s, counted as "
                 f"{a.timeout} s" if late else ""))
    for kind in kinds:
        if kind == "mosquitto" or "mosquitto" not in rows:
            continue
        pairs = list(zip(rows[kind], rows["mosquitto"]))
        print(f"  {kind}/mosquitto: gateway "
              f"{statistics.median(x['gw_t'] / y['gw_t'] for x, y in pairs):.2f}"
              ", mosquitto_sub "
              f"{statistics.median(x['sub_t'] / y['sub_t'] for x, y in pairs):.2f}"
              " (time ratios, per run pair)")


if __name__ == "__main__":
    main()
