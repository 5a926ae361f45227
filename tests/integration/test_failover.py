"""Client failover (issue #14): the agent and the gateway given several
brokers move to the next on any failure (broker killed, down from the
start, connection refused, TLS that does not verify), and do there what
they do on any new connection: the agent's birth (every unit and its
presence, with a new session) and the gateway's rebuild from the retained
replay, whose summaries must equal the ground truth.  Also the config and
option errors of the lists.  Real mosquitto brokers on free loopback
ports; every wait is bounded."""
import json
import os
import signal
import socket
import subprocess

from conftest import Broker, free_port, retained, summaries, wait_for
from agent_kit import AGENT, Agent, Sim, unit_states, write_config
from vigie import Gateway, Truth, comparable, wait_truth
from test_gateway import population, publish_units
from test_http import Http, _up, metric, parse_prometheus
from test_security import make_pki

FY = 2024  # the Gateway helper holds the targets as of 2024-06-01
PRESENCE = "vigie/v1/agent/site-t"


def brokers(tmp_path, procs, *names, extra=None):
    """One Broker per name (its own directory and port), stopped at the
    end whatever happens; none is started here."""
    out = []
    for name in names:
        b = Broker(tmp_path / name, (extra or {}).get(name, ""))
        procs.append(b)
        out.append(b)
    return out


