#!/usr/bin/env python3
"""bench/restart_broker.py: restart at scale, broker included (docs/BENCHMARKS.md).

A private mosquitto (persistence off, max_queued_messages 2,000,000 and
max_inflight_messages 100 as in deploy/mosquitto/vigie.conf) is filled with
N retained unit statuses by bench/loadgen (RETAIN=1, UNITS=N: unit u is
program u%2, region u%17+1, state u%4).  The gateway runs once to build its
SQLite store from the replay, and is stopped with SIGTERM.  Then RUNS times:
the retained summaries are cleared, the gateway is started again and timed
from process start to the moment every one of the 36 summaries
(2 programs x 17 regions + all) it publishes equals the totals computed
here, independently, from the generator's formula.  That time holds the
SQLite load AND the broker's retained replay of N messages, which the
gateway waits for (its sync marker) before it publishes.

Peer, same run, same broker, same retained set: `mosquitto_sub -q 1 -t
'vigie/v1/unit/#' -C N` (the gateway subscribes at QoS 1) from process
start to exit; and the same at QoS 0 for reference.

Memory: the gateway's VmRSS once its summaries are correct at N units,
minus its VmRSS with no unit (same broker, before the fill), / N.

Other gateway builds (RESTART_PEERS="path/to/vigie-gateway ...", e.g. the
previous commit built in a worktree) are timed in the same runs, each on
its own copy of the same store, so a change is measured against what it
replaces on the same broker and the same load.  RESTART_WRAP="perf record
-g -o FILE --" runs each timed gateway under a profiler.

usage: restart_broker.py [N [RUNS]]
"""
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
from benchkit import BUILD, free_port, wait

PROGRAMS = ("renir", "rgt")
STATES = ("pending", "migrating", "migrated", "retired", "unknown")
REGIONS = [f"{r:02d}" for r in range(1, 18)] + ["all"]




def expected_totals(n):
    """Counts per (program, region) from loadgen's formula, one pass."""
    exp = {(p, r): dict.fromkeys(STATES, 0) for p in PROGRAMS for r in REGIONS}
    for u in range(n):
        p = PROGRAMS[u % 2]
        st = STATES[u % 4]          # state = (i / units + u) % 4, i = u < N
        exp[(p, f"{u % 17 + 1:02d}")][st] += 1
        exp[(p, "all")][st] += 1
    return exp


def status_kib(pid, keys=("VmRSS", "RssAnon", "RssFile")):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keys:
                out[k] = int(v.split()[0])
    return out


class Watcher:
    """Summaries published live (not retained replays) after arm()."""

    def __init__(self, port, expected):
        self.exp = expected
        self.lock = threading.Lock()
        self.latest = {}
        self.t_ok = None
        self.c = mqtt.Client()
        self.c.on_message = self.on_message
        self.c.connect("127.0.0.1", port)
        self.c.subscribe("vigie/v1/summary/#", qos=1)
        self.c.loop_start()

    def arm(self, expected=None):
        with self.lock:
            if expected is not None:
                self.exp = expected
            self.latest = {}
            self.t_ok = None

    def on_message(self, _c, _u, m):
        now = time.monotonic()
        if m.retain or not m.payload:
            return
        parts = m.topic.split("/")
        s = json.loads(m.payload)
        with self.lock:
            self.latest[(parts[3], parts[4])] = s["counts"]
            if self.t_ok is None and len(self.latest) == len(self.exp) and \
                    all(self.latest.get(k) == v for k, v in self.exp.items()):
                self.t_ok = now

    def clear_retained(self):
        infos = [self.c.publish(f"vigie/v1/summary/{p}/{r}", b"", qos=1,
                                retain=True)
                 for p in PROGRAMS for r in REGIONS]
        for i in infos:
            i.wait_for_publish()

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()


OURS = os.path.join(BUILD, "vigie-gateway")


def start_gateway(port, data, log, exe=OURS, wrap=()):
    return subprocess.Popen(
        [*wrap, exe, "--broker", f"127.0.0.1:{port}",
         "--data-dir", data, "--today", "2024-06-01"],
        stderr=log, stdout=subprocess.DEVNULL)


