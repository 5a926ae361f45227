"""The wire contract as the tests check it: every MQTT payload the tests
receive is held against the channel of its topic in docs/asyncapi.yaml and
the JSON Schema of that channel's message (docs/schema/), so that the
documents cannot drift from what the agent and the gateway send.

install() wraps paho's message dispatch: every message any paho client of
the test process receives goes through Recorder.received() before its
on_message callback sees it.  A payload outside the contract is recorded
with its topic and the reason, and conftest.py fails the test that
received it.
Payloads the test process published itself (paho publish or will_set: fake
agents, attacks, malformed messages on purpose) are not the system's
output: they are counted and not checked.

Besides the schemas (the contract as subscribers read it, where unknown
members are allowed for forward compatibility), the tests hold payloads to
the *closed* schemas, where a member the schema does not list is an error:
the code may not send what the documents do not say.  And what JSON Schema
cannot say about a payload, from docs/protocol.md: at most 4096 bytes of
UTF-8, nested at most 4 deep, no duplicate key, the topic's parameters
equal to the payload's members, not retained where the contract says so.

Validators are compiled once per message kind, with every $ref inlined,
and a (topic, payload) already judged is not validated again: retained()
polls see the same retained payloads over and over.
"""
import hashlib
import json
import os
import pathlib
import re
import threading
import time
from collections import Counter, OrderedDict
from urllib.parse import urldefrag, urljoin

try:
    import jsonschema
    import yaml
except ImportError as e:  # pragma: no cover - what make deps installs
    raise ImportError(f"{e}: the wire contract checks need Debian's "
                      "python3-jsonschema and python3-yaml (make deps)")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOC = os.path.join(ROOT, "docs", "asyncapi.yaml")
PAYLOAD_MAX = 4096   # docs/protocol.md, Topics
DEPTH_MAX = 4        # docs/protocol.md, Rejections: malformed
ROOT_SEG = "vigie/v1/"
JSON_TYPES = ("application/json",)
CACHE_MAX = 50000    # judged (channel, payload) pairs kept


def _uri(path):
    return pathlib.Path(os.path.abspath(path)).as_uri()


def _closed(node):
    """A copy of a schema where every additionalProperties: true is false:
    a member the schema does not list is then an error."""
    if isinstance(node, dict):
        out = {k: _closed(v) for k, v in node.items()}
        if out.get("additionalProperties") is True:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


def _pairs(pairs):
    """A JSON object, refusing a key twice (malformed, protocol.md)."""
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError(f"duplicate key {k!r}")
        seen[k] = v
    return seen


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _depth(v):
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    return 0


def decode(content_type, payload):
    """The payload as its message's content type reads it, or raise
    ValueError with the reason."""
    if len(payload) > PAYLOAD_MAX:
        raise ValueError(f"{len(payload)} bytes, over {PAYLOAD_MAX}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 ({e.reason} at byte {e.start})")
    if content_type not in JSON_TYPES:
        return text
    try:
        value = json.loads(text, object_pairs_hook=_pairs,
                           parse_constant=_reject_constant)
    except ValueError as e:
        raise ValueError(f"not JSON: {e}")
    if _depth(value) > DEPTH_MAX:
        raise ValueError(f"nested {_depth(value)} deep, over {DEPTH_MAX}")
    return value


def in_tree(topic):
    """The topic is under vigie/v1, after any prefix."""
    return topic.startswith(ROOT_SEG) or "/" + ROOT_SEG in topic


def _where(err):
    path = "/".join(str(p) for p in err.absolute_path)
    return f"{path}: {err.message}" if path else err.message


class Message:
    """One message of a channel: its content type and its validators."""

    def __init__(self, name, content_type, schema, open_v, closed_v):
        self.name = name
        self.content_type = content_type
        self.schema = schema
        self.open = open_v
        self.closed = closed_v

    def problems(self, payload):
        """Why payload is not this message (an empty list: it is), and
        the payload as decoded (None: not even that)."""
        try:
            value = decode(self.content_type, payload)
        except ValueError as e:
            return [str(e)], None
        # the closed schema passes only what the open one passes: one
        # pass for the payloads that are right, which are nearly all
        if self.closed.is_valid(value):
            return [], value
        errs = sorted(self.open.iter_errors(value), key=lambda e: e.path)
        if errs:
            return [_where(e) for e in errs[:3]], value
        errs = sorted(self.closed.iter_errors(value), key=lambda e: e.path)
        return [f"undocumented: {_where(e)}" for e in errs[:3]], value


