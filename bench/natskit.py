"""A 3-node NATS JetStream cluster (Debian's nats-server 2.9) on loopback
for the benchmarks, and a private mosquitto beside it, so that a bench can
run the same load on both.

The cluster has the MQTT and JetStream settings of deploy/nats/
(stream_replicas 3, ack_wait 30 s, max_ack_pending 13107, max_pending
512 MB, the same JetStream limits) but neither TLS nor accounts: the broker is compared
with a plain loopback mosquitto, and a bench measures the brokers, not the
handshakes.  Every node listens on 127.0.0.1 only; every wait is bounded.
"""
import json
import os
import socket
import subprocess
import time
import urllib.request

import paho.mqtt.client as mqtt
from benchkit import free_port, stop, wait

NATS = os.environ.get("NATS_SERVER", "/usr/sbin/nats-server")

NODE_CONF = """\
server_name: storm-nats-{k}
listen: 127.0.0.1:{client}
http: 127.0.0.1:{http}
log_file: "{dir}/nats.log"
# as deploy/nats/vigie-cluster.conf: a replay of every retained unit is
# written in one go, past max_pending the subscriber is cut off
max_pending: 512MB
jetstream {{
  store_dir: "{dir}/js"
  max_memory_store: 256MB
  max_file_store: 8GB
}}
mqtt {{
  listen: 127.0.0.1:{mqtt}
  stream_replicas: 3
  ack_wait: 30s
  max_ack_pending: {ack_pending}
{mqtt_extra}}}
cluster {{
  name: storm
  listen: 127.0.0.1:{route}
  routes: [{routes}]
}}
"""


def _ports(n):
    """n distinct free ports, held together while picked."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def mqtt_answers(port, timeout=5):
    """True once an MQTT CONNECT on port is accepted (on NATS the first
    one creates the replicated MQTT streams)."""
    got = {}
    c = mqtt.Client()
    c.on_connect = lambda _c, _u, _f, rc: got.setdefault("rc", rc)
    try:
        c.connect("127.0.0.1", port, keepalive=10)
    except OSError:
        return False
    c.loop_start()
    end = time.monotonic() + timeout
    while "rc" not in got and time.monotonic() < end:
        time.sleep(0.05)
    c.loop_stop()
    try:
        c.disconnect()
    except Exception:  # noqa: BLE001 - best effort on a probe
        pass
    return got.get("rc") == 0


class Cluster:
    """Three nats-server processes; mqtt_ports[0] is node 1's."""

    nats = True  # the gateway's --broker-kind

    def __init__(self, tmp, mqtt_extra="", ack_pending=13107):
        """mqtt_extra: lines added to every node's mqtt block (a bench's
        variant of deploy/nats/); ack_pending: max_ack_pending, 13107 as
        in deploy/nats/, 1024 NATS's own default."""
        p = _ports(12)
        self.dirs = [os.path.join(tmp, f"nats-{k}") for k in (1, 2, 3)]
        self.mqtt_ports = [p[k * 4 + 2] for k in range(3)]
        self.http_ports = [p[k * 4 + 1] for k in range(3)]
        routes = ", ".join(f"nats-route://127.0.0.1:{p[k * 4 + 3]}"
                           for k in range(3))
        self.confs = []
        for k in range(3):
            os.makedirs(self.dirs[k])
            conf = os.path.join(self.dirs[k], "nats.conf")
            with open(conf, "w") as f:
                f.write(NODE_CONF.format(
                    k=k + 1, client=p[k * 4], http=p[k * 4 + 1],
                    mqtt=p[k * 4 + 2], route=p[k * 4 + 3], routes=routes,
                    dir=self.dirs[k], ack_pending=ack_pending,
                    mqtt_extra="".join(f"  {line}\n" for line in
                                       mqtt_extra.splitlines())))
            self.confs.append(conf)
        self.procs = []

    @property
    def pids(self):
        return [p.pid for p in self.procs]

    def addresses(self):
        return [f"127.0.0.1:{p}" for p in self.mqtt_ports]

    def http(self, k, path):
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.http_ports[k]}{path}",
                    timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""
        except OSError:
            return None, ""

    def varz(self, k):
        code, body = self.http(k, "/varz")
        return json.loads(body) if code == 200 else {}

    def start(self, timeout=90):
        for conf in self.confs:
            self.procs.append(subprocess.Popen(
                [NATS, "-c", conf], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True))
        end = time.monotonic() + timeout
        for k in range(3):
            def healthy(k=k):
                if self.procs[k].poll() is not None:
                    raise RuntimeError(f"nats-{k + 1} exited; see "
                                       f"{self.dirs[k]}/nats.log")
                return self.http(k, "/healthz")[0] == 200
            wait(healthy, end - time.monotonic(), f"nats-{k + 1} healthz",
                 0.2)
        for k in range(3):
            wait(lambda k=k: mqtt_answers(self.mqtt_ports[k]),
                 end - time.monotonic(), f"MQTT on nats-{k + 1}", 0.5)
        return self

    def stop(self):
        for p in self.procs:
            stop(p)
        self.procs = []

    def log_lines(self, needle):
        """Lines of every node's log holding needle (limits hit, slow
        consumers, timeouts), to say what broke first."""
        out = []
        for d in self.dirs:
            try:
                with open(os.path.join(d, "nats.log"), errors="replace") as f:
                    out += [line.rstrip() for line in f if needle in line]
            except OSError:
                pass
        return out


class Mosquitto:
    """One private mosquitto, configured as the other benches' (no
    persistence; queues and in-flight as deploy/mosquitto/vigie.conf)."""

    nats = False  # the gateway's --broker-kind

    def __init__(self, tmp, inflight=100):
        self.port = free_port()
        self.conf = os.path.join(tmp, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                    "persistence false\nmax_queued_messages 10000000\n"
                    f"max_inflight_messages {inflight}\n"
                    # the default, said: no cap on clients
                    "max_connections -1\n")
        self.procs = []

    @property
    def pids(self):
        return [p.pid for p in self.procs]

    def addresses(self):
        return [f"127.0.0.1:{self.port}"]

    def start(self):
        self.procs.append(subprocess.Popen(
            ["mosquitto", "-c", self.conf], stderr=subprocess.DEVNULL,
            start_new_session=True))
        wait(lambda: socket.socket().connect_ex(("127.0.0.1", self.port))
             == 0, 10, "mosquitto")
        return self

    def nofile(self):
        """mosquitto's own descriptor limit (it never raises it)."""
        with open(f"/proc/{self.procs[0].pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
        return None

    def stop(self):
        for p in self.procs:
            stop(p)
        self.procs = []


def cpu_s(pid):
    """User + system CPU seconds of a live process (0 when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0
