"""A 3-node NATS JetStream cluster on loopback for the cluster tests:
deploy/nats/ as it is, with only its addresses, ports and paths made
local (the same rewrite for every node), credentials from tools/vigie-pki,
and every wait bounded.  Nothing talks to anything but 127.0.0.1.
"""
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import time
import urllib.request

import paho.mqtt.client as mqtt

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy", "nats")
NATS = os.environ.get("NATS_SERVER", "/usr/sbin/nats-server")


def _ephemeral():
    """The kernel's range for outgoing connections' local ports."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_ports(n):
    """n distinct free loopback ports (held together while picked), below
    the ephemeral range when there is room: a node killed and started
    again must find its ports free, and a port of the ephemeral range may
    meanwhile be the local end of any outgoing connection on the machine
    (seen: "bind: address already in use" at a node's restart)."""
    import random
    import socket
    lo = _ephemeral()[0]
    socks = []
    try:
        tries = 0
        while len(socks) < n:
            s = socket.socket()
            tries += 1
            port = random.randrange(10000, lo) if lo > 12000 and \
                tries < 1000 else 0
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for(pred, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what} "
                       f"(last: {last!r})")


def make_pki(tmp, sites, name="pki"):
    """tools/vigie-pki for these "SITE REGION" lines; the node names are
    localhost, which is what the routes name here."""
    out = os.path.join(str(tmp), name)
    listing = os.path.join(str(tmp), "sites.txt")
    with open(listing, "w") as f:
        f.write("".join(f"{line}\n" for line in sites))
    subprocess.run([os.path.join(ROOT, "tools", "vigie-pki"), out, listing,
                    "localhost"], check=True, capture_output=True)
    if not os.path.exists(os.path.join(out, "nats-accounts.conf")):
        raise RuntimeError("vigie-pki wrote no nats-accounts.conf "
                           "(python3-bcrypt missing?)")
    return out


def password(pki, user):
    p = os.path.join(pki, "sites", f"{user}.password")
    if not os.path.exists(p):
        p = os.path.join(pki, f"{user}.password")
    with open(p) as f:
        return f.read().strip()


def _sub(text, pattern, repl, count):
    """re.subn that must replace exactly `count` times: a change to
    deploy/nats/ that the rewrite no longer matches fails loudly."""
    new, n = re.subn(pattern, repl, text, flags=re.M)
    if n != count:
        raise RuntimeError(f"deploy/nats/vigie-cluster.conf: {pattern!r} "
                           f"matched {n} times, expected {count}")
    return new


class Node:
    def __init__(self, k, base, pki, ports, cports, extra=""):
        self.k = k
        self.dir = os.path.join(base, f"nats-{k}")
        self.client_port, self.http_port, self.mqtt_port, self.cport = ports
        etc = os.path.join(self.dir, "etc")
        os.makedirs(os.path.join(etc, "nats"))
        os.symlink(pki, os.path.join(etc, "nats", "vigie"))
        # the node's own file, verbatim
        self.conf = os.path.join(etc, "nats-server.conf")
        shutil.copy(os.path.join(DEPLOY, f"nats-{k}.conf"), self.conf)
        with open(os.path.join(DEPLOY, "vigie-cluster.conf")) as f:
            text = f.read()
        text = _sub(text, r"^listen: 127\.0\.0\.1:4222$",
                    f"listen: 127.0.0.1:{self.client_port}", 1)
        text = _sub(text, r"^http: 127\.0\.0\.1:8222$",
                    f"http: 127.0.0.1:{self.http_port}", 1)
        text = _sub(text, r"^(\s+)listen: 0\.0\.0\.0:8883$",
                    rf"\g<1>listen: 127.0.0.1:{self.mqtt_port}", 1)
        text = _sub(text, r"^(\s+)listen: 0\.0\.0\.0:6222$",
                    rf"\g<1>listen: 127.0.0.1:{self.cport}", 1)
        for j, port in enumerate(cports, 1):
            text = _sub(text, rf"nats-route://nats-{j}\.vigie\.example:6222",
                        f"nats-route://localhost:{port}", 1)
        text = _sub(text, r"_file: /etc/nats/vigie/", f"_file: {pki}/", 6)
        text = _sub(text, r"^(\s+)store_dir: /var/lib/nats/vigie$",
                    rf"\g<1>store_dir: {self.dir}/js", 1)
        if "include vigie/nats-accounts.conf" not in text:
            raise RuntimeError("vigie-cluster.conf lost its accounts")
        text += f"\nlog_file: {self.dir}/nats.log\n" + extra
        with open(os.path.join(etc, "nats", "vigie-cluster.conf"), "w") as f:
            f.write(text)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([NATS, "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE,
                                     start_new_session=True)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill9(self):
        self.stop(signal.SIGKILL)

    def http(self, path):
        """(status, body) of a monitoring endpoint; (None, error) when the
        node does not answer."""
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.http_port}{path}",
                    timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError as e:
            return None, str(e)

    def healthy(self):
        """JetStream up on this node and current with the cluster."""
        if not self.alive():
            err = self.proc.stderr.read().decode() if self.proc else ""
            raise RuntimeError(f"nats-{self.k} exited: {err[-1500:]}"
                               f"{self.logtail()}")
        return self.http("/healthz")[0] == 200

    def jsz(self):
        code, body = self.http("/jsz")
        return json.loads(body) if code == 200 else None

    def logtail(self, n=3000):
        try:
            with open(os.path.join(self.dir, "nats.log"),
                      errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""


class Cluster:
    """Three nodes; nodes[0] is node 1."""

    def __init__(self, tmp, pki, extra=""):
        """extra: configuration appended to every node's (a test's
        change, which then overrides deploy/nats/)."""
        self.pki = pki
        ports = free_ports(12)
        per = [ports[i * 4:(i + 1) * 4] for i in range(3)]
        cports = [p[3] for p in per]
        self.nodes = [Node(k + 1, str(tmp), pki, per[k], cports, extra)
                      for k in range(3)]

    def start(self, timeout=60):
        for n in self.nodes:
            n.start()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=60, nodes=None):
        """Every node healthy (JetStream current) and answering an MQTT
        CONNECT (the first one creates MQTT's replicated streams)."""
        nodes = nodes or [n for n in self.nodes if n.alive()]
        deadline = time.monotonic() + timeout
        for n in nodes:
            wait_for(n.healthy, deadline - time.monotonic(),
                     what=f"nats-{n.k} /healthz")
        for n in nodes:
            wait_for(lambda: connect(self, n, "vigie-dashboard",
                                     timeout=5) is not None,
                     deadline - time.monotonic(), interval=0.5,
                     what=f"an MQTT CONNECT on nats-{n.k}")

    def stop(self):
        for n in self.nodes:
            n.stop()