def stop(p, timeout=120):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def cpu_s(pid):
    """User + system CPU seconds of a live process, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def gw_log_ms(path, pattern):
    with open(path) as f:
        found = re.findall(pattern, f.read())
    return int(found[-1]) if found else None


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    tmp = tempfile.mkdtemp(prefix="vigie-restart-")
    port = free_port()
    conf = os.path.join(tmp, "m.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                "persistence false\nmax_queued_messages 2000000\n"
                "max_inflight_messages 100\n")
    procs = []
    zero = {(p, r): dict.fromkeys(STATES, 0) for p in PROGRAMS for r in REGIONS}
    try:
        broker = subprocess.Popen(["mosquitto", "-c", conf],
                                  stderr=subprocess.DEVNULL)
        procs.append(broker)
        wait(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0,
             10, "broker")
        w = Watcher(port, zero)

        # 0. the gateway with no unit: its RSS once it published summaries
        log0 = os.path.join(tmp, "gw0.log")
        w.arm(zero)
        with open(log0, "w") as lf:
            g = start_gateway(port, os.path.join(tmp, "empty"), lf)
        procs.append(g)
        wait(lambda: w.t_ok is not None, 60, "empty gateway summaries")
        time.sleep(1.0)
        rss_empty = status_kib(g.pid)
        stop(g)
        w.clear_retained()

        # 1. fill the broker, compute the totals
        t = time.monotonic()
        gen = subprocess.run([os.path.join(BUILD, "bench", "loadgen"),
                              "127.0.0.1", str(port), str(n), str(n), "2000",
                              "1"], capture_output=True, text=True,
                             timeout=900, check=True)
        print(f"  (broker filled in {time.monotonic() - t:.1f} s)")
        exp = expected_totals(n)
        broker_rss = status_kib(broker.pid)["VmRSS"]

        # 2. first run: builds the SQLite store from the replay alone
        data = os.path.join(tmp, "data")
        log1 = os.path.join(tmp, "gw1.log")
        w.arm(exp)
        t = time.monotonic()
        with open(log1, "w") as lf:
            g = start_gateway(port, data, lf)
        procs.append(g)
        wait(lambda: w.t_ok is not None, 900, "first run summaries", 0.05)
        t_cold = w.t_ok - t
        time.sleep(2.0)  # the store batches of the replay are written
        stop(g)

        # 3. timed restarts, each gateway on its own copy of the store,
        # then the peers
        gws = [OURS] + os.environ.get("RESTART_PEERS", "").split()
        wrap = os.environ.get("RESTART_WRAP", "").split()
        datas = []
        for k in range(len(gws)):
            datas.append(os.path.join(tmp, f"data{k}"))
            shutil.copytree(data, datas[-1])
        rows = []
        for i in range(runs):
            per = []
            for k, exe in enumerate(gws):
                w.clear_retained()
                w.arm(exp)
                log = os.path.join(tmp, f"gw{k}-r{i}.log")
                t = time.monotonic()
                b0 = cpu_s(broker.pid)
                with open(log, "w") as lf:
                    g = start_gateway(port, datas[k], lf, exe, wrap)
                procs.append(g)
                wait(lambda: w.t_ok is not None, 900, "restart summaries",
                     0.002)
                t_gw = w.t_ok - t
                cpu = cpu_s(g.pid)
                bcpu = cpu_s(broker.pid) - b0
                rss = status_kib(g.pid) if not wrap else {"VmRSS": 0,
                                                          "RssAnon": 0}
                if not wrap and os.environ.get("RESTART_RSS_LATE"):
                    # the receipts of every site, republished after the
                    # marker, are still being queued at t_ok: RSS later
                    time.sleep(float(os.environ["RESTART_RSS_LATE"]))
                    rss["late"] = status_kib(g.pid)["VmRSS"]
                stop(g)
                per.append((t_gw, rss, cpu, bcpu,
                            gw_log_ms(log, r"store: \d+ units restored in "
                                      r"(\d+) ms"),
                            gw_log_ms(log, r"retained state replayed in "
                                      r"(\d+) ms")))
            peers = {}
            for q in ("1", "0"):
                t = time.monotonic()
                c0 = children_cpu_s()
                b0 = cpu_s(broker.pid)
                subprocess.run(["mosquitto_sub", "-p", str(port), "-q", q,
                                "-t", "vigie/v1/unit/#", "-C", str(n)],
                               stdout=subprocess.DEVNULL, timeout=900,
                               check=True)
                peers[q] = time.monotonic() - t
                peers["cpu" + q] = children_cpu_s() - c0
                peers["bcpu" + q] = cpu_s(broker.pid) - b0
            rows.append((per, peers["1"], peers["0"], peers["cpu1"],
                         peers["bcpu1"]))
            for k, (t_gw, rss, cpu, bcpu, load_ms, replay_ms) in \
                    enumerate(per):
                print(f"  run {i + 1}: {'gateway' if k == 0 else gws[k]} "
                      f"{t_gw:.2f} s, CPU {cpu:.2f} s, broker's "
                      f"{bcpu:.2f} s (store load "
                      f"{load_ms} ms, replay "
                      f"{replay_ms} ms), VmRSS {rss['VmRSS']} KiB"
                      + (f" ({rss['late']} KiB "
                         f"{os.environ['RESTART_RSS_LATE']} s later)"
                         if "late" in rss else ""), flush=True)
            print(f"  run {i + 1}: mosquitto_sub q1 {peers['1']:.2f} s, "
                  f"CPU {peers['cpu1']:.2f} s, broker's "
                  f"{peers['bcpu1']:.2f} s, "
                  f"q0 {peers['0']:.2f} s", flush=True)
        w.stop()
    finally:
        for p in reversed(procs):
            stop(p, 30)
        shutil.rmtree(tmp, ignore_errors=True)

    def med(k):
        return statistics.median(k(r) for r in rows)

    def spread(k):
        v = [k(r) for r in rows]
        return f"{min(v):.2f}-{max(v):.2f}"
    q1, q0 = med(lambda r: r[1]), med(lambda r: r[2])
    print(f"restart-broker: {n} retained units, {runs} restarts (medians, "
          "min-max)")
    print(f"  fill: {gen.stdout.strip()}; broker VmRSS {broker_rss} KiB")
    print(f"  first start, empty store, replay only: {t_cold:.2f} s")
    print(f"  peer mosquitto_sub -q 1 -C {n}: {q1:.2f} s "
          f"({spread(lambda r: r[1])}), CPU {med(lambda r: r[3]):.2f} s "
          f"({spread(lambda r: r[3])}), broker's CPU meanwhile "
          f"{med(lambda r: r[4]):.2f} s")
    print(f"  (mosquitto_sub -q 0 -C {n}: {q0:.2f} s "
          f"({spread(lambda r: r[2])}))")
    for k, exe in enumerate(gws):
        name = "gateway" if k == 0 else exe
        print(f"  {name}: restart -> all 36 summaries correct: "
              f"{med(lambda r: r[0][k][0]):.2f} s "
              f"({spread(lambda r: r[0][k][0])}; store load "
              f"{med(lambda r: r[0][k][4] or 0):.0f} ms, retained replay "
              f"{med(lambda r: r[0][k][5] or 0):.0f} ms)  goal <= 30 s")
        print(f"    ratio to mosquitto_sub -q 1, same run: "
              f"{med(lambda r: r[0][k][0] / r[1]):.2f} "
              f"({spread(lambda r: r[0][k][0] / r[1])})")
        print(f"    CPU (user+sys, all threads, start to summaries right): "
              f"{med(lambda r: r[0][k][2]):.2f} s "
              f"({spread(lambda r: r[0][k][2])}); ratio to mosquitto_sub "
              f"-q 1's CPU {med(lambda r: r[0][k][2] / r[3]):.2f} "
              f"({spread(lambda r: r[0][k][2] / r[3])}); broker's CPU "
              f"meanwhile {med(lambda r: r[0][k][3]):.2f} s")
    if not wrap:
        rss_full = med(lambda r: r[0][0][1]["VmRSS"])
        anon_full = med(lambda r: r[0][0][1]["RssAnon"])
        print(f"  gateway memory: VmRSS {rss_empty['VmRSS']} -> "
              f"{rss_full:.0f} KiB = "
              f"{(rss_full - rss_empty['VmRSS']) * 1024 / n:.1f} B/unit "
              f"(RssAnon {rss_empty['RssAnon']} -> {anon_full:.0f} KiB = "
              f"{(anon_full - rss_empty['RssAnon']) * 1024 / n:.1f} B/unit)"
              "  goal <= 200 B")
        for k, exe in enumerate(gws):
            if "late" in rows[0][0][k][1]:
                late = med(lambda r: r[0][k][1]["late"])
                print(f"    {'gateway' if k == 0 else exe}: VmRSS "
                      f"{os.environ['RESTART_RSS_LATE']} s later {late:.0f} "
                      f"KiB = {(late - rss_empty['VmRSS']) * 1024 / n:.1f} "
                      "B/unit")

if __name__ == "__main__":
    main()
