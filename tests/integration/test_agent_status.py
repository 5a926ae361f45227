"""The people's view of `vigie-agent status` and `--once`: a summary read
in five seconds (link, NOC, outbox, devices, counts, faults) and nothing
else unless asked (--pending, --faults, --all), French or English from the
client's locale, a JSON document for scripts, and a --once that reads like
a table, shows a manual unit's mark and fails when no device answered."""
import json
import subprocess

from conftest import free_port, wait_for
from agent_kit import AGENT, Agent, Sim, write_config


def tcp_device(port, slave):
    return {"tcp": f"127.0.0.1:{port}", "slave": slave,
            "poll_interval_ms": 200, "response_timeout_ms": 300,
            "retries": 0}


def site_units():
    units = {f"U{k}": {"program": "renir", "device": "plc", "address": k}
             for k in range(1, 5)}
    units["R1"] = {"program": "rgt", "device": "plc", "address": 9}
    units["D1"] = {"program": "renir", "device": "dead", "address": 1}
    units["M1"] = {"program": "renir", "source": "manual"}
    units["M2"] = {"program": "rgt", "source": "manual"}
    return units


def start_site(tmp_path, broker, procs):
    """A small site: plc answers (U1 migrated, U2 migrating, R1 retired,
    U3-U4 pending), device "dead" points at a closed port, M1 marked."""
    sim = Sim(slaves="1")
    procs.append(sim)
    for addr, value in ((1, 2), (2, 1), (9, 3)):
        sim.cmd(f"set 1 {addr} {value}")
    conf = write_config(tmp_path, broker.port,
                        {"plc": tcp_device(sim.port, 1),
                         "dead": tcp_device(free_port(), 1)}, site_units())
    agent = Agent(conf, tmp_path)
    procs.append(agent)
    agent.start()
    rc, _, err = agent.ctl("mark", "M1", "migrated", "--tech", "alice")
    assert rc == 0, err

    def settled():
        st = agent.status()
        units = {u["unit"]: u for u in st["units"]}
        return (st["link"]["connected"] and st["outbox"]["unacked"] == 0
                and units["U1"]["state"] == "migrated"
                and units["R1"]["state"] == "retired"
                and units["D1"]["fault"] is not None)
    wait_for(settled, what="site settled")
    return agent, conf


def unit_lines(out):
    return [ln.split()[0] for ln in out.splitlines()
            if ln.split() and ln.split()[0] in site_units()]


def test_summary_reads_in_five_seconds(broker, tmp_path, procs):
    agent, _ = start_site(tmp_path, broker, procs)
    rc, out, err = agent.ctl("status")
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) <= 10, out
    head = {ln.split()[0]: ln for ln in lines}
    assert "connected to 127.0.0.1" in head["link"] and "ago" in head["link"]
    assert "no receipt from the NOC yet" in head["noc"]
    assert "0 record(s) awaiting the broker" in head["outbox"]
    assert "1 answering, 1 failing: dead" in head["devices"]
    assert head["units"].startswith("units    8")
    assert "renir: 2 pending, 1 migrating, 2 migrated, 1 unknown" in head["units"]
    assert "rgt: 1 retired, 1 unknown" in head["units"]
    assert "1 unit(s) with a read fault" in head["faults"]
    assert unit_lines(out) == []  # no unit lines by default


def test_pending_faults_and_all_filter_the_units(broker, tmp_path, procs):
    agent, _ = start_site(tmp_path, broker, procs)
    rc, out, _ = agent.ctl("status", "--pending")
    # still to do: neither migrated nor retired (unknown counts as to do)
    assert rc == 0 and sorted(unit_lines(out)) == ["D1", "M2", "U2", "U3",
                                                   "U4"], out
    assert "5 of 8 unit(s) shown" in out
    rc, out, _ = agent.ctl("status", "--faults")
    assert rc == 0 and unit_lines(out) == ["D1"], out
    assert 'fault="' in out
    rc, out, _ = agent.ctl("status", "--all")
    assert rc == 0 and sorted(unit_lines(out)) == sorted(site_units()), out
    assert "delivery 0 received by the NOC" in out
    assert "(1 connects; MQTT 5" in out and "FAILING" in out


