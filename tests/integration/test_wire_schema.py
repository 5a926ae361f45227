"""The wire contract's machine-readable half (docs/asyncapi.yaml and the
JSON Schemas of docs/schema/) against its normative text (docs/protocol.md)
and against wrong payloads; and the check every integration test runs on
what it receives (wire_schema.py), shown to fail a test that receives a
payload outside the contract.
"""
import glob
import json
import os
import re
import subprocess
import sys
import textwrap

import jsonschema
import pytest
import yaml

import wire_schema
from conftest import BUILD, ROOT

DOCS = os.path.join(ROOT, "docs")
CONTRACT = wire_schema.install().contract

# docs/protocol.md's sections whose ```json blocks are payloads, and the
# message of docs/asyncapi.yaml each one is an example of
PROTOCOL_SECTIONS = {
    "Unit status": "unitStatus",
    "Presence": "agentPresence",
    "Receipts": "receipt",
    "Summary": "summary",
    "Events": "event",
    "Gateway presence": "gatewayPresence",
}
# the channel each message lives on, as a topic its examples could come on
TOPIC_OF = {
    "unitStatus": "vigie/v1/unit/{program}/{region}/{site}/{unit}",
    "unitDeletion": "vigie/v1/unit/renir/06/mtl-042/radio-3",
    "agentPresence": "vigie/v1/agent/{site}",
    "receipt": "vigie/v1/receipt/{site}",
    "summary": "vigie/v1/summary/{program}/{region}",
    "event": "vigie/v1/event/{program}/{region}",
    "gatewayPresence": "vigie/v1/gateway/{id}",
    "syncMarker": "vigie/v1/gateway/central/sync",
    "bridgeNotification": "vigie/v1/bridge/03",
}


def wire_bytes(value):
    """An example's payload as it would travel."""
    return value.encode() if isinstance(value, str) else \
        json.dumps(value, ensure_ascii=False).encode()


def protocol_examples():
    """(section, payload) of every ```json block of docs/protocol.md."""
    with open(os.path.join(DOCS, "protocol.md"), encoding="utf-8") as f:
        text = f.read()
    out, section = [], None
    for m in re.finditer(r"^## ([^\n]+)$|^```json\n(.*?)^```$", text,
                         re.M | re.S):
        if m.group(1):
            section = m.group(1).strip()
        else:
            out.append((section, json.loads(m.group(2))))
    return out


def asyncapi_examples():
    """(message name, payload) of every example of docs/asyncapi.yaml."""
    msgs = CONTRACT.doc["components"]["messages"]
    return [(name, ex["payload"]) for name, m in msgs.items()
            for ex in m.get("examples", [])]


def test_every_schema_is_draft7_and_used():
    with open(os.path.join(DOCS, "asyncapi.yaml"), encoding="utf-8") as f:
        doc_text = f.read()
    files = sorted(glob.glob(os.path.join(DOCS, "schema", "*.json")))
    assert files
    for path in files:
        with open(path, encoding="utf-8") as f:
            schema = json.load(f)
        jsonschema.Draft7Validator.check_schema(schema)
        assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
        assert f"schema/{os.path.basename(path)}" in doc_text, \
            f"{path}: not referred to by docs/asyncapi.yaml"


def test_every_channel_of_protocol_md_is_in_asyncapi():
    """The topic table of docs/protocol.md and the channels agree."""
    with open(os.path.join(DOCS, "protocol.md"), encoding="utf-8") as f:
        table = re.findall(r"^\| `(vigie/v1/[^`]+)` \|", f.read(), re.M)
    assert sorted(table) == sorted(CONTRACT.doc["channels"])


