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
