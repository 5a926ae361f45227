"""Helpers for the agent's integration tests: the Modbus site simulator
(tools/sim) and the agent itself as managed subprocesses, a config writer,
and a live MQTT subscriber.  Every wait is bounded; every process started
here is killed by the fixture that made it.
"""
import json
import os
import select
import signal
import subprocess
import threading
import time

import paho.mqtt.client as mqtt

from conftest import BUILD, retained, stop_process

AGENT = os.path.join(BUILD, "vigie-agent")
SIM = os.path.join(BUILD, "vigie-sim")


def _readline(proc, timeout):
    """One line of proc's stdout within timeout (bytes are line-buffered
    by the simulator's fflush)."""
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"no line from {proc.args[0]} (got {buf!r})")
        ch = os.read(fd, 1)
        if not ch:
            raise EOFError(f"{proc.args[0]} exited")
        buf += ch
    return buf.decode().strip()


class Sim:
    """vigie-sim: TCP (self.port) or RTU over a pty (self.pty)."""

    def __init__(self, rtu=False, slaves="1", size=200, units=None):
        """units: a --units file (UNIT PROGRAM SLAVE ADDRESS STATE
        [KIND] lines)."""
        args = [SIM, "--slaves", slaves, "--size", str(size)]
        args += ["--rtu"] if rtu else ["--tcp", "0"]
        args += ["--units", units] if units else []
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, bufsize=0)
        ready = _readline(self.proc, 10).split()
        assert ready[0] == "ready", ready
        self.port = None if rtu else int(ready[1])
        self.pty = ready[2] if rtu else None

    def cmd(self, line):
        self.proc.stdin.write((line + "\n").encode())
        answer = _readline(self.proc, 10)
        assert answer.startswith("ok"), f"{line}: {answer}"
        return answer

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def write_config(tmp, broker_port, devices, units, name="agent.conf",
                 extra=""):
    """devices: {name: {key: value}}, units: {id: {key: value}}."""
    data = os.path.join(str(tmp), "data")
    lines = ["# written by the integration tests", "[site]",
             "id = site-t", "region = 03", "", "[broker]",
             "host = 127.0.0.1", f"port = {broker_port}", "keepalive = 10",
             "", "[agent]", f"data_dir = {data}", "log_level = debug", ""]
    for dname, kv in devices.items():
        lines.append(f"[device {dname}]")
        lines += [f"{k} = {v}" for k, v in kv.items()]
        lines.append("")
    for uid, kv in units.items():
        lines.append(f"[unit {uid}]")
        lines += [f"{k} = {v}" for k, v in kv.items()]
        lines.append("")
    path = os.path.join(str(tmp), name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + extra)
    return path


class Agent:
    """env: extra environment variables; umask: the agent's (-1: ours)."""

    def __init__(self, conf, tmp, env=None, umask=-1):
        self.conf = conf
        self.log = open(os.path.join(str(tmp), "agent.log"), "ab")
        self.sock = os.path.join(str(tmp), "data", "agent.sock")
        self.env = dict(os.environ, **(env or {}))
        self.umask = umask
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([AGENT, "-c", self.conf],
                                     stdout=self.log, stderr=self.log,
                                     env=self.env, umask=self.umask)
        # the control socket answering means the store is loaded
        from conftest import wait_for
        wait_for(lambda: self.ctl("status")[0] == 0 or
                 self.proc.poll() is not None, timeout=10,
                 what="agent control socket")
        assert self.proc.poll() is None, "agent exited at start"

    def ctl(self, *args, lang="C"):
        """The client's exit status, stdout and stderr; lang is the
        client's locale (LC_ALL), which picks the language of the text:
        English unless told, so that text checks read the English."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("LANG", "LC_ALL", "LC_MESSAGES")}
        if lang is not None:
            env["LC_ALL"] = lang
        r = subprocess.run([AGENT, "-s", self.sock] + list(args),
                           capture_output=True, text=True, timeout=10,
                           env=env)
        return r.returncode, r.stdout, r.stderr

    def status(self):
        """`status --json` as a dict, or None when the agent does not
        answer."""
        rc, out, _ = self.ctl("status", "--json")
        return json.loads(out) if rc == 0 else None

    def unit(self, unit_id):
        """unit_id's record in `status --json` (None if not answering)."""
        st = self.status()
        if st is None:
            return None
        return next(u for u in st["units"] if u["unit"] == unit_id)

    def stop(self, sig=signal.SIGTERM):
        stop_process(self.proc, sig)
        self.proc = None


class Watcher:
    """A live subscriber keeping the latest payload of every topic."""

    def __init__(self, port, topic="vigie/v1/#"):
        self.msgs = {}
        self.history = []  # (topic, payload) in arrival order
        self.lock = threading.Lock()
        self.c = mqtt.Client(clean_session=True)
        self.c.on_message = self._on_message
        self.c.on_connect = lambda c, u, f, rc: c.subscribe(topic, qos=1)
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()

    def _on_message(self, _c, _u, m):
        with self.lock:
            self.msgs[m.topic] = json.loads(m.payload) if m.payload else None
            self.history.append((m.topic, self.msgs[m.topic]))

    def seen(self, topic):
        """Every payload received on topic, oldest first."""
        with self.lock:
            return [p for t, p in self.history if t == topic]

    def get(self, topic):
        with self.lock:
            return self.msgs.get(topic)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def unit_topic(unit, program="renir"):
    return f"vigie/v1/unit/{program}/03/site-t/{unit}"


def state_of(msgs, unit, program="renir"):
    p = msgs.get(unit_topic(unit, program))
    if isinstance(p, (bytes, str)):
        p = json.loads(p) if p else None
    return p["state"] if p else None


def unit_states(port):
    """Units the broker holds a status for, by unit id: neither an empty
    retained payload nor a "removed" status (a removal, see
    docs/protocol.md) counts."""
    out = {}
    for t, p in retained(port, "vigie/v1/unit/#").items():
        if p and json.loads(p)["state"] != "removed":
            out[t.rsplit("/", 1)[1]] = json.loads(p)
    return out