class Blackhole:
    """A loopback port that never answers, as a broker host gone without
    a reset: a listener whose accept queue is full, so that the kernel
    drops every further SYN and a connect hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fill = []
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", self.port))
            self.fill.append(c)
        wait_for(self._hangs, timeout=10, what="a full accept queue")

    def _hangs(self):
        with socket.socket() as probe:
            probe.settimeout(0.3)
            try:
                probe.connect(("127.0.0.1", self.port))
            except socket.timeout:
                return True
            return False

    def stop(self):
        for s in self.fill + [self.sock]:
            s.close()


def tcp_device(port):
    return {"tcp": f"127.0.0.1:{port}", "poll_interval_ms": 200,
            "response_timeout_ms": 300, "retries": 0}


UNITS = {"U1": {"program": "renir", "device": "plc", "address": 1},
         "U2": {"program": "renir", "device": "plc", "address": 2},
         "R1": {"program": "rgt", "device": "plc", "address": 3},
         "M1": {"program": "renir", "source": "manual"}}
STATES = {"U1": "migrated", "U2": "migrating", "R1": "pending",
          "M1": "migrated"}


def start_agent(tmp_path, procs, hosts, extra="", keepalive=10):
    """A small site (three read units and one marked by hand) whose
    [broker] host is the list hosts; returns (agent, sim)."""
    sim = Sim(slaves="1")
    procs.append(sim)
    sim.cmd("set 1 1 2")
    sim.cmd("set 1 2 1")
    conf = write_config(tmp_path, 1883, {"plc": tcp_device(sim.port)},
                        UNITS)
    with open(conf) as f:
        text = f.read()
    text = text.replace("host = 127.0.0.1\nport = 1883\n",
                        "host = " + ", ".join(hosts) + "\n" + extra, 1)
    text = text.replace("keepalive = 10\n", f"keepalive = {keepalive}\n")
    with open(conf, "w") as f:
        f.write(text)
    agent = Agent(conf, tmp_path)
    procs.append(agent)
    agent.start()
    rc, _, err = agent.ctl("mark", "M1", "migrated", "--tech", "alice")
    assert rc == 0, err
    return agent, sim


def on_broker(agent, port):
    """status --json when the agent is connected to the broker on port
    with nothing left to publish, else None."""
    st = agent.status()
    link = st and st["link"]
    if not link or not link["connected"] or link["port"] != port:
        return None
    return st if st["outbox"]["unacked"] == 0 else None


def births_on(port, session_above=0):
    """The site's units and presence retained on the broker, when every
    unit has its state there and the presence is online with a session
    above session_above; else None."""
    states = {u: s["state"] for u, s in unit_states(port).items()}
    pres = retained(port, PRESENCE).get(PRESENCE)
    pres = json.loads(pres) if pres else None
    if states != STATES or not pres or not pres["online"] or \
            pres["session"] <= session_above:
        return None
    return pres


def agent_log(tmp_path):
    with open(os.path.join(str(tmp_path), "agent.log"),
              errors="replace") as f:
        return f.read()


def test_agent_fails_over_to_the_next_broker_and_births_there(tmp_path,
                                                              procs):
    a, b = brokers(tmp_path, procs, "a", "b")
    a.start()
    b.start()
    agent, sim = start_agent(tmp_path, procs, [f"127.0.0.1:{a.port}",
                                               f"127.0.0.1:{b.port}"])
    st = wait_for(lambda: on_broker(agent, a.port), what="agent on A")
    assert st["link"]["broker"] == 0
    assert st["link"]["brokers"] == [f"127.0.0.1:{a.port}",
                                     f"127.0.0.1:{b.port}"]
    pres_a = wait_for(lambda: births_on(a.port), what="birth on A")
    assert unit_states(b.port) == {}  # nothing went to B meanwhile

    a.stop(signal.SIGKILL)
    st = wait_for(lambda: on_broker(agent, b.port), timeout=30,
                  what="agent on B")
    assert st["link"]["broker"] == 1 and st["link"]["failovers"] >= 1
    # a new session: its presence outranks what A may still hold
    wait_for(lambda: births_on(b.port, pres_a["session"]), timeout=30,
             what="a new birth on B")
    assert f"failing over to 127.0.0.1:{b.port}" in agent_log(tmp_path)
    rc, out, _ = agent.ctl("status")
    assert rc == 0 and f"connected to 127.0.0.1:{b.port} (broker 2 of 2)" \
        in out, out

    # and it goes on publishing there
    sim.cmd("set 1 3 2")
    wait_for(lambda: unit_states(b.port).get("R1", {}).get("state") ==
             "migrated", what="a change published on B")


def test_agent_starts_with_the_first_broker_down(tmp_path, procs):
    a, b = brokers(tmp_path, procs, "a", "b")
    b.start()  # a never runs: connection refused
    agent, _ = start_agent(tmp_path, procs, [f"127.0.0.1:{a.port}",
                                             f"127.0.0.1:{b.port}"])
    st = wait_for(lambda: on_broker(agent, b.port), what="agent on B")
    assert st["link"]["broker"] == 1
    wait_for(lambda: births_on(b.port), what="birth on B")


def test_agent_leaves_a_broker_that_never_answers(tmp_path, procs):
    """No reset, no answer: the agent gives up on A after its keepalive
    (5 s), not after the kernel's connect timeout of minutes."""
    hole = Blackhole()
    procs.append(hole)
    (b,) = brokers(tmp_path, procs, "b")
    b.start()
    agent, _ = start_agent(tmp_path, procs, [f"127.0.0.1:{hole.port}",
                                             f"127.0.0.1:{b.port}"],
                           keepalive=5)
    wait_for(lambda: on_broker(agent, b.port), timeout=20,
             what="agent on B")
    wait_for(lambda: births_on(b.port), what="birth on B")
    assert f"broker 127.0.0.1:{hole.port} failed (no answer from the " \
        "broker within the keepalive); failing over" in agent_log(tmp_path)


def test_agent_refused_by_a_broker_uses_the_next(tmp_path, procs):
    a, b = brokers(tmp_path, procs, "a", "b",
                   extra={"a": "allow_anonymous false\n"})
    a.start()
    b.start()
    agent, _ = start_agent(tmp_path, procs, [f"127.0.0.1:{a.port}",
                                             f"127.0.0.1:{b.port}"])
    wait_for(lambda: on_broker(agent, b.port), what="agent on B")
    wait_for(lambda: births_on(b.port), what="birth on B")
    assert f"broker 127.0.0.1:{a.port} refused the connection: not " \
        "authorized" in agent_log(tmp_path)


