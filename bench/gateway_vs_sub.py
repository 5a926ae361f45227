#!/usr/bin/env python3
"""bench/gateway-vs-sub: does the gateway keep up with the broker?

One stream of N unit statuses (N distinct units, QoS 1, from the C load
generator bench/loadgen) goes through a private mosquitto to two
subscribers at once: a plain `mosquitto_sub` (the peer, which only
receives) and vigie-gateway (which decodes, validates, applies and
aggregates every message).  Rate = N / time from the first publish to the
last message received (mosquitto_sub -F %U's receive time) or applied (the
gateway's retained province summaries count N units).  Goal: gateway ÷
mosquitto_sub ≥ 0.95.  Medians over RUNS fresh runs.

With --nats, each run is made twice, on one mosquitto and on a 3-node NATS
JetStream cluster (bench/natskit.py: deploy/nats/'s MQTT and JetStream
settings, no TLS; --untuned sets NATS's default `max_ack_pending`, 1,024, in its mqtt
block): the gateway, the peer and the watcher on node 1, the generator on
node 2, so that every message crosses the cluster.  There the statuses
are retained, as the agents' are, and since nats-server 2.9 loses a few
live QoS 1 deliveries to any subscriber under this load, a rate is what
the subscriber got live ÷ the time to its last live message; the run
also prints what each missed and when the gateway's counts were exact
again (its re-read, --resync-interval 150: after the stream, which takes 30 to 90 s there).  It prints the ratio on each,
and the cluster's rates ÷ mosquitto's (median of per-run ratios).

usage: gateway_vs_sub.py [N [RUNS]] [--nats [--untuned]]
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import paho.mqtt.client as mqtt
from benchkit import BUILD, free_port, wait
from natskit import Cluster





def consumers(cluster):
    """JetStream consumers of the MQTT messages stream, seen from node 1:
    a QoS 1 subscription to a/# is two, made before its SUBACK."""
    code, body = cluster.http(0, "/jsz?consumers=true")
    if code != 200:
        return -1
    return sum(len(st.get("consumer_detail") or [])
               for a in json.loads(body).get("account_details", [])
               for st in a.get("stream_detail", [])
               if st.get("name") == "$MQTT_msgs")


def _sub_times(path):
    """mosquitto_sub -F %U's receive times (Unix s), one a line."""
    with open(path) as f:
        return [float(x) for x in f.read().split()]


def one_run(n, tmp, nats=None, limit=600, resync=150):
    """nats: None for one mosquitto, else the cluster's max_ack_pending.

    On mosquitto the statuses are not retained and every subscriber must
    get them all.  On the cluster they are retained, as the agents'
    are: NATS 2.9 loses a few live QoS 1 deliveries to any subscriber
    under this load, so each subscriber's rate is what it received live ÷
    the time to its last live message, what it missed is a figure, and
    the gateway's re-read (--resync-interval resync s after its sync)
    must then bring its counts to exactly N, within limit s.

    Returns (sub rate, gw rate, sub missed, gw missed live, gw total,
    s from start to the gateway's exact counts or None)."""
    procs, cluster = [], None
    try:
        if nats is None:
            port = pub_port = free_port()
            conf = os.path.join(tmp, "m.conf")
            with open(conf, "w") as f:
                f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                        "max_queued_messages 10000000\n"
                        "max_inflight_messages 1000\n")
            procs.append(subprocess.Popen(["mosquitto", "-c", conf],
                                          stderr=subprocess.DEVNULL))
            wait(lambda: socket.socket().connect_ex(("127.0.0.1", port))
                 == 0, 10, "broker")
            brokers = f"127.0.0.1:{port}"
        else:
            cluster = Cluster(tmp, ack_pending=nats).start()
            port, pub_port = cluster.mqtt_ports[0], cluster.mqtt_ports[1]
            brokers = ",".join(cluster.addresses())
        data = tempfile.mkdtemp(dir=tmp)
        gwlog = open(os.path.join(tmp, "gw.log"), "w")
        procs.append(subprocess.Popen(
            [os.path.join(BUILD, "vigie-gateway"), "--broker",
             brokers, "--data-dir", data,
             # 10 ms: a 1 s run measured to 1 %; on the cluster, whose
             # runs take a minute, the default (a retained QoS 1 publish
             # there waits for two replicated writes, and 36 summaries
             # every 10 ms held back the gateway's own deliveries)
             "--coalesce-ms", "200" if cluster else "10",
             "--today", "2024-06-01"] +
            (["--broker-kind", "nats", "--resync-interval", str(resync)]
             if cluster else []), stderr=gwlog))
        # the gateway subscribed (its replay marker came back)
        wait(lambda: "replayed" in open(gwlog.name).read(), 60, "gateway")
        t_synced = time.time()
        if cluster:
            before = consumers(cluster)
        times = os.path.join(tmp, "sub.times")
        sub = subprocess.Popen(["mosquitto_sub", "-p", str(port), "-q", "1",
                                "-t", "vigie/v1/unit/#", "-F", "%U"],
                               stdout=open(times, "w"))
        procs.append(sub)
        if cluster:
            # its two consumers exist: its SUBACK is on the way
            wait(lambda: consumers(cluster) >= before + 2, 60,
                 "mosquitto_sub's consumers", 0.1)
        totals, seen = {}, []  # seen: (Unix time, units counted)
        watcher = mqtt.Client()

        def on_message(_c, _u, m):
            s = json.loads(m.payload)
            totals[s["program"]] = sum(s["counts"].values())
            seen.append((time.time(), sum(totals.values())))
        watcher.on_message = on_message
        watcher.connect("127.0.0.1", port)
        watcher.subscribe("vigie/v1/summary/+/all", qos=0)
        watcher.loop_start()
        time.sleep(0.5)  # mosquitto_sub subscribed
        t0 = time.time()
        gen = subprocess.Popen([os.path.join(BUILD, "bench", "loadgen"),
                                "127.0.0.1", str(pub_port), str(n), str(n),
                                "2000", "1" if cluster else "0"],
                               stdout=subprocess.PIPE)
        end = time.monotonic() + limit
        # %U lines are fixed-width: the file's size counts them cheaply
        width = len(f"{t0:.9f}") + 1
        while time.monotonic() < end and not (
                os.path.getsize(times) >= n * width and seen and
                seen[-1][1] >= n):
            time.sleep(0.05)
        gen.wait(60)
        watcher.loop_stop()
        sub_t = _sub_times(times)[:n]
        # the gateway's live deliveries: before its first re-read
        cut = t_synced + resync if cluster else float("inf")
        live = [(t, k) for t, k in seen if t < cut]
        g_n, g_t = max(((k, t) for t, k in live), default=(0, t0))
        exact = next((t - t0 for t, k in seen if k >= n), None)
        if cluster is None and (len(sub_t) < n or g_n < n):
            raise RuntimeError("a subscriber did not get every message")
        return (len(sub_t) / (max(sub_t) - t0) if sub_t else None,
                g_n / (g_t - t0) if g_n else None,
                n - len(sub_t), n - g_n, seen[-1][1] if seen else 0, exact)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        if cluster:
            cluster.stop()


