"""Rule-based units (#16) against vigie-sim's kinds of equipment over
Modbus TCP and RTU: a radio (network id u32 CDAB, firmware version,
status word), a link CPE (a mode word with flags) and a device with a
model string reach the states the rules give, follow the simulator's
values as they change, and --check-config / --once --explain say why."""
import json
import os
import subprocess

from conftest import wait_for
from agent_kit import AGENT, Agent, Sim, Watcher, state_of, write_config

# The units of deploy/vigie-agent.conf, one per kind, at address a.
RADIO = ["value netid = holding {a} u32 word_order=little",
         "value fw = holding {a2} version length=3",
         "value status = holding {a5} u16",
         "retired = netid == 0",
         "migrated = netid in 4100..4199 and status & 0x0004 and "
         "fw >= 2.3.0",
         "migrating = netid in 4100..4199",
         "default = pending"]
CPE = ["value mode = holding {a} u16",
       "retired = mode & 0x8000",
       "migrated = mode & 0x0004",
       "migrating = mode & 0x0008",
       "default = pending"]
MODEL = ["value model = holding {a} string length=8",
         "value fw = holding {a8} string length=4",
         'retired = model == ""',
         'migrated = model ^= "APX" and fw >= 2.3',
         'migrating = model ^= "APX"',
         "default = pending"]
KINDS = {"radio": RADIO, "cpe": CPE, "model": MODEL}

# unit, program, slave, address, initial state, kind
SITE = [("R1", "renir", 1, 100, "pending", "radio"),
        ("R2", "renir", 1, 106, "migrated", "radio"),
        ("C1", "rgt", 1, 10, "migrating", "cpe"),
        ("C2", "rgt", 1, 11, "migrated", "cpe"),
        ("P1", "rgt", 1, 12, "retired", "plain"),
        ("M1", "renir", 2, 0, "migrating", "model")]


def unit_conf(program, device, addr, kind):
    """A unit's config keys for kind at addr (plain: address and map)."""
    kv = {"program": program, "device": device}
    if kind == "plain":
        kv["address"] = addr
        return kv
    for line in KINDS[kind]:
        k, v = line.split(" = ", 1)
        kv[k] = v.format(a=addr, a2=addr + 2, a5=addr + 5, a8=addr + 8)
    return kv


def site(tmp_path, broker_port, rtu):
    units = tmp_path / "units.txt"
    units.write_text("".join(" ".join(str(x) for x in u) + "\n"
                             for u in SITE))
    sim = Sim(rtu=rtu, slaves="1-2", size=300, units=str(units))
    link = ({"rtu": sim.pty, "baud": 19200, "frame_gap_ms": 2} if rtu
            else {"tcp": f"127.0.0.1:{sim.port}"})
    devices = {f"s{n}": dict(link, slave=n, poll_interval_ms=200,
                             response_timeout_ms=300) for n in (1, 2)}
    conf = write_config(tmp_path, broker_port, devices,
                        {u: unit_conf(p, f"s{sl}", a, k)
                         for u, p, sl, a, _, k in SITE})
    return sim, conf


def program(unit):
    return next(p for u, p, *_ in SITE if u == unit)


def check_site(broker, tmp_path, procs, rtu):
    sim, conf = site(tmp_path, broker.port, rtu)
    procs.append(sim)
    agent = Agent(conf, tmp_path)
    procs.append(agent)
    agent.start()
    w = Watcher(broker.port)

    def state(u):
        return state_of(w.msgs, u, program(u))

    try:
        for u, _, _, _, st, _ in SITE:
            wait_for(lambda: state(u) == st, what=f"{u} {st}")
        # the simulator moves units as their equipment would show it
        for u, st in (("R1", "migrating"), ("R1", "migrated"),
                      ("C1", "migrated"), ("M1", "migrated"),
                      ("R2", "retired"), ("C2", "pending"),
                      ("M1", "retired")):
            sim.cmd(f"state {u} {st}")
            wait_for(lambda: state(u) == st, what=f"{u} then {st}")
        # and values set one by one: a radio's firmware rolled back, then
        # a network id of the old network, written low word first
        sim.cmd("put 1 102 version 2.2.9")
        wait_for(lambda: state("R1") == "migrating", what="R1 old fw")
        sim.cmd("put 1 100 u32 70000 CDAB")
        wait_for(lambda: state("R1") == "pending", what="R1 old net")
        sim.cmd("text 2 0 8 XTL 5000")
        wait_for(lambda: state("M1") == "pending", what="M1 renamed")
        # a value that matches no rule and no default: a read fault
        sim.cmd("text 2 0 8 APX")
        sim.cmd("text 2 8 4 none")
        wait_for(lambda: state("M1") == "migrating", what="M1 no fw")
        assert "fault" not in w.get(
            f"vigie/v1/unit/renir/03/site-t/M1")
    finally:
        w.close()
    # contiguous values and plain registers: one request per slave's run
    rc, out, _ = agent.ctl("status", "--all")
    assert rc == 0
    return out


def test_rule_units_over_tcp(broker, tmp_path, procs):
    out = check_site(broker, tmp_path, procs, rtu=False)
    # slave 1: 10-12 and 100-111, two requests; slave 2: 0-11, one
    assert "slave 1: 2 request(s) planned per poll" in out
    assert "slave 2: 1 request(s) planned per poll" in out