def test_agent_tls_failure_moves_on(tmp_path, procs):
    """A presents a certificate of another CA than the agent's ca_file:
    the handshake fails and the agent takes B, which verifies."""
    def tls(pki):
        return (f"cafile {pki}/ca.crt\ncertfile {pki}/broker.crt\n"
                f"keyfile {pki}/broker.key\n")
    pki_a, pki_b = make_pki(tmp_path, "pki-a"), make_pki(tmp_path, "pki-b")
    plain = free_port()  # B's plain listener, for the test to look
    a, b = brokers(tmp_path, procs, "a", "b",
                   extra={"a": tls(pki_a), "b": tls(pki_b) +
                          f"listener {plain} 127.0.0.1\n"})
    a.start()
    b.start()
    agent, _ = start_agent(tmp_path, procs, [f"localhost:{a.port}",
                                             f"localhost:{b.port}"],
                           extra=f"ca_file = {pki_b}/ca.crt\n")
    st = wait_for(lambda: on_broker(agent, b.port), what="agent on B")
    assert st["link"]["tls"] and st["link"]["host"] == "localhost"
    wait_for(lambda: births_on(plain), what="birth on B")
    assert f"broker localhost:{a.port} failed (A TLS error occurred.); " \
        f"failing over to localhost:{b.port}" in agent_log(tmp_path)


def check_config(tmp_path, broker_lines):
    path = os.path.join(str(tmp_path), "list.conf")
    with open(path, "w") as f:
        f.write("[site]\nid = s\nregion = 03\n[broker]\n" + broker_lines)
    r = subprocess.run([AGENT, "--check-config", path], capture_output=True,
                       text=True, timeout=20)
    return path, r


def test_agent_config_errors_in_the_host_list(tmp_path):
    cases = [
        ("host = 127.0.0.1:1883, 127.0.0.1:99999\n",
         ":5: [broker] host: address 2 '127.0.0.1:99999': the port must "
         "be 1..65535"),
        ("host = 127.0.0.1, , localhost\n",
         ":5: [broker] host: address 2 is empty"),
        ("tls = off\nhost = a, b, c, d, e, f, g, h, i\n",
         ":6: [broker] host: more than 8 broker addresses"),
        ("host = localhost, 127.0.0.1:1884, localhost:1884\nport = 1884\n",
         ":5: [broker] host: localhost:1884 is given twice (addresses 1 "
         "and 3)"),
        ("host = 127.0.0.1, broker.example\n",
         ":5: [broker] host broker.example is not this machine and TLS "
         "is off"),
    ]
    for lines, want in cases:
        path, r = check_config(tmp_path, lines)
        assert r.returncode == 1, (lines, r)
        assert path + want in r.stderr, (lines, r.stderr)
    _, r = check_config(tmp_path, "host = 127.0.0.1:1883, [::1]:1884,"
                        " localhost\n")
    assert r.returncode == 0, r.stderr


# ---- the gateway -----------------------------------------------------------

def http_gateway(tmp_path, first, *more):
    """A gateway with --broker first then each of more, and --http."""
    port = free_port()
    extra = ["--http", f"127.0.0.1:{port}"]
    for b in more:
        extra += ["--broker", f"127.0.0.1:{b.port}"]
    gw = Gateway(tmp_path, first.port, extra=extra)
    return gw, Http(port), port


def health_on(http, port):
    """/healthz when healthy on the broker at port, else None."""
    status, _, body = http.req("/healthz")
    doc = json.loads(body)
    return doc if status == 200 and doc["broker"] == f"127.0.0.1:{port}" \
        else None