class Channel:
    def __init__(self, name, params, messages, retain):
        self.name = name
        self.params = params        # {name: validator}
        self.messages = messages    # [Message]
        self.retain = retain        # the contract retains it
        self.names = list(params)
        rx = re.escape(name)
        for p in params:
            rx = rx.replace(re.escape("{" + p + "}"), f"(?P<{p}>[^/]+)")
        self.rx = re.compile("^(?:.+/)?" + rx + "$")


class Contract:
    """docs/asyncapi.yaml's channels, compiled once."""

    def __init__(self, doc=DOC):
        self.doc_path = doc
        with open(doc, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        self.doc_uri = _uri(doc)
        schema_dir = os.path.join(os.path.dirname(doc), "schema")
        self.files = {}
        for name in sorted(os.listdir(schema_dir)):
            if name.endswith(".json"):
                with open(os.path.join(schema_dir, name),
                          encoding="utf-8") as f:
                    self.files[_uri(os.path.join(schema_dir, name))] = \
                        json.load(f)
        self.closed_files = {u: _closed(s) for u, s in self.files.items()}
        self.channels = [self._channel(n, c)
                         for n, c in self.doc["channels"].items()]

    def _deref(self, ref):
        """A "#/..." $ref of the document."""
        node = self.doc
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def resolve(self, node):
        """node, or what its in-document $ref points at."""
        while isinstance(node, dict) and \
                node.get("$ref", "").startswith("#/"):
            node = self._deref(node["$ref"])
        return node

    def inline(self, node, base, store):
        """node with every $ref replaced by what it points at (relative
        to base, the file node is in): the schemas have no recursion, and
        a validator without references is several times faster."""
        if isinstance(node, list):
            return [self.inline(v, base, store) for v in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:  # draft-07: a $ref's siblings are ignored
            url, frag = urldefrag(urljoin(base, node["$ref"]))
            if url not in store:
                raise KeyError(f"{base}: $ref to {url}, not a file of "
                               "docs/schema/")
            target = store[url]
            for part in filter(None, frag.split("/")):
                target = target[part]
            return self.inline(target, url, store)
        return {k: (v if k in ("enum", "const", "examples") else
                    self.inline(v, base, store)) for k, v in node.items()}

    def validator(self, schema, closed=False):
        """A draft-07 validator for a schema the document names by a $ref
        to docs/schema/ (relative to docs/asyncapi.yaml), every $ref
        inlined."""
        store = self.closed_files if closed else self.files
        root = self.inline(schema, self.doc_uri, store)
        return jsonschema.Draft7Validator(
            root, format_checker=jsonschema.draft7_format_checker)

    def _channel(self, name, ch):
        params = {}
        for p, spec in (ch.get("parameters") or {}).items():
            params[p] = self.validator(self.resolve(spec)["schema"])
        op = self.resolve(ch["subscribe"])
        msg = self.resolve(op["message"])
        msgs = [self.resolve(m) for m in msg["oneOf"]] if "oneOf" in msg \
            else [msg]
        messages = []
        for m in msgs:
            ct = m.get("contentType", self.doc.get("defaultContentType"))
            messages.append(Message(m["name"], ct, m["payload"],
                                    self.validator(m["payload"]),
                                    self.validator(m["payload"], True)))
        retain = op.get("bindings", {}).get("mqtt", {}).get("retain", False)
        return Channel(name, params, messages, retain)

    def channel_of(self, topic):
        """(channel, {parameter: value}) for a topic, or (None, None)."""
        for ch in self.channels:
            m = ch.rx.match(topic)
            if m:
                return ch, m.groupdict()
        return None, None

    def check(self, topic, payload, retain=False):
        """What is wrong with a payload received on topic: a list of
        reasons (empty: it is within the contract), or None for a topic
        outside Vigie's tree (vigie/v1, after any prefix)."""
        judged = self.judge(topic, payload, retain)
        return None if judged is None else judged[1]

    def judge(self, topic, payload, retain=False):
        """(the name of the message it is, or "outside"; the reasons it is
        not within the contract), or None for a topic outside vigie/v1."""
        if not in_tree(topic):
            return None
        ch, params = self.channel_of(topic)
        if ch is None:
            return "outside", ["no channel of docs/asyncapi.yaml has "
                               "this topic"]
        out = []
        for p, v in params.items():
            out += [f"topic {{{p}}}: {_where(e)}"
                    for e in ch.params[p].iter_errors(v)]
        if retain and not ch.retain:
            out.append("retained, but the contract does not retain it")
        tried = []
        for m in ch.messages:
            probs, value = m.problems(payload)
            if not probs:
                if isinstance(value, dict):
                    out += [f"{k}: {value[k]!r} but the topic says {v!r}"
                            for k, v in params.items()
                            if k in value and value[k] != v]
                return m.name, out
            tried.append((m, value, probs))
        # a payload that is JSON is told what its JSON message lacks, not
        # that it is not the channel's other (text) message
        json_ones = [t for t in tried if t[1] is not None and
                     t[0].content_type in JSON_TYPES]
        for m, _, probs in json_ones or tried:
            out += [f"{m.name}: {p}" for p in probs]
        return "outside", out


class Recorder:
    """What the tests received: counts, and the violations not yet
    reported (conftest.py takes them after each test)."""

    def __init__(self, contract):
        self.contract = contract
        self.lock = threading.Lock()
        self.own = set()          # digests of what the tests published
        self.judged = OrderedDict()  # digest -> reasons (cached)
        self.checked = Counter()  # message name -> payloads checked
        self.distinct = 0
        self.skipped_own = 0
        self.violations = []
        self.total_violations = 0
        self.seconds = 0.0        # spent judging, in paho's threads

    @staticmethod
    def digest(topic, payload):
        return hashlib.blake2b(topic.encode("utf-8", "replace") + b"\0" +
                               payload, digest_size=16).digest()

    def published(self, topic, payload):
        with self.lock:
            self.own.add(self.digest(topic, payload))

    def received(self, topic, payload, retain=False):
        """Judge one message; returns its reasons (for the tests)."""
        if not in_tree(topic):
            return []  # not Vigie's: the tests' own barriers
        d = self.digest(topic, payload)
        with self.lock:
            if d in self.own:
                self.skipped_own += 1
                return []
            cached = self.judged.get(d)
        if cached is None:
            t0 = time.perf_counter()
            cached = self.contract.judge(topic, payload)
            spent = time.perf_counter() - t0
            if cached is None:
                return []
            with self.lock:
                self.seconds += spent
                self.distinct += 1
                self.judged[d] = cached
                if len(self.judged) > CACHE_MAX:
                    self.judged.popitem(last=False)
        name, reasons = cached
        if retain:
            ch, _ = self.contract.channel_of(topic)
            if ch and not ch.retain:
                reasons = reasons + [
                    "retained, but the contract does not retain it"]
        with self.lock:
            self.checked[name] += 1
            if reasons:
                shown = payload[:160].decode("utf-8", "replace")
                self.violations.append(
                    f"{topic}: {'; '.join(reasons)} (payload {shown!r})")
                self.total_violations += 1
        return reasons

    def take(self):
        """The violations since the last take, and forget them."""
        with self.lock:
            v, self.violations = self.violations, []
        return v

    def summary(self):
        with self.lock:
            n = sum(self.checked.values())
            per = "".join(f", {k} {v}" for k, v in
                          sorted(self.checked.items()))
            return (f"wire contract: {n} payloads received checked against "
                    f"docs/asyncapi.yaml ({self.distinct} distinct{per}); "
                    f"{self.skipped_own} published by the tests themselves "
                    f"not checked; {self.total_violations} outside the "
                    f"contract; {self.seconds:.1f} s spent checking")


_recorder = None


def _payload_bytes(payload):
    """paho's own conversion of a publish payload."""
    if payload is None:
        return b""
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (int, float)):
        return str(payload).encode("ascii")
    return bytes(payload)


def install():
    """Wrap paho's dispatch (once per process) and return the recorder."""
    global _recorder
    if _recorder is not None:
        return _recorder
    import paho.mqtt.client as mqtt
    _recorder = rec = Recorder(Contract())
    dispatch = mqtt.Client._handle_on_message
    publish = mqtt.Client.publish
    will_set = mqtt.Client.will_set

    def handle(self, message):
        try:
            rec.received(message.topic, message.payload,
                         bool(message.retain))
        except Exception as e:  # a checker bug must not kill paho's thread
            with rec.lock:
                rec.violations.append(f"{message.topic!r}: checker failed: "
                                      f"{e!r}")
        return dispatch(self, message)

    def pub(self, topic, payload=None, *a, **kw):
        rec.published(topic, _payload_bytes(payload))
        return publish(self, topic, payload, *a, **kw)

    def will(self, topic, payload=None, *a, **kw):
        rec.published(topic, _payload_bytes(payload))
        return will_set(self, topic, payload, *a, **kw)

    mqtt.Client._handle_on_message = handle
    mqtt.Client.publish = pub
    mqtt.Client.will_set = will
    return rec


def recorder():
    return _recorder
