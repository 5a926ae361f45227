#!/usr/bin/env python3
"""bench/agent_vs_collectd.py: vigie-agent vs collectd on the same polling job.

On loopback, one private mosquitto and two vigie-sim instances alike (4
slaves behind one Modbus TCP server, UNITS/4 holding registers each, no
dynamics).  vigie-agent polls the UNITS registers of one every second and
publishes to the broker (QoS 1, retained); Debian's collectd (collectd-core:
modbus and mqtt plugins) polls the same UNITS registers of the other every
second (`Interval 1`) and publishes them to the same broker (mqtt plugin,
QoS 1, retained).  Both run side by side; after a warm-up, over the same
wall-clock window, each one's CPU (utime + stime from /proc/PID/stat) and,
at its end, its memory (VmRSS, RssAnon, RssFile from /proc/PID/status; Pss
and Private_Clean + Private_Dirty from /proc/PID/smaps_rollup).  Also the
Modbus requests each simulator answered and the MQTT messages each client
published during the window.  Medians over RUNS fresh runs; ratio
agent / collectd per run, median, and each run's own line so the spread
shows.  Goal (issue #17): agent VmRSS <= 0.45 x collectd's in every run,
the agent's private memory <= 1 MiB.  Beside them in each run, the floor
(bench/libfloor.c: the agent's libraries loaded and called once, nothing
else), read at the same moment: floor / collectd is the best VmRSS ratio
an agent built on these Debian packages could reach in that run.

usage: agent_vs_collectd.py [--units 2000] [--runs 5] [--window 20]
                            [--agent build/host/vigie-agent]
                            [--floor build/host/bench/libfloor]
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
from benchkit import BUILD, free_port, wait, stop, where

SLAVES = 4
COLLECTD = "/usr/sbin/collectd"
PLUGINS = "/usr/lib/collectd"
HZ = os.sysconf("SC_CLK_TCK")




def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ  # utime, stime


def memory(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Pss", "Private_Clean", "Private_Dirty"):
                out[k] = int(v.split()[0])
    out["Private"] = out["Private_Clean"] + out["Private_Dirty"]
    return out


def start_sim(per):
    sim = subprocess.Popen(
        [os.path.join(BUILD, "vigie-sim"), "--tcp", "0", "--slaves",
         f"1-{SLAVES}", "--size", str(per + 8)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    ready = sim.stdout.readline().split()
    assert ready[0] == "ready", ready
    return sim, int(ready[1])


def sim_requests(sim):
    sim.stdin.write("stats\n")
    line = sim.stdout.readline().split()
    assert line[0] == "ok", line
    return sum(int(x.split(":")[1]) for x in line[1:])


def agent_conf(tmp, port, simport, units):
    per = units // SLAVES
    lines = ["[site]", "id = bench", "region = 03", "[broker]",
             "host = 127.0.0.1", f"port = {port}", "[agent]",
             f"data_dir = {tmp}/agent", "log_level = warn"]
    for s in range(1, SLAVES + 1):
        lines += [f"[device d{s}]", f"tcp = 127.0.0.1:{simport}",
                  f"slave = {s}", "poll_interval_ms = 1000"]
    for i in range(units):
        lines += [f"[unit U{i:05d}]", "program = renir",
                  f"device = d{i // per + 1}", f"address = {i % per}"]
    path = os.path.join(tmp, "agent.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def collectd_conf(tmp, port, simport, units):
    per = units // SLAVES
    d = os.path.join(tmp, "collectd")
    os.makedirs(d)
    out = ['Hostname "bench"', "FQDNLookup false", f'BaseDir "{d}"',
           f'PIDFile "{d}/collectd.pid"', f'PluginDir "{PLUGINS}"',
           'TypesDB "/usr/share/collectd/types.db"', "Interval 1",
           "AutoLoadPlugin false", "LoadPlugin logfile",
           "<Plugin logfile>", '  LogLevel "warning"',
           f'  File "{d}/collectd.log"', "</Plugin>",
           "LoadPlugin modbus", "LoadPlugin mqtt", "<Plugin modbus>"]
    # one Data block per register address (collectd reads each Data block
    # with its own request), shared by the 4 slaves
    for a in range(per):
        out += [f'  <Data "r{a}">', f"    RegisterBase {a}",
                "    RegisterType Uint16", "    RegisterCmd ReadHolding",
                '    Type "gauge"', f'    Instance "r{a}"', "  </Data>"]
    out += ['  <Host "sim">', '    Address "127.0.0.1"',
            f'    Port "{simport}"', "    Interval 1"]
    for s in range(1, SLAVES + 1):
        out += [f"    <Slave {s}>", f'      Instance "s{s}"']
        out += [f'      Collect "r{a}"' for a in range(per)]
        out += ["    </Slave>"]
    out += ["  </Host>", "</Plugin>", "<Plugin mqtt>", '  <Publish "bench">',
            '    Host "127.0.0.1"', f'    Port "{port}"',
            '    ClientId "collectd-bench"', "    QoS 1", "    Retain true",
            '    Prefix "collectd"', "  </Publish>", "</Plugin>"]
    path = os.path.join(d, "collectd.conf")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return path


class Counter:
    def __init__(self, port):
        self.n = {"vigie": 0, "collectd": 0}
        self.lock = threading.Lock()
        self.c = mqtt.Client()
        self.c.on_message = self.on_message
        self.c.connect("127.0.0.1", port)
        self.c.subscribe([("vigie/v1/unit/#", 0), ("collectd/#", 0)])
        self.c.loop_start()

    def on_message(self, _c, _u, m):
        if m.retain:
            return
        with self.lock:
            self.n["vigie" if m.topic.startswith("vigie/") else "collectd"] += 1

    def take(self):
        with self.lock:
            n = dict(self.n)
        return n

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()



def one_run(a, tmp):
    port = free_port()
    conf = os.path.join(tmp, "m.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                "persistence false\nmax_queued_messages 100000\n")
    procs = []
    per = a.units // SLAVES
    try:
        procs.append(subprocess.Popen(["mosquitto", "-c", conf],
                                      stderr=subprocess.DEVNULL))
        wait(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0,
             10, "broker")
        sim_a, port_a = start_sim(per)
        procs.append(sim_a)
        sim_c, port_c = start_sim(per)
        procs.append(sim_c)
        agent_bin = a.agent
        agent = subprocess.Popen(
            [agent_bin, "-c", agent_conf(tmp, port, port_a, a.units)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(agent)
        cd = subprocess.Popen([COLLECTD, "-f", "-C",
                               collectd_conf(tmp, port, port_c, a.units)],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        procs.append(cd)
        floor = None
        if os.path.exists(a.floor):
            floor = subprocess.Popen([a.floor], stdout=subprocess.PIPE,
                                     text=True)
            procs.append(floor)
            if floor.stdout.readline().strip() != "ready":
                raise RuntimeError("the floor program did not start")
        counter = Counter(port)
        sock = os.path.join(tmp, "agent", "agent.sock")

        def drained():
            r = subprocess.run([agent_bin, "-s", sock, "status"],
                               capture_output=True, text=True, timeout=10)
            return r.returncode == 0 and \
                " 0 record(s) awaiting" in r.stdout and \
                "connected" in r.stdout
        wait(drained, 60, "agent birth acknowledged")
        wait(lambda: counter.take()["collectd"] >= a.units, 60,
             "collectd publishing")
        time.sleep(a.warmup)
        c0 = {"agent": cpu_s(agent.pid), "collectd": cpu_s(cd.pid)}
        r0 = {"agent": sim_requests(sim_a), "collectd": sim_requests(sim_c)}
        m0 = counter.take()
        t0 = time.monotonic()
        time.sleep(a.window)
        c1 = {"agent": cpu_s(agent.pid), "collectd": cpu_s(cd.pid)}
        r1 = {"agent": sim_requests(sim_a), "collectd": sim_requests(sim_c)}
        m1 = counter.take()
        wall = time.monotonic() - t0
        mem = {"agent": memory(agent.pid), "collectd": memory(cd.pid)}
        mem["agent"]["where"] = where(agent.pid)
        if floor:
            mem["agent"]["floor"] = memory(floor.pid)["VmRSS"]
        counter.stop()
        if agent.poll() is not None or cd.poll() is not None:
            raise RuntimeError("a poller died")
        res = {}
        for k, mk in (("agent", "vigie"), ("collectd", "collectd")):
            res[k] = dict(mem[k])
            res[k]["cpu %"] = 100 * (c1[k] - c0[k]) / wall
            res[k]["requests/s"] = (r1[k] - r0[k]) / wall
            res[k]["messages/s"] = (m1[mk] - m0[mk]) / wall
        return res
    finally:
        for p in reversed(procs):
            stop(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--window", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--agent", default=os.path.join(BUILD, "vigie-agent"))
    ap.add_argument("--floor", default=os.path.join(BUILD, "bench",
                                                    "libfloor"))
    a = ap.parse_args()
    missing = [p for p in ("modbus.so", "mqtt.so")
               if not os.path.exists(os.path.join(PLUGINS, p))]
    if not os.path.exists(COLLECTD) or missing:
        print(f"agent-vs-collectd: collectd or its plugins missing "
              f"({', '.join(missing) or COLLECTD}); install collectd-core")
        return 1
    runs = []
    for _ in range(a.runs):
        tmp = tempfile.mkdtemp(prefix="vigie-cd-")
        try:
            r = one_run(a, tmp)
            runs.append(r)
            ag, co = r["agent"], r["collectd"]
            print(f"  run {len(runs)}: VmRSS {ag['VmRSS']} vs "
                  f"{co['VmRSS']} KiB = {ag['VmRSS'] / co['VmRSS']:.3f}; "
                  f"Private {ag['Private']} vs {co['Private']} KiB" +
                  (f"; floor {ag['floor']} KiB = {ag['floor'] / co['VmRSS']:.3f}"
                   if "floor" in ag else ""), flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    ver = subprocess.run([COLLECTD, "-h"], capture_output=True,
                         text=True).stdout.splitlines()
    ver = next((l for l in ver if l.startswith("collectd ")), "collectd")
    print(f"agent-vs-collectd: {a.units} registers on {SLAVES} slaves, 1 s "
          f"interval, {a.window:.0f} s window, {a.runs} runs (medians; "
          f"{ver.split(',')[0]})")
    print(f"  {'':14s} {'vigie-agent':>12s} {'collectd':>12s} "
          f"{'agent/collectd':>15s}")
    for k, unit in (("VmRSS", "KiB"), ("RssAnon", "KiB"), ("RssFile", "KiB"),
                    ("Pss", "KiB"), ("Private", "KiB"), ("cpu %", "%"),
                    ("requests/s", ""), ("messages/s", "")):
        ag = statistics.median(r["agent"][k] for r in runs)
        co = statistics.median(r["collectd"][k] for r in runs)
        ratios = [r["agent"][k] / r["collectd"][k] for r in runs
                  if r["collectd"][k]]
        ratio = f"{statistics.median(ratios):.3f}" if ratios else "-"
        print(f"  {k + (' (' + unit + ')' if unit else ''):14s} {ag:12.1f} "
              f"{co:12.1f} {ratio:>15s}")
    ratios = sorted(r["agent"]["VmRSS"] / r["collectd"]["VmRSS"]
                    for r in runs)
    priv = sorted(r["agent"]["Private"] for r in runs)
    print(f"  VmRSS ratio min / median / max: {ratios[0]:.3f} / "
          f"{statistics.median(ratios):.3f} / {ratios[-1]:.3f}")
    print(f"  agent Private (KiB) min / median / max: {priv[0]} / "
          f"{statistics.median(priv):.0f} / {priv[-1]}")
    floors = sorted(r["agent"]["floor"] / r["collectd"]["VmRSS"]
                    for r in runs if "floor" in r["agent"])
    if floors:
        print(f"  floor (the libraries alone) VmRSS (KiB): median "
              f"{statistics.median(r['agent']['floor'] for r in runs):.0f};"
              f" floor / collectd min / median / max: {floors[0]:.3f} / "
              f"{statistics.median(floors):.3f} / {floors[-1]:.3f}")
    ok = ratios[-1] <= 0.45 and priv[-1] <= 1024
    print(f"  goal: agent VmRSS <= 0.45 x collectd's in every run and "
          f"Private <= 1024 KiB: {'met' if ok else 'NOT met'}")
    print("  where the agent's memory goes, last run (KiB):     Rss  Private")
    last = runs[-1]["agent"]["where"]
    for what, (rss, own) in sorted(last.items(), key=lambda kv: -kv[1][1]):
        if rss:
            print(f"    {what:42s} {rss:6d} {own:8d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