def connect(cluster, node, user, pw=None, timeout=10, client_id="",
            on_message=None, will=None, clean=True):
    """A connected paho client (TLS, verifying the node) running its loop,
    or None when the node refused or did not answer in time."""
    got = {}
    c = mqtt.Client(client_id=client_id, clean_session=clean)
    if user:
        c.username_pw_set(user, pw if pw is not None
                          else password(cluster.pki, user))
    c.tls_set(ca_certs=os.path.join(cluster.pki, "ca.crt"),
              tls_version=ssl.PROTOCOL_TLS_CLIENT)
    if will:
        c.will_set(*will)
    if on_message:
        c.on_message = on_message
    c.on_connect = lambda _c, _u, _f, rc: got.setdefault("rc", rc)
    c.on_disconnect = lambda _c, _u, rc: got.setdefault("rc", -1)
    try:
        c.connect("localhost", node.mqtt_port, keepalive=10)
    except (ssl.SSLError, OSError):
        return None
    c.loop_start()
    deadline = time.monotonic() + timeout
    while "rc" not in got and time.monotonic() < deadline:
        time.sleep(0.05)
    if got.get("rc") != 0:
        c.loop_stop()
        try:
            c.disconnect()
        except Exception:
            pass
        return None
    return c


def close(c):
    c.disconnect()
    c.loop_stop()


def retained(cluster, node, topic_filter, user="vigie-dashboard",
             settle=0.7, timeout=20.0, qos=1):
    """Every retained message under topic_filter on `node`, as {topic:
    payload}, read with `user`'s rights; collects until nothing new comes
    for `settle` s.  None when the node does not take the connection or
    the subscription.  A QoS 0 subscription is answered from the node's
    own copy of the retained messages, with no JetStream consumer."""
    got = {}
    last = [time.monotonic()]

    def on_message(_c, _u, m):
        if m.retain:
            got[m.topic] = m.payload
            last[0] = time.monotonic()

    c = connect(cluster, node, user, on_message=on_message, timeout=5)
    if c is None:
        return None
    # a QoS 1 subscription is a JetStream consumer: while leaders are
    # being elected the node refuses it (0x80) after a 4 s stall
    subacked = []

    def on_subscribe(_c, _u, _mid, granted):
        last[0] = time.monotonic()
        subacked.append(granted[0] < 0x80)
    c.on_subscribe = on_subscribe
    c.subscribe(topic_filter, qos=qos)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if subacked and (not subacked[0] or
                             time.monotonic() - last[0] > settle):
                break
    finally:
        close(c)
    return got if subacked and subacked[0] else None


def summaries(cluster, node):
    """Retained summaries on `node`, as {(program, region): dict}."""
    root = "vigie/v1/summary/"
    got = retained(cluster, node, root + "#") or {}
    return {tuple(t[len(root):].split("/")): json.loads(p)
            for t, p in got.items() if p}
