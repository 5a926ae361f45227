"""The agent's control socket and files against a hostile or careless local
user: a client that trickles its request (or never sends it) holds neither
the main thread (watchdog, signals) nor other technicians; a refused mark
leaves no trace; the data directory and its files have fixed modes
whatever the umask the agent was started with."""
import os
import resource
import socket
import stat
import subprocess
import threading
import time

import pytest

from conftest import wait_for
from agent_kit import AGENT, Agent, Sim, write_config

# the agent's bound on a control connection (firmware/ctl.h)
CTL_DEADLINE_S = 5
CTL_CLIENTS = 8


UNITS = {"U1": {"program": "renir", "device": "plc", "address": 1},
         "M1": {"program": "rgt", "source": "manual"}}


def start_agent(tmp_path, broker, procs, **kw):
    sim = Sim(slaves="1")
    procs.append(sim)
    path = write_config(tmp_path, broker.port,
                        {"plc": {"tcp": f"127.0.0.1:{sim.port}",
                                 "poll_interval_ms": 200,
                                 "response_timeout_ms": 300}}, UNITS)
    agent = Agent(path, tmp_path, **kw)
    procs.append(agent)
    agent.start()
    return agent


def ctl_bytes(agent, *args):
    """The client with raw bytes arguments (a note need not be UTF-8)."""
    r = subprocess.run([AGENT, "-s", agent.sock] + list(args),
                       capture_output=True, timeout=20)
    return r.returncode, r.stdout, r.stderr


def trickle(path, out):
    """One byte every 0.5 s, never a newline, until the agent hangs up.
    Bounded: 120 bytes (a minute)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    out["connected"] = True
    try:
        for _ in range(120):
            s.send(b"s")
            out["sent"] += 1
            s.settimeout(0.5)
            try:
                data = s.recv(4096)
            except socket.timeout:
                continue
            out["answer"] += data
            if not data:
                break
    except OSError:
        pass  # reset by the agent: hung up as well
    finally:
        out["closed"] = True
        s.close()


def test_trickling_client_blocks_neither_status_nor_watchdog(
        broker, tmp_path, procs):
    notify_path = os.path.join(str(tmp_path), "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    # as systemd would: WATCHDOG_USEC=1 s, so a ping every 0.5 s
    agent = start_agent(tmp_path, broker, procs,
                        env={"NOTIFY_SOCKET": notify_path,
                             "WATCHDOG_USEC": "1000000"})
    notify.setblocking(False)
    while True:  # what came before the trickle does not count
        try:
            notify.recv(256)
        except BlockingIOError:
            break
    out = {"connected": False, "closed": False, "sent": 0, "answer": b""}
    t = threading.Thread(target=trickle, args=(agent.sock, out),
                         daemon=True)
    t.start()
    wait_for(lambda: out["sent"] >= 2, timeout=10, what="trickle started")
    # another technician is answered meanwhile
    for _ in range(3):
        rc, stdout, err = agent.ctl("status", "--all")
        assert rc == 0, err
        assert "M1" in stdout
    # and the systemd watchdog keeps being pinged
    pings = 0
    deadline = time.monotonic() + 30
    while not out["closed"] and time.monotonic() < deadline:
        try:
            pings += notify.recv(256) == b"WATCHDOG=1"
        except BlockingIOError:
            time.sleep(0.1)
    t.join(5)
    assert out["closed"], "the agent never hung up on the trickling client"
    assert pings >= 2, f"{pings} watchdog ping(s) during the trickle"
    # cut off by the agent, with a reason, long before its buffer filled
    assert out["answer"].startswith(b"error:"), out["answer"]
    assert out["sent"] < 100
    assert agent.proc.poll() is None
    notify.close()


def test_a_crowd_of_silent_clients_does_not_lock_out_status(
        broker, tmp_path, procs):
    agent = start_agent(tmp_path, broker, procs)
    silent = []
    try:
        for _ in range(2 * CTL_CLIENTS):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(agent.sock)
            silent.append(s)
        rc, out, err = agent.ctl("status")
        assert rc == 0, err
        # every silent one is eventually hung up on
        for s in silent:
            s.settimeout(30)
            try:
                while s.recv(4096):
                    pass
            except ConnectionResetError:
                pass
    finally:
        for s in silent:
            s.close()
    assert agent.proc.poll() is None


def m1_line(agent):
    """M1's record in `status --json`."""
    m1 = agent.unit("M1")
    assert m1 is not None, "the agent does not answer"
    return m1


