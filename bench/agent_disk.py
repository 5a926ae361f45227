#!/usr/bin/env python3
"""make agent-bench: what the agent's durable store costs an SD card.

On loopback: a private mosquitto, vigie-sim (4 slaves), and the agent
polling UNITS registers with bench/slowsync.so preloaded, so that every
fsync and fdatasync costs SYNC_MS (10 ms, an SD card's order) and the calls
that touch the disk are counted.  Two figures, medians over RUNS fresh
runs, for each agent binary given (--agent, repeatable: the peer is the
same bench on another build, e.g. the one before a change):

  first start   wall time from an empty data directory until every unit
                has been read, published and acknowledged, and the disk
                calls that took;
  per change    disk calls per state change, CHANGES changes at a time
                after a restart, once all are published and acknowledged.

Nothing is asserted: it prints figures for docs/BENCHMARKS.md.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(__file__))
from agent_vs_collectd import SLAVES, agent_conf, start_sim  # noqa: E402
from benchkit import BUILD, start_mosquitto, stop, wait  # noqa: E402

SHIM = os.path.join(BUILD, "bench", "slowsync.so")
KEYS = ("fsync", "fdatasync", "rename", "create", "write", "unlink")


def counts(path):
    try:
        with open(path) as f:
            w = f.read().split()
    except FileNotFoundError:
        return dict.fromkeys(KEYS, 0)
    return {w[i]: int(w[i + 1]) for i in range(0, len(w) - 1, 2)}


class States:
    """The latest state of each unit as published (not retained)."""

    def __init__(self, port):
        self.state = {}
        self.lock = threading.Lock()
        self.c = mqtt.Client()
        self.c.on_message = self.on_message
        self.c.connect("127.0.0.1", port)
        self.c.subscribe("vigie/v1/unit/#", 1)
        self.c.loop_start()

    def on_message(self, _c, _u, m):
        if not m.payload:
            return
        st = m.payload.split(b'"state":"', 1)[1].split(b'"', 1)[0]
        with self.lock:
            self.state[m.topic.rsplit("/", 1)[1]] = st.decode()

    def count(self, state):
        with self.lock:
            return sum(1 for s in self.state.values() if s == state)

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()


def start_agent(agent_bin, conf, out, sync_ms):
    env = dict(os.environ, LD_PRELOAD=SHIM, VG_SYNC_OUT=out,
               VG_SYNC_MS=str(sync_ms))
    return subprocess.Popen([agent_bin, "-c", conf], env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def drained(agent_bin, sock):
    r = subprocess.run([agent_bin, "-s", sock, "status"],
                       capture_output=True, text=True, timeout=10)
    return r.returncode == 0 and " 0 record(s) awaiting" in r.stdout and \
        "connected" in r.stdout


def one_run(a, agent_bin, tmp):
    procs, per = [], a.units // SLAVES
    res = {}
    try:
        broker, port = start_mosquitto(tmp, "max_queued_messages 100000\n")
        procs.append(broker)
        sim, simport = start_sim(per)
        procs.append(sim)
        states = States(port)
        aconf = agent_conf(tmp, port, simport, a.units)
        sock = os.path.join(tmp, "agent", "agent.sock")
        out = os.path.join(tmp, "first.counts")
        t0 = time.monotonic()
        agent = start_agent(agent_bin, aconf, out, a.sync_ms)
        wait(lambda: states.count("pending") >= a.units, 600, "first reads")
        wait(lambda: drained(agent_bin, sock), 600, "first start drained")
        res["first_s"] = time.monotonic() - t0
        res["first"] = counts(out)
        stop(agent)
        # per change: after a restart, CHANGES units move to migrated
        out = os.path.join(tmp, "change.counts")
        agent = start_agent(agent_bin, aconf, out, a.sync_ms)
        procs.append(agent)
        wait(lambda: drained(agent_bin, sock), 600, "restart drained")
        c0 = counts(out)
        for i in range(a.changes):
            sim.stdin.write(f"set {i // per + 1} {i % per} 2\n")
            assert sim.stdout.readline().strip() == "ok"
        wait(lambda: states.count("migrated") >= a.changes, 600, "changes")
        wait(lambda: drained(agent_bin, sock), 600, "changes drained")
        c1 = counts(out)
        res["change"] = {k: (c1[k] - c0[k]) / a.changes for k in KEYS}
        states.stop()
        return res
    finally:
        for p in reversed(procs):
            stop(p)


def fmt(d):
    return " ".join(f"{k} {d[k]:.2f}" if isinstance(d[k], float)
                    else f"{k} {d[k]}" for k in KEYS)


def median_of(runs, part):
    return {k: statistics.median(r[part][k] for r in runs) for k in KEYS}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=2000)
    ap.add_argument("--changes", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sync-ms", type=int, default=10)
    ap.add_argument("--agent", action="append",
                    help="agent binary (repeat to compare; default: this "
                    "build's)")
    a = ap.parse_args()
    agents = a.agent or [os.path.join(BUILD, "vigie-agent")]
    print(f"agent-bench: {a.units} units, fsync/fdatasync cost "
          f"{a.sync_ms} ms, {a.changes} changes, medians of {a.runs} runs")
    first = {}
    for agent_bin in agents:
        runs = []
        for _ in range(a.runs):
            tmp = tempfile.mkdtemp(prefix="vg-agentbench-")
            try:
                runs.append(one_run(a, agent_bin, tmp))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        first[agent_bin] = statistics.median(r["first_s"] for r in runs)
        spread = [round(r["first_s"], 1) for r in runs]
        print(f"\n{agent_bin}")
        print(f"  first start: {first[agent_bin]:.1f} s (runs {spread})")
        print(f"    disk calls: {fmt(median_of(runs, 'first'))}")
        print(f"  per change:  {fmt(median_of(runs, 'change'))}")
    if len(agents) > 1:
        base = first[agents[0]]
        for agent_bin in agents[1:]:
            print(f"\nfirst start {agent_bin} / {agents[0]}: "
                  f"{first[agent_bin] / base:.3f}")


if __name__ == "__main__":
    main()
