"""What the agent can vouch for: a publish the broker refuses (MQTT 5
PUBACK 0x87) is never taken for delivered, presence sessions order birth
and will, the NOC's receipts say when a mark is in its hands, and the
birth carries the agent's health."""
import json
import os
import re
import signal
import socket
import subprocess
import threading


from conftest import Broker, publish_all, retained, wait_for
from agent_kit import AGENT, Agent, Sim, Watcher, unit_states, write_config

SITE = "site-t"
AGENT_TOPIC = f"vigie/v1/agent/{SITE}"
RECEIPT_TOPIC = f"vigie/v1/receipt/{SITE}"
REFUSED = "refused by the broker: not authorized"


def units(sim_port=None):
    out = {"M1": {"program": "rgt", "source": "manual"},
           "M2": {"program": "rgt", "source": "manual"}}
    if sim_port:
        out["U1"] = {"program": "renir", "device": "plc", "address": 1}
        out["U2"] = {"program": "renir", "device": "plc", "address": 2}
    return out


def devices(sim_port):
    return {"plc": {"tcp": f"127.0.0.1:{sim_port}", "poll_interval_ms": 200,
                    "response_timeout_ms": 300}}


def site_config(tmp_path, broker, sim=None, broker_extra=""):
    path = write_config(tmp_path, broker.port,
                        devices(sim.port) if sim else {},
                        units(sim.port if sim else None))
    with open(path) as f:  # one [broker] section: a second is refused
        text = f.read().replace("[broker]\n", "[broker]\n" + broker_extra, 1)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)  # it may hold a password
    return path


def status(agent):
    rc, out, err = agent.ctl("status", "--all")
    assert rc == 0, err
    return out


def status_until(agent, pred, what, timeout=20.0):
    """The agent's status once pred(status) holds; on timeout the last
    status is in the failure."""
    last = [""]

    def probe():
        last[0] = status(agent)
        return last[0] if pred(last[0]) else None

    try:
        return wait_for(probe, timeout=timeout, what=what)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}; last status:\n"
                             f"{last[0]}") from None


def unit_line(out, unit):
    return next((line for line in out.splitlines()
                 if line.split(" ", 1)[0] == unit), "")


def refused_count(out):
    m = re.search(r"^refused (\d+) publish", out, re.M)
    return int(m.group(1)) if m else 0


def acl_broker(tmp_path):
    """Password file and ACL as deployed: a site's account writes only its
    own topics.  Anonymous clients (the test's watchers) only read, but
    for conftest.retained's barrier topic, outside vigie/."""
    d = os.path.join(str(tmp_path), "broker")
    os.makedirs(d, exist_ok=True)
    pw = os.path.join(d, "passwd")
    open(pw, "w").close()
    os.chmod(pw, 0o600)
    for user, secret in ((SITE, "pw-site"), ("other", "pw-other")):
        subprocess.run(["mosquitto_passwd", "-b", pw, user, secret],
                       check=True, capture_output=True, timeout=10)
    acl = os.path.join(d, "acl")
    with open(acl, "w") as f:
        f.write("topic read vigie/v1/#\n"
                "topic readwrite vigie-test/barrier/#\n")
        for user in (SITE, "other"):
            f.write(f"user {user}\n"
                    f"topic write vigie/v1/unit/+/+/{user}/+\n"
                    f"topic write vigie/v1/agent/{user}\n"
                    f"topic read vigie/v1/receipt/{user}\n")
    os.chmod(acl, 0o600)
    b = Broker(tmp_path, f"password_file {pw}\nacl_file {acl}\n")
    b.start()
    return b


def check_config(path):
    return subprocess.run([AGENT, "--check-config", path],
                          capture_output=True, text=True, timeout=10)