def test_rule_units_over_rtu(broker, tmp_path, procs):
    check_site(broker, tmp_path, procs, rtu=True)


def test_no_rule_matched_is_a_fault_until_one_does(broker, tmp_path,
                                                  procs):
    sim = Sim(slaves="1")
    procs.append(sim)
    sim.cmd("put 1 20 float32 0.25 CDAB")
    conf = write_config(tmp_path, broker.port,
                        {"plc": {"tcp": f"127.0.0.1:{sim.port}",
                                 "poll_interval_ms": 200}},
                        {"F1": {"program": "rgt", "device": "plc",
                                "address": 20, "type": "float32",
                                "byte_order": "CDAB",
                                "migrated": "value >= 1.5",
                                "migrating": "value in 0.5..1.5"}})
    agent = Agent(conf, tmp_path)
    procs.append(agent)
    agent.start()
    w = Watcher(broker.port)
    try:
        wait_for(lambda: (w.get("vigie/v1/unit/rgt/03/site-t/F1") or
                          {}).get("fault") == "no rule matched",
                 what="F1 fault")
        sim.cmd("put 1 20 float32 0.75 CDAB")
        wait_for(lambda: state_of(w.msgs, "F1", "rgt") == "migrating",
                 what="F1 migrating")
        assert "fault" not in w.get("vigie/v1/unit/rgt/03/site-t/F1")
        sim.cmd("put 1 20 float32 2 CDAB")
        wait_for(lambda: state_of(w.msgs, "F1", "rgt") == "migrated",
                 what="F1 migrated")
    finally:
        w.close()


def test_check_config_and_once_explain(tmp_path, procs):
    sim, conf = site(tmp_path, 1, rtu=False)
    procs.append(sim)
    r = subprocess.run([AGENT, "--check-config", conf, "--explain"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert "6 unit(s)" in r.stdout
    assert "  netid: holding 100 u32 word_order=little\n" in r.stdout
    assert "  model: holding 0 string length=8\n" in r.stdout
    assert "  map 0=pending 1=migrating 2=migrated 3=retired\n" in r.stdout
    assert ": migrated = netid in 4100..4199 and status & 0x0004 and " \
        "fw >= 2.3.0\n" in r.stdout
    r = subprocess.run([AGENT, "--once", "--explain", "-c", conf],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "unit R1 (line" in out and "): pending\n" in out
    assert "  netid = 69632 (0x11000)  (holding 100 u32 " \
        "word_order=little)\n" in out
    assert "  fw = 2.3.1  (holding 108 version length=3)\n" in out
    assert "migrating = netid in 4100..4199  -> false (netid in " \
        "4100..4199)\n" in out
    assert '  model = "APX 8000"  (holding 0 string length=8)\n' in out
    assert '  fw = "v1.9.4"  (holding 8 string length=4)\n' in out
    assert "map 0=pending 1=migrating 2=migrated 3=retired  -> " \
        "mapped\n" in out
    # the table still follows, and --json keeps stdout JSON
    assert "UNIT" in out and "R2                   renir  migrated" in out
    r = subprocess.run([AGENT, "--once", "--json", "--explain", "-c", conf],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert all(json.loads(x) for x in r.stdout.splitlines())
    assert "unit C2 (line" in r.stderr
    assert not os.path.exists(os.path.join(str(tmp_path), "data"))


def test_check_config_names_the_line(tmp_path):
    conf = write_config(tmp_path, 1,
                        {"d": {"tcp": "127.0.0.1:502"}},
                        {"U": {"program": "renir", "device": "d",
                               "value model": "holding 0 string length=4",
                               "migrated": "model >= 2.3",
                               "default": "pending",
                               "retired": "model == \"\""}})
    r = subprocess.run([AGENT, "--check-config", conf],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    lines = open(conf).read().splitlines()
    n = lines.index('retired = model == ""') + 1
    assert r.stderr.startswith(
        f"{conf}:{n}: retired after default (line {n - 1}) can never "
        "apply"), r.stderr


def test_the_documented_examples_are_valid(tmp_path):
    """deploy/vigie-agent.conf, and every example of docs/rules.md
    pasted into a unit, pass --check-config."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    r = subprocess.run([AGENT, "--check-config", os.path.join(
        root, "deploy", "vigie-agent.conf"), "--explain"],
        capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert "  netid: holding 300 u32 word_order=little\n" in r.stdout
    text = open(os.path.join(root, "docs", "rules.md")).read()
    blocks = [b.split("```", 1)[0] for b in text.split("```ini\n")[1:]]
    assert len(blocks) == 4
    head = ("[site]\nid = s\nregion = 03\n"
            "[device radio-rack-1]\ntcp = 127.0.0.1:502\nslave = 1\n"
            "[device radio-rack-2]\ntcp = 127.0.0.1:502\nslave = 2\n"
            "[device armoire-a]\ntcp = 127.0.0.1:502\nslave = 3\n")
    for n, block in enumerate(blocks):
        if not block.startswith("[unit "):
            block = (f"[unit X{n}]\nprogram = rgt\n"
                     "device = armoire-a\n" + block)
        conf = tmp_path / f"doc{n}.conf"
        conf.write_text(head + block)
        r = subprocess.run([AGENT, "--check-config", str(conf)],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, block + r.stderr