def store_bytes(tmp_path, name):
    """A store file's bytes; None when it does not exist (a manual unit
    never marked has no record: its first "unknown" is not written)."""
    try:
        with open(os.path.join(str(tmp_path), "data", "units", name),
                  "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


REFUSED = [
    (["M1", "migrated", "--tech", "T-1", "--note", b"caf\xe9 froid"],
     b"not valid UTF-8"),
    (["M1", "gone", "--tech", "T-1"], b"bad state"),
    (["M1", "unknown", "--tech", "T-1"], b"bad state"),
    (["M1", "migrated", "--tech", "T/1"], b"bad technician id"),
    (["M1", "migrated", "--tech", "T-1", "--note", "x" * 200],
     b"longer than 127 bytes"),
    (["M1", "migrated", "--tech", "T-1", "--note", "tab\there"],
     b"printable"),
    (["NOPE", "migrated", "--tech", "T-1"], b"unknown unit"),
    (["U1", "migrated", "--tech", "T-1"], b"read over Modbus"),
]


def test_a_refused_mark_changes_nothing(broker, tmp_path, procs):
    agent = start_agent(tmp_path, broker, procs)
    wait_for(lambda: not m1_line(agent)["unacked"],
             what="M1 acknowledged by the broker")
    def snapshot():
        return (m1_line(agent), store_bytes(tmp_path, "u.M1"),
                store_bytes(tmp_path, "seq"))

    before = snapshot()
    for args, why in REFUSED:
        rc, out, err = ctl_bytes(agent, "mark", *args)
        assert rc != 0, args
        # status, record and seq reservation as they were
        assert snapshot() == before, (args, err)
        assert why in err and b"nothing was changed" in err, (args, err)
    # a note in UTF-8 goes through
    rc, out, err = ctl_bytes(agent, "mark", "M1", "migrated", "--tech", "T-1",
                             "--note", "café froid".encode())
    assert rc == 0, err
    m1 = m1_line(agent)
    assert m1["state"] == "migrated" and m1["tech"] == "T-1", m1
    assert m1["note"] == "café froid", m1


def test_mark_on_a_refusing_disk_says_it_is_in_memory_only(
        broker, tmp_path, procs):
    """Not a refusal: the degraded store publishes from memory, as for
    Modbus reads; but the technician is told it is not on disk."""
    agent = start_agent(tmp_path, broker, procs)
    pid = agent.proc.pid
    inf = resource.RLIM_INFINITY
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, inf))
    try:
        rc, out, err = agent.ctl("mark", "M1", "retired", "--tech", "T-9")
        assert rc == 0, err
        assert "held in memory only" in out
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (inf, inf))


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_data_dir_and_files_modes_whatever_the_umask(broker, tmp_path,
                                                     procs, umask):
    agent = start_agent(tmp_path, broker, procs, umask=umask)
    rc, _, err = agent.ctl("mark", "M1", "retired", "--tech", "T-9")
    assert rc == 0, err
    data = os.path.join(str(tmp_path), "data")
    units = os.path.join(data, "units")
    wait_for(lambda: os.path.exists(os.path.join(units, "seq")),
             what="seq file")
    assert stat.S_IMODE(os.stat(agent.sock).st_mode) == 0o660
    agent.stop()  # no write in flight (a tmp.* file between open and chmod)
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(units).st_mode) == 0o750
    files = [os.path.join(data, "agent.lock")] + [
        os.path.join(units, n) for n in os.listdir(units)]
    assert len(files) >= 4  # lock, seq, u.U1, u.M1
    modes = {f: oct(stat.S_IMODE(os.stat(f).st_mode)) for f in files}
    assert set(modes.values()) == {"0o640"}, modes


def test_check_config_refuses_an_indented_ca_file(tmp_path):
    """Trust II point 5: inih made the indented line part of the user name
    and the agent went on in clear to a remote broker."""
    path = os.path.join(str(tmp_path), "agent.conf")
    with open(path, "w") as f:
        f.write("[site]\nid = s\nregion = 03\n[broker]\n"
                "host = 127.0.0.1\nusername = agent\n"
                "    ca_file = /etc/vigie/ca.pem\n")
    for args in (["--check-config", path], ["-c", path]):
        r = subprocess.run([AGENT] + args, capture_output=True, text=True,
                           timeout=20)
        assert r.returncode == 1, r
        assert f"{path}:7: indented line" in r.stderr, r.stderr
