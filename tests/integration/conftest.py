"""Shared fixtures for integration tests: a real mosquitto broker on a free
loopback port, with its own config and persistence in the test's tmp dir,
and helpers to run Vigie's binaries and read retained messages.

Every wait here is bounded; nothing talks to anything but 127.0.0.1.

Every MQTT payload a test receives is checked against the wire contract
(docs/asyncapi.yaml, docs/schema/; wire_schema.py): one outside it fails
the test that received it, with its topic and the reason.
"""
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

import wire_schema

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("VIGIE_BUILD", os.path.join(ROOT, "build", "host"))
MOSQUITTO = os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto")
# every paho client of this process, from here on
WIRE = wire_schema.install()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A payload outside the wire contract, received while a test ran (or
    its fixtures were set up or torn down), fails that test."""
    outcome = yield
    if call.when == "setup":
        return  # what setup received is the test's: told after its call
    found = WIRE.take()
    if not found:
        return
    rep = outcome.get_result()
    shown = found[:10] + ([f"... and {len(found) - 10} more"]
                          if len(found) > 10 else [])
    text = ("payloads received outside the wire contract "
            "(docs/asyncapi.yaml):\n  " + "\n  ".join(shown))
    if rep.failed:
        rep.sections.append(("wire contract", text))
    else:
        rep.outcome = "failed"
        rep.longrepr = text


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(WIRE.summary())


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


def wait_for(pred, timeout=20.0, interval=0.1, what="condition"):
    """Poll pred() until it is truthy; bounded."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what} (last: {last!r})")


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Send sig to proc if it still runs, wait up to timeout seconds for
    it to exit, then kill it; returns its exit status (None: no proc)."""
    if proc and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode if proc else None


class Broker:
    """A private mosquitto: generated config, persistence in tmp."""

    def __init__(self, tmp, extra_conf=""):
        self.dir = os.path.join(str(tmp), "broker")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write(
                f"listener {self.port} 127.0.0.1\n"
                "allow_anonymous true\n"
                "persistence true\n"
                f"persistence_location {self.dir}/\n"
                "autosave_interval 1\n"
                # retained replay to the gateway must never be cut short
                "max_queued_messages 10000000\n"
                "max_inflight_messages 100\n"
                f"log_dest file {self.dir}/mosquitto.log\n"
                # as root, mosquitto would switch to its own user, which
                # cannot read the test's private tmp dir
                "user root\n"
                + extra_conf
            )
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self, sig=signal.SIGTERM):
        stop_process(self.proc, sig)
        self.proc = None

    def saved_since(self, t):
        """The broker has written its persistence file since time t (a
        snapshot holds everything it had received by then)."""
        try:
            return os.stat(os.path.join(self.dir, "mosquitto.db")).st_mtime > t
        except FileNotFoundError:
            return False

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        self.start()


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def procs():
    """Processes a test starts (anything with stop()), stopped in reverse
    order whatever the test's outcome."""
    started = []
    yield started
    for p in reversed(started):
        p.stop()


def client(port, client_id=None):
    """A connected paho client running its network loop in a thread."""
    c = mqtt.Client(client_id=client_id or "", clean_session=True)
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    return c


def publish_all(port, msgs, qos=1):
    """Publish (topic, payload, retain) tuples and wait for every PUBACK."""
    c = client(port)
    try:
        infos = [c.publish(t, p, qos=qos, retain=r) for t, p, r in msgs]
        for i in infos:
            i.wait_for_publish(timeout=30)
            if not i.is_published():
                raise TimeoutError("publish not acknowledged")
    finally:
        c.loop_stop()
        c.disconnect()


def retained(port, topic_filter, timeout=20.0):
    """Every retained message under topic_filter, as {topic: payload}.

    A barrier, not a quiet period, says when they are all in: once the
    broker has acknowledged the subscription it has queued every retained
    message for it, so a message this client then publishes to itself on
    a private topic arrives after them all (one connection's messages are
    delivered in order)."""
    got = {}
    subscribed, done = threading.Event(), threading.Event()
    barrier = f"vigie-test/barrier/{uuid.uuid4().hex}"

    def on_message(_c, _u, m):
        if m.topic == barrier:
            done.set()
        elif m.retain:
            got[m.topic] = m.payload

    c = mqtt.Client(clean_session=True)
    c.on_message = on_message
    c.on_subscribe = lambda *_a: subscribed.set()
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    try:
        c.subscribe([(topic_filter, 1), (barrier, 1)])
        if not subscribed.wait(timeout):
            raise TimeoutError(f"no SUBACK for {topic_filter}")
        c.publish(barrier, b"", qos=1)
        if not done.wait(timeout):
            raise TimeoutError(f"retained {topic_filter}: barrier lost")
    finally:
        c.loop_stop()
        c.disconnect()
    return got


def summaries(port, prefix=""):
    """Retained summaries as {(program, region): dict}."""
    root = (prefix + "/" if prefix else "") + "vigie/v1/summary/"
    out = {}
    for t, p in retained(port, root + "#").items():
        if not p:
            continue
        prog, region = t[len(root):].split("/")
        out[(prog, region)] = json.loads(p)
    return out
