#!/usr/bin/env python3
"""bench/gateway-vs-sub: does the gateway keep up with the broker?

One stream of N unit statuses (N distinct units, QoS 1, from the C load
generator bench/loadgen) goes through a private mosquitto to two
subscribers at once: a plain `mosquitto_sub` (the peer, which only
receives) and vigie-gateway (which decodes, validates, applies and
aggregates every message).  Rate = N / time from the first publish to the
last message received (mosquitto_sub exits after N) or applied (the
gateway's retained province summaries count N units).  Goal: gateway ÷
mosquitto_sub ≥ 0.95.  Medians over RUNS fresh runs.

With --nats, each run is made twice, on one mosquitto and on a 3-node NATS
JetStream cluster (bench/natskit.py: deploy/nats/'s MQTT and JetStream
settings, no TLS; --untuned sets NATS's default `max_ack_pending`, 1,024, in its mqtt
block): the gateway, the peer and the watcher on node 1, the generator on
node 2, so that every message crosses the cluster.  It prints the ratio on
each, and the cluster's rates ÷ mosquitto's (median of per-run ratios).

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


def one_run(n, tmp, nats=None, limit=600):
    """nats: None for one mosquitto, else the cluster's max_ack_pending.
    On the cluster a subscriber that has not got everything after limit s
    is a figure (None, and what it had), not an error."""
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
             brokers, "--data-dir", data, "--coalesce-ms", "10",
             "--today", "2024-06-01"] +
            (["--broker-kind", "nats"] if cluster else []), stderr=gwlog))
        if cluster:
            # the gateway subscribed (its replay marker came back)
            wait(lambda: "replayed" in open(gwlog.name).read(), 60,
                 "gateway")
            before = consumers(cluster)
        sub = subprocess.Popen(["mosquitto_sub", "-p", str(port), "-q", "1",
                                "-t", "vigie/v1/unit/#", "-C", str(n)],
                               stdout=subprocess.DEVNULL)
        procs.append(sub)
        if cluster:
            # its two consumers exist: its SUBACK is on the way
            wait(lambda: consumers(cluster) >= before + 2, 60,
                 "mosquitto_sub's consumers", 0.1)
        totals = {}
        watcher = mqtt.Client()

        def on_message(_c, _u, m):
            s = json.loads(m.payload)
            totals[s["program"]] = sum(s["counts"].values())
        watcher.on_message = on_message
        watcher.connect("127.0.0.1", port)
        watcher.subscribe("vigie/v1/summary/+/all", qos=0)
        watcher.loop_start()
        wait(lambda: "replayed" in open(gwlog.name).read(), 10, "gateway")
        time.sleep(0.5)  # mosquitto_sub subscribed
        t0 = time.monotonic()
        gen = subprocess.Popen([os.path.join(BUILD, "bench", "loadgen"),
                                "127.0.0.1", str(pub_port), str(n), str(n),
                                "2000"], stdout=subprocess.PIPE)
        t_sub = t_gw = None
        end = t0 + limit
        while (t_sub is None or t_gw is None) and time.monotonic() < end:
            now = time.monotonic()
            if t_sub is None and sub.poll() is not None:
                t_sub = now
            if t_gw is None and sum(totals.values()) >= n:
                t_gw = now
            time.sleep(0.002)
        gen.wait(60)
        watcher.loop_stop()
        if cluster is None and (t_sub is None or t_gw is None):
            raise RuntimeError("a subscriber did not get every message")
        return (n / (t_sub - t0) if t_sub else None,
                n / (t_gw - t0) if t_gw else None,
                sum(totals.values()))
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        if cluster:
            cluster.stop()


def main_nats(n, runs, ack_pending):
    rows = []
    for i in range(runs):
        row = []
        for nats in (None, ack_pending):
            tmp = tempfile.mkdtemp(prefix="vigie-bench-")
            try:
                row.append(one_run(n, tmp, nats, limit=180))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        (ms, mg, _), (ns, ng, got) = row
        if ns is None or ng is None:
            print(f"  run {i + 1}: mosquitto sub {ms:.0f} gw {mg:.0f} msg/s;"
                  f" nats: mosquitto_sub {'done' if ns else 'NOT done'}, "
                  f"gateway {'done' if ng else 'NOT done'} after 180 s "
                  f"(its summaries count {got} of {n} units)", flush=True)
            continue
        rows.append(row)
        print(f"  run {i + 1}: mosquitto sub {ms:.0f} gw {mg:.0f} msg/s "
              f"({mg / ms:.3f}); nats sub {ns:.0f} gw {ng:.0f} msg/s "
              f"({ng / ns:.3f})", flush=True)
    if not rows:
        print(f"gateway-vs-sub --nats: no run of {runs} complete on the "
              "cluster within 180 s")
        return

    def med(f):
        return statistics.median(f(r) for r in rows)

    def rng(f):
        v = [f(r) for r in rows]
        return f"{min(v):.3f}-{max(v):.3f}"
    print(f"gateway-vs-sub --nats: {n} messages (distinct units, QoS 1), "
          f"{len(rows)} complete runs of {runs} (medians, min-max)"
          + f"; cluster max_ack_pending {ack_pending}")
    print(f"  mosquitto:  mosquitto_sub {med(lambda r: r[0][0]):.0f} msg/s, "
          f"gateway {med(lambda r: r[0][1]):.0f} msg/s, ratio "
          f"{med(lambda r: r[0][1] / r[0][0]):.3f} "
          f"({rng(lambda r: r[0][1] / r[0][0])})")
    print(f"  NATS x3:    mosquitto_sub {med(lambda r: r[1][0]):.0f} msg/s, "
          f"gateway {med(lambda r: r[1][1]):.0f} msg/s, ratio "
          f"{med(lambda r: r[1][1] / r[1][0]):.3f} "
          f"({rng(lambda r: r[1][1] / r[1][0])})")
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
            s, g, _ = one_run(n, tmp)
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