def test_refused_publish_stays_in_the_outbox(tmp_path, procs):
    broker = acl_broker(tmp_path)
    procs.append(broker)
    sim = Sim(slaves="1")
    procs.append(sim)
    watch = Watcher(broker.port)
    conf = site_config(tmp_path, broker, sim,
                       "username = other\npassword = pw-other\n")
    r = check_config(conf)
    assert r.returncode == 0, r.stderr
    assert "warning: [broker] username 'other' differs from the site id" \
        in r.stderr
    agent = Agent(conf, tmp_path)
    procs.append(agent)
    try:
        agent.start()
        out = status_until(agent, lambda o: all(
            REFUSED in unit_line(o, u) for u in ("U1", "U2", "M1", "M2")),
            "every unit refused")
        assert "4 record(s) awaiting acknowledgement" in out
        assert "4 refused by the broker: not authorized" in out
        assert re.search(r"^refused \d+ publish\(es\) refused by the "
                         r"broker: not authorized", out, re.M), out
        for u in ("U1", "U2", "M1", "M2"):
            assert "unacked" in unit_line(out, u)
        # a new mark is refused once, not retried in a loop
        before = refused_count(out)
        rc, said, err = agent.ctl("mark", "M1", "migrated", "--tech",
                                  "T-1", "--wait", "1")
        assert rc == 3, (rc, said, err)
        assert "published" not in said
        assert "broker refuses this agent's publishes" in said
        assert "not yet confirmed" in err and REFUSED in err
        out = status_until(agent, lambda o: "migrated" in unit_line(
            o, "M1") and REFUSED in unit_line(o, "M1"), "the mark refused")
        assert refused_count(out) <= before + 3, (before, out)
        assert "4 record(s) awaiting acknowledgement" in out
        # nothing of this site reached the broker
        assert watch.msgs == {}
        assert retained(broker.port, "vigie/v1/#") == {}
    finally:
        watch.close()
    log = open(os.path.join(str(tmp_path), "agent.log")).read()
    assert "the broker refused" in log and "not authorized" in log


def test_mqtt_311_cannot_see_the_refusal(tmp_path, procs):
    """Why the agent speaks MQTT 5: on 3.1.1 mosquitto acknowledges an
    ACL-denied publish like any other, so the outbox empties while the
    broker keeps nothing (and --check-config says so)."""
    broker = acl_broker(tmp_path)
    procs.append(broker)
    conf = site_config(tmp_path, broker, None,
                       "username = other\npassword = pw-other\n"
                       "mqtt_version = 3.1.1\n")
    r = check_config(conf)
    assert r.returncode == 0 and "a publish the broker refuses looks " \
        "delivered" in r.stderr, r.stderr
    agent = Agent(conf, tmp_path)
    procs.append(agent)
    agent.start()
    out = status_until(agent, lambda o: "0 record(s) awaiting" in o,
                       "outbox empty")
    assert "MQTT 3.1.1" in out and REFUSED not in out
    assert retained(broker.port, "vigie/v1/#") == {}


def test_the_right_account_is_accepted(tmp_path, procs):
    broker = acl_broker(tmp_path)
    procs.append(broker)
    conf = site_config(tmp_path, broker, None,
                       f"username = {SITE}\npassword = pw-site\n")
    r = check_config(conf)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    agent = Agent(conf, tmp_path)
    procs.append(agent)
    agent.start()
    wait_for(lambda: "0 record(s) awaiting" in status(agent),
             what="outbox empty")
    wait_for(lambda: set(unit_states(broker.port)) == {"M1", "M2"},
             what="units on the broker")
    assert "refused" not in status(agent).split("\nUNIT", 1)[0]


def presence_of(watch, online):
    return [p for p in watch.seen(AGENT_TOPIC)
            if p and p.get("online") is online]


def test_birth_and_will_share_a_session_that_grows(broker, tmp_path, procs):
    watch = Watcher(broker.port, AGENT_TOPIC)
    agent = Agent(site_config(tmp_path, broker), tmp_path)
    procs.append(agent)
    try:
        agent.start()
        birth = wait_for(lambda: presence_of(watch, True),
                         what="birth")[0]
        s1 = birth["session"]
        assert f"session {s1}" in status(agent)
        agent.stop(signal.SIGKILL)  # the broker sends the will
        will = wait_for(lambda: presence_of(watch, False), what="will")[0]
        assert will["session"] == s1
        agent.start()
        birth2 = wait_for(lambda: [p for p in presence_of(watch, True)
                                   if p["session"] != s1],
                          what="second birth")[0]
        assert birth2["session"] > s1
        agent.stop()  # a clean stop says offline for the same session
        bye = wait_for(lambda: [p for p in presence_of(watch, False)
                                if p["session"] == birth2["session"]],
                       what="goodbye")
        assert bye
    finally:
        watch.close()


def receipt(seq, site=SITE):
    return json.dumps({"v": 1, "site": site, "seq": seq,
                       "ts": "2026-11-30T12:00:00Z"})