def test_gateway_fails_over_and_rebuilds_summaries(tmp_path, procs):
    a, b = brokers(tmp_path, procs, "a", "b")
    a.start()
    b.start()
    units = population(400, seed=21)
    truth_a, truth_b = Truth(), Truth()
    publish_units(a.port, truth_a, units, seq=1)
    # B holds what the agents published since they failed over to it:
    # newer states for some units, and a few units A never saw
    changed = [(p, r, s, u, "migrated" if i % 3 else "retired")
               for i, (p, r, s, u, _) in enumerate(units[:150])]
    newer = population(430, seed=22)[400:]
    publish_units(b.port, truth_b, units[150:], seq=1)
    publish_units(b.port, truth_b, changed + newer, seq=2)

    gw, http, port = http_gateway(tmp_path, a, b)
    procs.append(gw)
    gw.start()
    wait_for(lambda: _up(port), timeout=10, what="HTTP listening")
    wait_truth(a.port, truth_a, FY)
    assert health_on(http, a.port)["broker_index"] == 0

    a.stop(signal.SIGKILL)
    wait_truth(b.port, truth_b, FY, timeout=60)
    doc = wait_for(lambda: health_on(http, b.port), what="/healthz on B")
    assert doc["broker_index"] == 1 and doc["synced"]
    samples = parse_prometheus(http.text("/metrics")[1])
    assert metric(samples, "vigie_broker_index") == 1
    assert metric(samples, "vigie_broker_failovers_total") >= 1
    assert metric(samples, "vigie_broker_connected") == 1
    log = gw.logtext()
    assert f"failing over to 127.0.0.1:{b.port}" in log
    assert f"connected to 127.0.0.1:{b.port} (broker 2 of 2)" in log

    # round-robin: B fails, A is back (with its older retained states,
    # which must not roll anything back); A gets the summaries of now
    before = {k: comparable(v) for k, v in summaries(b.port).items()}
    a.start()
    b.stop(signal.SIGKILL)
    wait_truth(a.port, truth_b, FY, timeout=60)
    after = {k: comparable(v) for k, v in summaries(a.port).items()}
    assert after == before
    wait_for(lambda: health_on(http, a.port), what="/healthz on A again")


def test_gateway_starts_with_the_first_broker_silent(tmp_path, procs):
    """A never answers (see Blackhole): --keepalive 5 bounds the wait."""
    hole = Blackhole()
    procs.append(hole)
    a, b = brokers(tmp_path, procs, "a", "b")
    a.port = hole.port  # the gateway's first --broker is the silent one
    b.start()
    truth = Truth()
    publish_units(b.port, truth, population(100, seed=23), seq=1)
    gw, http, port = http_gateway(tmp_path, a, b)
    procs.append(gw)
    gw.start()
    wait_for(lambda: _up(port), timeout=10, what="HTTP listening")
    wait_truth(b.port, truth, FY)
    assert health_on(http, b.port)["broker_index"] == 1


def test_gateway_broker_option_errors(tmp_path):
    gateway = os.path.join(os.path.dirname(AGENT), "vigie-gateway")
    cases = [
        (["--broker", "127.0.0.1:1883,127.0.0.1:0"],
         "--broker 127.0.0.1:1883,127.0.0.1:0: address 2 '127.0.0.1:0': "
         "the port must be 1..65535"),
        (["--broker", "127.0.0.1"], "address 1 '127.0.0.1' has no port"),
        (["--broker", "a:1,,b:2"], "address 2 is empty"),
        (["--broker", "a:1,b:2,c:3,d:4", "--broker", "e:5,f:6,g:7,h:8,i:9"],
         "more than 8 broker addresses"),
        (["--broker", "mqtt-a:1883", "--broker", "b:1883,MQTT-A:1883"],
         "--broker: MQTT-A:1883 is given twice (addresses 1 and 3)"),
    ]
    for args, want in cases:
        r = subprocess.run([gateway, "--data-dir", str(tmp_path)] + args,
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 2, (args, r)
        assert want in r.stderr, (args, r.stderr)