def test_language_follows_the_clients_locale(broker, tmp_path, procs):
    agent, _ = start_site(tmp_path, broker, procs)
    _, fr, _ = agent.ctl("status", lang="fr_CA.UTF-8")
    assert fr.startswith("site      site-t, région 03"), fr
    assert "lien      connecté à 127.0.0.1" in fr
    assert "appareils 1 répond(ent), 1 en échec : dead" in fr
    assert "unités    8 ; renir : 2 en attente, 1 en migration, 2 migrée(s)" in fr
    assert "défauts   1 unité(s) en défaut de lecture" in fr
    _, en, _ = agent.ctl("status", lang="en_US.UTF-8")
    assert "link     connected to" in en and "lien" not in en
    # LC_ALL outranks LANG; no locale at all: French, the users' language
    _, unset, _ = agent.ctl("status", lang=None)
    assert unset.startswith("site      site-t, région"), unset
    _, fr_all, _ = agent.ctl("status", "--all", lang="fr_FR.UTF-8")
    assert "UNITÉ" in fr_all and "acheminement 0 reçu(s)" in fr_all


def test_json_is_one_document_with_everything(broker, tmp_path, procs):
    agent, _ = start_site(tmp_path, broker, procs)
    rc, out, _ = agent.ctl("status", "--json", lang="fr_CA.UTF-8")
    assert rc == 0
    st = json.loads(out)  # the locale never changes the JSON
    assert st["site"] == "site-t" and st["region"] == "03"
    assert st["link"]["connected"] is True and st["link"]["connects"] == 1
    assert st["link"]["mqtt"] == "5" and st["noc"]["receipt"] is False
    assert st["noc"]["seq"] is None and st["outbox"]["unacked"] == 0
    assert {d["name"]: d["state"] for d in st["devices"]} == {
        "plc": "answering", "dead": "failing"}
    assert st["counts"]["units"] == 8 and st["counts"]["faults"] == 1
    assert st["counts"]["programs"]["renir"]["migrated"] == 2
    assert st["counts"]["delivery"]["broker"] == 8
    units = {u["unit"]: u for u in st["units"]}
    assert len(units) == 8
    m1 = units["M1"]
    assert (m1["state"], m1["source"], m1["tech"]) == ("migrated",
                                                       "manual", "alice")
    assert m1["delivery"] == "broker" and m1["unacked"] is False
    assert units["U3"]["fault"] is None and units["D1"]["fault"]
    assert units["U1"]["since"].endswith("Z")


def test_once_shows_the_mark_and_fails_when_no_device_answers(
        broker, tmp_path, procs):
    agent, conf = start_site(tmp_path, broker, procs)
    agent.stop()
    store = tmp_path / "data" / "units"
    before = {p.name: p.read_bytes() for p in store.iterdir()}
    r = subprocess.run([AGENT, "--once", "-c", conf], capture_output=True,
                       text=True, timeout=20, env={"LC_ALL": "C"})
    assert r.returncode == 0, r.stderr  # plc answers, "dead" does not
    rows = {ln.split()[0]: ln for ln in r.stdout.splitlines()}
    assert rows["UNIT"].split()[:4] == ["UNIT", "PROG", "STATE", "SOURCE"]
    assert rows["M1"].split()[2] == "migrated" and "tech=alice" in rows["M1"]
    assert rows["M2"].split()[2] == "unknown"
    assert rows["U1"].split()[2] == "migrated"
    assert "device dead: FAILING" in r.stdout
    r = subprocess.run([AGENT, "--once", "--json", "-c", conf],
                       capture_output=True, text=True, timeout=20)
    payloads = {x["payload"].get("unit"): x["payload"]
                for x in map(json.loads, r.stdout.splitlines())}
    assert payloads["M1"]["state"] == "migrated"
    # the store was only read
    assert {p.name: p.read_bytes() for p in store.iterdir()} == before

    alone = write_config(tmp_path, broker.port,
                         {"dead": tcp_device(free_port(), 1)},
                         {"D1": {"program": "renir", "device": "dead",
                                 "address": 1}}, name="dead.conf")
    r = subprocess.run([AGENT, "--once", "-c", alone], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 1 and "no device answered" in r.stderr
    assert "D1" in r.stdout