def test_receipts_confirm_what_the_noc_has(broker, tmp_path, procs):
    watch = Watcher(broker.port)
    agent = Agent(site_config(tmp_path, broker), tmp_path)
    procs.append(agent)
    try:
        agent.start()
        m1 = wait_for(lambda: unit_states(broker.port).get("M1"),
                      what="birth")
        out = status_until(agent, lambda o: "0 record(s) awaiting" in o,
                           "acked")
        assert "no receipt from the NOC yet" in out
        assert "at the broker, awaiting the NOC" in unit_line(out, "M1")
        # a receipt naming another site is ignored; the gateway's is not
        publish_all(broker.port, [(RECEIPT_TOPIC, receipt(2**50, "x"), True),
                                  (RECEIPT_TOPIC, receipt(m1["seq"]), True)])
        out = status_until(agent, lambda o: "received by the NOC" in
                           unit_line(o, "M1"), "receipt applied")
        assert f"received up to seq={m1['seq']}" in out

        # mark --wait: success once the NOC's receipt covers the mark
        mark = subprocess.Popen(
            [AGENT, "-s", agent.sock, "mark", "M1", "migrated", "--tech",
             "T-9", "--wait", "10"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        key = f"vigie/v1/unit/rgt/03/{SITE}/M1"
        marked = wait_for(lambda: (watch.get(key) or {}).get("state")
                          == "migrated" and watch.get(key), what="mark out")
        publish_all(broker.port, [(RECEIPT_TOPIC, receipt(marked["seq"]),
                                   True)])
        said, err = mark.communicate(timeout=30)
        assert mark.returncode == 0, (said, err)
        assert "received by the NOC" in said and "published" not in said

        # and a clear failure when no receipt comes
        rc, said, err = agent.ctl("mark", "M2", "retired", "--tech", "T-9",
                                  "--wait", "2")
        assert rc == 3, (rc, said, err)
        assert "not yet confirmed" in err
        assert "awaiting the NOC" in err
    finally:
        watch.close()


def test_birth_carries_health(broker, tmp_path, procs):
    sim = Sim(slaves="1")
    procs.append(sim)
    agent = Agent(site_config(tmp_path, broker, sim), tmp_path)
    procs.append(agent)
    agent.start()

    def presence():
        p = retained(broker.port, AGENT_TOPIC).get(AGENT_TOPIC)
        return json.loads(p) if p else None

    p = wait_for(lambda: (lambda q: q if q and q["online"] and
                          q.get("devices_ok") == 1 else None)(presence()),
                 what="birth with the device answering")
    for field in ("session", "outbox", "oldest_unacked_s", "devices_ok",
                  "devices_failing", "refused", "config_hash", "version",
                  "board"):
        assert field in p, (field, p)
    assert re.fullmatch(r"[0-9a-f]{16}", p["config_hash"])
    assert p["config_hash"] in status(agent)
    session = p["session"]
    # the device dies: the birth is republished (same session), and the
    # device is not "answering" while all its units fault
    sim.stop()
    p = wait_for(lambda: (lambda q: q if q and q.get("devices_failing")
                          == 1 else None)(presence()), timeout=60,
                 what="health republished")
    assert p["session"] == session and p["devices_ok"] == 0
    out = status(agent)
    device = next(line for line in out.splitlines()
                  if line.startswith("device  plc"))
    assert "answering" not in device.replace("NOT ANSWERING", ""), device


class OldBroker:
    """Just enough of an MQTT 3.1.1-only broker: a CONNECT of protocol
    level 5 gets the 3.1.1 answer "unacceptable protocol version" (a
    2-byte CONNACK) and the connection closed; level 4 is accepted."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.srv.settimeout(0.2)
        self.port = self.srv.getsockname()[1]
        self.levels = []
        self.done = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @staticmethod
    def _recv(c, n):
        data = b""
        while len(data) < n:
            chunk = c.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _connect_level(self, c):
        c.settimeout(5)
        try:
            if self._recv(c, 1) != b"\x10":
                return None
            for _ in range(4):  # remaining length: a varint
                if not self._recv(c, 1)[0] & 0x80:
                    break
            return self._recv(c, 7)[6]  # name length, "MQTT", level
        except (EOFError, OSError):
            return None

    def _run(self):
        while not self.done.is_set():
            try:
                c, _ = self.srv.accept()
            except socket.timeout:
                continue
            level = self._connect_level(c)
            self.levels.append(level)
            if level == 4:
                c.sendall(b"\x20\x02\x00\x00")
                self.conns.append(c)  # kept open until stop
            else:
                c.sendall(b"\x20\x02\x00\x01")
                c.close()

    def stop(self):
        self.done.set()
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.srv.close()


def test_falls_back_to_311_when_the_broker_refuses_5(tmp_path, procs):
    old = OldBroker()
    procs.append(old)
    agent = Agent(site_config(tmp_path, old), tmp_path)
    procs.append(agent)
    agent.start()
    wait_for(lambda: 4 in old.levels, what="a 3.1.1 CONNECT")
    assert old.levels[0] == 5
    status_until(agent, lambda o: "MQTT 3.1.1" in o and "connected" in o,
                 "connected over 3.1.1")
    log = open(os.path.join(str(tmp_path), "agent.log")).read()
    assert "the broker refuses MQTT 5; falling back to MQTT 3.1.1" in log