@pytest.mark.parametrize("section,payload", protocol_examples(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_protocol_md_examples_are_valid(section, payload):
    assert section in PROTOCOL_SECTIONS, \
        f"a JSON example under '## {section}' of docs/protocol.md: say " \
        "which message it is in PROTOCOL_SECTIONS"
    name = PROTOCOL_SECTIONS[section]
    topic = TOPIC_OF[name].format(**payload)
    label, reasons = CONTRACT.judge(topic, wire_bytes(payload))
    assert (label, reasons) == (name, [])


def test_protocol_md_has_an_example_of_every_json_message():
    seen = {PROTOCOL_SECTIONS.get(s) for s, _ in protocol_examples()}
    msgs = CONTRACT.doc["components"]["messages"]
    json_msgs = {n for n, m in msgs.items()
                 if m["contentType"] == "application/json"}
    assert json_msgs <= seen


@pytest.mark.parametrize("name,payload", asyncapi_examples(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_asyncapi_examples_are_valid(name, payload):
    topic = TOPIC_OF[name]
    if isinstance(payload, dict):
        topic = topic.format(**payload)
    label, reasons = CONTRACT.judge(topic, wire_bytes(payload))
    assert (label, reasons) == (name, [])


def test_event_example_id_is_fnv1a_of_its_flip():
    """docs/protocol.md says how an event's id is made; its example's id
    must be that of the flip it names."""
    text = "renir/04/target_met/2024-2025/mtl-042/radio-3/1795370400123"
    h = 14695981039346656037
    for b in text.encode():
        h = ((h ^ b) * 1099511628211) % 2**64
    events = [p for s, p in protocol_examples() if s == "Events"]
    assert [e["id"] for e in events] == [f"{h:016x}"]


UNIT = {"v": 1, "program": "renir", "region": "06", "site": "mtl-042",
        "unit": "radio-3", "state": "migrated", "seq": 1795370400123,
        "ts": "2026-11-22T18:00:00Z"}
UNIT_TOPIC = "vigie/v1/unit/renir/06/mtl-042/radio-3"


def summary(**change):
    s = {"v": 1, "program": "renir", "region": "06",
         "region_name": "Montréal",
         "counts": {"pending": 1, "migrating": 0, "migrated": 1,
                    "retired": 0, "unknown": 0},
         "eligible": 2, "migrated": 1, "percent": 50.0, "baseline": 51.0,
         "target": None, "targets": [], "plan_ended": False, "stale": 0,
         "ts": "2026-11-23T20:00:00Z"}
    s.update(change)
    return s


def unit(**change):
    u = dict(UNIT)
    u.update(change)
    return {k: v for k, v in u.items() if v is not None}


WRONG = [
    # (what, topic, payload, a reason must contain this)
    ("no seq", UNIT_TOPIC, unit(seq=None), "'seq' is a required property"),
    ("bad state", UNIT_TOPIC, unit(state="done"), "state: 'done' is not"),
    ("seq over 2^53-1", UNIT_TOPIC, unit(seq=2**53), "seq: "),
    ("local time", UNIT_TOPIC, unit(ts="2026-11-22T18:00:00+01:00"),
     "ts: "),
    ("removed with a source", UNIT_TOPIC,
     unit(state="removed", source="modbus"), "source: False schema"),
    ("topic and payload differ", UNIT_TOPIC.replace("radio-3", "radio-4"),
     unit(), "unit: 'radio-3' but the topic says 'radio-4'"),
    ("bad topic segment", "vigie/v1/unit/renir/18/mtl-042/radio-3",
     unit(region="18"), "topic {region}: '18' is not one of"),
    ("undocumented member", UNIT_TOPIC, unit(colour="blue"),
     "undocumented: Additional properties are not allowed ('colour'"),
    ("duplicate key", UNIT_TOPIC,
     b'{"v":1,"v":1,"program":"renir"}', "duplicate key 'v'"),
    ("not JSON", UNIT_TOPIC, b"migrated", "unitStatus: not JSON"),
    ("oversize", UNIT_TOPIC, unit(note="x" * 4100), "over 4096"),
    ("too deep", "vigie/v1/receipt/mtl-042",
     {"v": 1, "site": "mtl-042", "seq": 1, "ts": "2026-11-22T18:00:00Z",
      "x": [[[[1]]]]}, "nested 5 deep"),
    ("will with health", "vigie/v1/agent/mtl-042",
     {"v": 1, "site": "mtl-042", "region": "06", "online": False,
      "outbox": 3}, "outbox: False schema"),
    ("region's wrong name", "vigie/v1/summary/renir/06",
     summary(region_name="Laval"), "region_name: 'Montréal' was expected"),
    ("summary without stale", "vigie/v1/summary/renir/06",
     {k: v for k, v in summary().items() if k != "stale"},
     "'stale' is a required property"),
    ("percent over 100", "vigie/v1/summary/renir/06", summary(percent=100.5),
     "percent: "),
    ("event id in capitals", "vigie/v1/event/renir/04",
     {"v": 1, "id": "91FDD5205230CC14", "program": "renir", "region": "04",
      "event": "target_met", "fiscal_year": "2024-2025",
      "due": "2025-03-31", "target": 75.0, "percent": 75.0, "migrated": 75,
      "eligible": 100, "units_needed": 0, "ts": "2026-11-23T20:00:00Z"},
     "id: '91FDD5205230CC14' does not match"),
    ("gateway presence without version", "vigie/v1/gateway/central",
     {"v": 1, "id": "central", "online": True,
      "ts": "2026-11-22T18:00:00Z"}, "'version' is a required property"),
    ("sync marker as JSON", "vigie/v1/gateway/central/sync", b'"sync:1"',
     "does not match"),
    ("sync marker without its round", "vigie/v1/gateway/central/sync",
     b"sync", "does not match"),
    ("bridge notification 2", "vigie/v1/bridge/03", b"2", "is not one of"),
    ("version 2", "vigie/v1/receipt/mtl-042",
     {"v": 2, "site": "mtl-042", "seq": 1, "ts": "2026-11-22T18:00:00Z"},
     "v: 1 was expected"),
    ("unknown topic", "vigie/v1/command/mtl-042", b"{}",
     "no channel of docs/asyncapi.yaml has this topic"),
    ("prefixed topic, wrong payload", "qc/prod/vigie/v1/receipt/mtl-042",
     {"v": 1, "site": "mtl-042"}, "'seq' is a required property"),
]


@pytest.mark.parametrize("what,topic,payload,reason", WRONG,
                         ids=[w[0] for w in WRONG])
def test_wrong_payloads_are_caught(what, topic, payload, reason):
    if not isinstance(payload, bytes):
        payload = wire_bytes(payload)
    reasons = CONTRACT.check(topic, payload)
    assert reasons and any(reason in r for r in reasons), reasons


def test_right_payloads_pass():
    """The other side of the table: what the contract allows passes,
    however it looks."""
    ok = [
        (UNIT_TOPIC, b""),                      # empty retained payload
        ("qc/prod/" + UNIT_TOPIC, wire_bytes(unit())),
        (UNIT_TOPIC, wire_bytes(unit(state="removed"))),
        (UNIT_TOPIC, wire_bytes(unit(ts="2026-11-22T18:00:00.123Z",
                                     source="manual", tech="T-0042",
                                     note="posé"))),
        ("vigie/v1/summary/rgt/all",
         wire_bytes(summary(program="rgt", region="all",
                            region_name="Ensemble du Québec",
                            percent=None))),
        ("vigie/v1/bridge/17", b"0"),
    ]
    for topic, payload in ok:
        assert CONTRACT.check(topic, payload) == [], (topic, payload)
    assert CONTRACT.check("vigie-test/barrier/1", b"x") is None
    # the contract retains no event
    assert "retained, but the contract does not retain it" in \
        CONTRACT.check("vigie/v1/event/renir/04", b"{}", retain=True)


INNER_CONFTEST = """
import importlib.util, sys
INTEGRATION = {integration!r}
sys.path.insert(0, INTEGRATION)
spec = importlib.util.spec_from_file_location(
    "vigie_integration_conftest", INTEGRATION + "/conftest.py")
it = importlib.util.module_from_spec(spec)
spec.loader.exec_module(it)
broker, retained, publish_all = it.broker, it.retained, it.publish_all
pytest_runtest_makereport = it.pytest_runtest_makereport
pytest_terminal_summary = it.pytest_terminal_summary
"""

INNER_TESTS = """
import json, subprocess
from conftest import publish_all, retained

def test_receives_a_bad_summary(broker):
    # published by another program: the system's output, for the check
    bad = json.dumps({"v": 1, "program": "renir", "region": "06"})
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p",
                    str(broker.port), "-q", "1", "-r", "-t",
                    "vigie/v1/summary/renir/06", "-m", bad], check=True)
    assert "vigie/v1/summary/renir/06" in retained(broker.port,
                                                   "vigie/v1/summary/#")

def test_receives_its_own_attack(broker):
    # published by the test itself: an attack, not the system's output
    publish_all(broker.port, [("vigie/v1/unit/renir/06/s/u", b"{oops",
                               True)])
    assert retained(broker.port, "vigie/v1/unit/#")
"""


def test_a_payload_outside_the_contract_fails_the_test_that_got_it(
        tmp_path):
    """Two tests in a pytest of their own, with this suite's conftest: one
    receives a summary outside the contract from another program and
    fails, naming the topic and the reason; the other receives the
    malformed unit status it published itself and passes."""
    here = os.path.dirname(os.path.abspath(__file__))
    (tmp_path / "conftest.py").write_text(
        INNER_CONFTEST.format(integration=here))
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS))
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(tmp_path / "test_inner.py")],
        capture_output=True, text=True, timeout=120, cwd=str(tmp_path),
        env=dict(os.environ, VIGIE_BUILD=BUILD))
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert re.search(r"^1 failed, 1 passed", out, re.M), out
    assert "FAILED test_inner.py::test_receives_a_bad_summary" in out, out
    assert "vigie/v1/summary/renir/06: summary: 'region_name' is a " \
        "required property" in out, out
    assert "1 published by the tests themselves not checked; " \
        "1 outside the contract" in out, out


def test_asyncapi_yaml_is_yaml_with_every_message_named():
    """The names wire_schema.py reports are the messages' own."""
    with open(os.path.join(DOCS, "asyncapi.yaml"), encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    for name, m in doc["components"]["messages"].items():
        assert m["name"] == m["messageId"] == name
        assert m["contentType"] in ("application/json", "text/plain")
