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

usage: gateway_vs_sub.py [N [RUNS]]
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





def one_run(n, tmp):
    port = free_port()
    conf = os.path.join(tmp, "m.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                "max_queued_messages 10000000\nmax_inflight_messages 1000\n")
    procs = []
    try:
        procs.append(subprocess.Popen(["mosquitto", "-c", conf],
                                      stderr=subprocess.DEVNULL))
        wait(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0,
             10, "broker")
        data = tempfile.mkdtemp(dir=tmp)
        gwlog = open(os.path.join(tmp, "gw.log"), "w")
        procs.append(subprocess.Popen(
            [os.path.join(BUILD, "vigie-gateway"), "--broker",
             f"127.0.0.1:{port}", "--data-dir", data, "--coalesce-ms", "10",
             "--today", "2024-06-01"], stderr=gwlog))
        sub = subprocess.Popen(["mosquitto_sub", "-p", str(port), "-q", "1",
                                "-t", "vigie/v1/unit/#", "-C", str(n)],
                               stdout=subprocess.DEVNULL)
        procs.append(sub)
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
                                "127.0.0.1", str(port), str(n), str(n),
                                "2000"], stdout=subprocess.PIPE)
        t_sub = t_gw = None
        end = t0 + 300
        while (t_sub is None or t_gw is None) and time.monotonic() < end:
            now = time.monotonic()
            if t_sub is None and sub.poll() is not None:
                t_sub = now
            if t_gw is None and sum(totals.values()) >= n:
                t_gw = now
            time.sleep(0.002)
        gen.wait(60)
        watcher.loop_stop()
        if t_sub is None or t_gw is None:
            raise RuntimeError("a subscriber did not get every message")
        return n / (t_sub - t0), n / (t_gw - t0)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                p.wait(10)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    tmp = tempfile.mkdtemp(prefix="vigie-bench-")
    subs, gws, ratios = [], [], []
    try:
        for _ in range(runs):
            s, g = one_run(n, tmp)
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
