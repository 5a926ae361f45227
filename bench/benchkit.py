"""Helpers shared by the Python benchmarks: paths, a free loopback port, a
bounded wait and a clean stop.  Every wait is bounded; everything runs on
127.0.0.1 only."""
import os
import signal
import socket
import subprocess
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("VIGIE_BUILD", os.path.join(ROOT, "build", "host"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(pred, timeout, what, step=0.01):
    """Poll pred() until true; TimeoutError naming `what` otherwise."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(step)
    raise TimeoutError(what)


def stop(p):
    """SIGTERM, then SIGKILL after 20 s: never leave a process behind."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def start_mosquitto(tmp, extra=""):
    """A private mosquitto on a free loopback port (no persistence, an
    anonymous listener, `extra` config lines), once it listens: the
    process and its port."""
    port = free_port()
    conf = os.path.join(tmp, "m.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                "persistence false\n" + extra)
    p = subprocess.Popen(["mosquitto", "-c", conf],
                         stderr=subprocess.DEVNULL)
    wait(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0,
         10, "broker")
    return p, port


# Where a process's memory goes (bench/agent-rss, bench/agent_vs_collectd.py)
def smaps(pid):
    """Each mapping of pid: bounds, permissions, name, its KiB figures."""
    maps, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5:
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                cur = {"lo": lo, "hi": hi, "perm": head[1],
                       "name": head[5] if len(head) > 5 else "", "k": {}}
                maps.append(cur)
            elif head[0].endswith(":") and len(head) > 1 and \
                    head[1].isdigit():
                cur["k"][head[0][:-1]] = int(head[1])
    return maps


def stack_pointers(pid):
    """Stack pointer of each task blocked in a system call (root)."""
    sps = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                sps.append(int(f.read().split()[-2], 16))
        except (OSError, ValueError, IndexError):
            pass
    return sps


ARENA_SPAN = 64 << 20  # glibc's HEAP_MAX_SIZE on 64-bit


def where(pid):
    """KiB (Rss, Private) by what the memory is, from /proc/PID/smaps."""
    maps, sps = smaps(pid), stack_pointers(pid)
    out = {}
    for i, m in enumerate(maps):
        name, perm = m["name"], m["perm"]
        nxt = maps[i + 1] if i + 1 < len(maps) else None
        if name.startswith("/"):
            base = os.path.basename(name).split(".so")[0]
            written = "w" in perm or m["k"].get("Anonymous", 0)
            if base.startswith("vigie-agent"):
                what = "vigie-agent " + ("data" if written else
                                         "text, read-only")
            elif not written:
                what = "libraries' text, read-only (shared)"
            elif base in ("libcrypto", "libssl"):
                what = "OpenSSL's relocated data (relro, data)"
            else:
                what = "other libraries' relocated data"
        elif name == "[heap]":
            what = "heap (main arena)"
        elif name == "[stack]":
            what = "main thread's stack"
        elif name.startswith("["):
            what = name
        elif any(m["lo"] <= sp < m["hi"] for sp in sps):
            what = "other threads' stacks"
        elif perm.startswith("---"):
            what = "guard pages, reserves"
        elif nxt and nxt["lo"] == m["hi"] and nxt["perm"].startswith("---") \
                and nxt["hi"] - m["lo"] == ARENA_SPAN:
            what = "threads' malloc arenas"
        else:
            what = "other anonymous (large allocations, .bss)"
        r = out.setdefault(what, [0, 0])
        r[0] += m["k"].get("Rss", 0)
        r[1] += m["k"].get("Private_Clean", 0) + \
            m["k"].get("Private_Dirty", 0)
    return out