def main_nats(n, runs, ack_pending, limit=240, resync=150):
    rows = []
    for i in range(runs):
        row = []
        for nats in (None, ack_pending):
            tmp = tempfile.mkdtemp(prefix="vigie-bench-")
            try:
                row.append(one_run(n, tmp, nats, limit, resync))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        m, c = row
        exact = (f"exact {c[5]:.0f} s after the start" if c[5] is not None
                 else f"NOT exact within {limit} s ({c[4]} of {n})")
        print(f"  run {i + 1}: mosquitto sub {m[0]:.0f} gw {m[1]:.0f} msg/s "
              f"({m[1] / m[0]:.3f}); nats sub {c[0]:.0f} gw {c[1]:.0f} "
              f"msg/s ({c[1] / c[0]:.3f}), live deliveries lost: sub "
              f"{c[2]}, gw {c[3]}; gateway {exact}", flush=True)
        rows.append(row)

    def med(f):
        return statistics.median(f(r) for r in rows)

    def rng(f):
        v = [f(r) for r in rows]
        return f"{min(v):.3f}-{max(v):.3f}"
    print(f"gateway-vs-sub --nats: {n} messages (distinct units, QoS 1), "
          f"{runs} runs (medians, min-max); cluster max_ack_pending "
          f"{ack_pending}, statuses retained there, gateway "
          f"--resync-interval {resync}")
    print(f"  mosquitto:  mosquitto_sub {med(lambda r: r[0][0]):.0f} msg/s, "
          f"gateway {med(lambda r: r[0][1]):.0f} msg/s, ratio "
          f"{med(lambda r: r[0][1] / r[0][0]):.3f} "
          f"({rng(lambda r: r[0][1] / r[0][0])})")
    print(f"  NATS x3:    mosquitto_sub {med(lambda r: r[1][0]):.0f} msg/s, "
          f"gateway {med(lambda r: r[1][1]):.0f} msg/s, ratio "
          f"{med(lambda r: r[1][1] / r[1][0]):.3f} "
          f"({rng(lambda r: r[1][1] / r[1][0])}); live deliveries lost "
          f"per run: mosquitto_sub {[r[1][2] for r in rows]}, gateway "
          f"{[r[1][3] for r in rows]}; gateway exact after "
          f"{[round(r[1][5]) if r[1][5] is not None else None for r in rows]}"
          " s")
    print(f"  cluster / mosquitto: mosquitto_sub "
          f"{med(lambda r: r[1][0] / r[0][0]):.3f} "
          f"({rng(lambda r: r[1][0] / r[0][0])}), gateway "
          f"{med(lambda r: r[1][1] / r[0][1]):.3f} "
          f"({rng(lambda r: r[1][1] / r[0][1])})")


def main():
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 200000
    runs = int(args[1]) if len(args) > 1 else 5
    if "--nats" in flags:
        # deploy/nats's max_ack_pending, or NATS's default (--untuned)
        main_nats(n, runs, 1024 if "--untuned" in flags else 13107)
        return
    tmp = tempfile.mkdtemp(prefix="vigie-bench-")
    subs, gws, ratios = [], [], []
    try:
        for _ in range(runs):
            s, g = one_run(n, tmp)[:2]
            subs.append(s)
            gws.append(g)
            ratios.append(g / s)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"gateway-vs-sub: {n} messages (distinct units, QoS 1), {runs} runs")
    print(f"  mosquitto_sub received: median {statistics.median(subs):.0f} msg/s")
    print(f"  vigie-gateway applied:  median {statistics.median(gws):.0f} msg/s")
    print(f"  ratio gateway/sub: median {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f})")


if __name__ == "__main__":
    main()
