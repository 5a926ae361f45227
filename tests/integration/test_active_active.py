"""Active-active: two real gateways on one real mosquitto, the same stream.

What each gateway publishes is captured on its own connection (a small
proxy between it and the broker reads the PUBLISH packets it sends), so
the test compares what each one published, not only what the broker
retained last.  Sites are simulated by publishers: statuses with their own
ts, faults, a site going offline, a "removed" status and an empty payload.
Gateway B starts after the first wave and reads it from the retained
messages only; A saw it live.  Afterwards every retained summary (and
receipt) each gateway published last is the same bytes, and equal to the
ground truth kept here (counts, target, stale, and the ts rule of
docs/protocol.md); a target flip gives both gateways the same event, id
included.  Then A is killed: B keeps the summaries right, at once.
"""
import datetime as dt
import json
import random
import signal
import socket
import threading
import time

from conftest import client, publish_all, retained, wait_for
from vigie import STATES, Gateway, Truth, comparable, unit_topic

SITES = {"s03a": "03", "s03b": "03", "s06a": "06", "s13a": "13"}
PROGRAMS = ("renir", "rgt")
ZERO_TS = "1970-01-01T00:00:00Z"


class Capture:
    """A TCP proxy to the broker that records every PUBLISH its client
    sends (MQTT 3.1.1 framing), in order: (topic, payload, retain)."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.port = self.srv.getsockname()[1]
        self.pubs = []
        self.lock = threading.Lock()
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.upstream))
            self.socks += [conn, up]
            threading.Thread(target=self._pump, args=(conn, up, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(up, conn, False),
                             daemon=True).start()

    def _pump(self, src, dst, parse):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if parse:
                    buf = self._packets(buf + data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _packets(self, buf):
        while len(buf) >= 2:
            n, mult, i = 0, 1, 1
            while True:
                if i >= len(buf):
                    return buf
                n += (buf[i] & 0x7F) * mult
                mult *= 128
                i += 1
                if not buf[i - 1] & 0x80:
                    break
            if len(buf) < i + n:
                return buf
            head, body, buf = buf[0], buf[i:i + n], buf[i + n:]
            if head >> 4 == 3:  # PUBLISH
                tl = int.from_bytes(body[:2], "big")
                off = 2 + tl + (2 if (head >> 1) & 3 else 0)
                with self.lock:
                    self.pubs.append((body[2:2 + tl].decode(), body[off:],
                                      bool(head & 1)))
        return buf

    def last(self, root):
        """The last payload this client published on each topic under
        root."""
        with self.lock:
            return {t: p for t, p, _ in self.pubs if t.startswith(root)}

    def published(self, root):
        with self.lock:
            return [(t, p) for t, p, _ in self.pubs if t.startswith(root)]

    def stop(self):
        self.srv.close()
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass


def start_gateway(tmp_path, name, port):
    d = tmp_path / name
    d.mkdir()
    # no --today: the fiscal year is the data's, as in production
    gw = Gateway(d, port, extra=("--id", f"gw-{name}"))
    i = gw.args.index("--today")
    del gw.args[i:i + 2]
    return gw.start()


def rfc3339(ts):
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def fy_of(ts):
    d = dt.datetime.fromtimestamp(ts).date()  # local, as the gateway
    return d.year if d.month >= 4 else d.year - 1


class Stream:
    """The simulated sites: what they publish, and the truth it makes
    (Truth for counts and stale, plus each unit record's ts)."""

    def __init__(self, port):
        self.port = port
        self.truth = Truth()
        self.ts = {}      # (program, region, site, unit) -> ts of record
        self.seq = int(time.time() * 1000) - 10_000_000
        self.clock = int(time.time()) - 7200
        self.sessions = {}

    def _next(self):
        self.seq += 1
        self.clock += 7  # each status its own ts, in the past
        return self.seq, self.clock

    def status(self, program, site, unit, state, fault=False):
        region = SITES[site]
        seq, ts = self._next()
        d = {"v": 1, "program": program, "region": region, "site": site,
             "unit": unit, "state": state, "seq": seq, "ts": rfc3339(ts)}
        if fault:
            d["fault"] = "timeout"
        key = (program, region, site, unit)
        self.ts[key] = ts
        if state == "removed":
            self.truth.remove(*key)
        else:
            self.truth.set(*key, state, fault=fault)
        return (unit_topic(*key), json.dumps(d), True)

    def empty(self, program, site, unit):
        key = (program, SITES[site], site, unit)
        self.ts.pop(key, None)
        self.truth.remove(*key)
        return (unit_topic(*key), b"", True)

    def presence(self, site, online):
        if online:
            self.sessions[site] = self._next()[0]
            self.truth.offline_sites.discard(site)
        else:
            self.truth.offline_sites.add(site)
        d = {"v": 1, "site": site, "region": SITES[site], "online": online,
             "session": self.sessions[site], "ts": rfc3339(self.clock)}
        return (f"vigie/v1/agent/{site}", json.dumps(d), True)

    def send(self, msgs):
        publish_all(self.port, msgs)

    def expected_ts(self, program, region):
        tss = [t for k, t in self.ts.items() if k[0] == program and
               (region == "all" or k[1] == region)]
        return rfc3339(max(tss)) if tss else ZERO_TS

    def problems(self, sums):
        """How the summaries {topic: payload} differ from the truth."""
        fy = fy_of(max(self.ts.values()))
        out = []
        for prog in PROGRAMS:
            for reg in sorted(set(SITES.values())) + ["all"]:
                topic = f"vigie/v1/summary/{prog}/{reg}"
                if topic not in sums:
                    out.append(f"{topic}: none")
                    continue
                have = json.loads(sums[topic])
                if have["ts"] != self.expected_ts(prog, reg):
                    out.append(f"{topic} ts {have['ts']} != "
                               f"{self.expected_ts(prog, reg)}")
                have = comparable(have)
                for k, v in self.truth.summary(prog, reg, fy).items():
                    if have.get(k) != v:
                        out.append(f"{topic} {k}: {have.get(k)!r} != {v!r}")
        return out


def units_of(site):
    return [f"{site}-u{i}" for i in range(8)]


def first_wave(s):
    msgs = [s.presence(site, True) for site in SITES]
    rnd = random.Random(14)
    for site in SITES:
        for prog in PROGRAMS:
            if (prog, site) == ("renir", "s13a"):
                continue  # below
            for u in units_of(site):
                msgs.append(s.status(prog, site, u, rnd.choice(STATES)))
    # region 13, renir: 6 of 8 migrated, 75 %: the last target, met.  The
    # migrated ones first, so that every prefix of the wave meets it too:
    # a loaded machine may split the wave across coalescing windows, and
    # a figure below the target in one of them would be a real flip (an
    # event of A's that B, reading the retained only, never has).
    for i, u in enumerate(units_of("s13a")):
        msgs.append(s.status("renir", "s13a", u,
                             "migrated" if i < 6 else "pending"))
    # a unit removed before B starts: B never sees the unit itself
    msgs.append(s.status("rgt", "s03a", "s03a-u7", "removed"))
    msgs.append(s.empty("rgt", "s03b", "s03b-u7"))
    return msgs


def second_wave(s, rnd):
    """Bursts of changes in regions 03 and 06 (13 is kept for the
    deliberate flips); small pauses so that coalescing windows fall
    differently in the two gateways."""
    for burst in range(6):
        msgs = []
        for _ in range(15):
            site = rnd.choice(["s03a", "s03b", "s06a"])
            msgs.append(s.status(rnd.choice(PROGRAMS), site,
                                 rnd.choice(units_of(site)[:7]),
                                 rnd.choice(STATES),
                                 fault=rnd.random() < 0.15))
        if burst == 2:
            msgs.append(s.presence("s03b", False))  # stale, not gone
            msgs.append(s.status("renir", "s06a", "s06a-u6", "removed"))
            msgs.append(s.empty("renir", "s03a", "s03a-u6"))
        if burst == 4:
            # a removed unit comes back with a newer seq
            msgs.append(s.status("rgt", "s03a", "s03a-u7", "migrating"))
        s.send(msgs)
        time.sleep(0.13)


def settled(s, a, b, root="vigie/v1/summary/"):
    """Both gateways' last summaries equal the truth: None, else the
    differences."""
    la, lb = a.last(root), b.last(root)
    diffs = s.problems(la) + s.problems(lb)
    return None if not diffs else diffs


def test_two_gateways_publish_the_same_bytes(tmp_path, broker, procs):
    ca, cb = Capture(broker.port), Capture(broker.port)
    procs += [ca, cb]
    s = Stream(broker.port)
    t0 = time.monotonic()
    gwa = start_gateway(tmp_path, "a", ca.port)
    procs.append(gwa)
    s.send(first_wave(s))
    wait_for(lambda: not s.problems(ca.last("vigie/v1/summary/")),
             timeout=30, what="A's summaries of the first wave")
    gwb = start_gateway(tmp_path, "b", cb.port)   # reads the retained only
    procs.append(gwb)
    second_wave(s, random.Random(1040))
    last = []

    def both_right():
        last[:] = settled(s, ca, cb) or []
        return not last
    try:
        wait_for(both_right, timeout=30, interval=0.3, what="both settled")
    except TimeoutError:
        raise AssertionError("\n".join(last[:20]))
    time.sleep(0.5)  # nothing else may follow
    sa, sb = ca.last("vigie/v1/summary/"), cb.last("vigie/v1/summary/")
    assert len(sa) == 2 * 18
    assert sa == sb, [t for t in sa if sa[t] != sb.get(t)]
    assert retained(broker.port, "vigie/v1/summary/#") == sa
    # receipts: the highest seq of each site, dated by its status
    ra, rb = ca.last("vigie/v1/receipt/"), cb.last("vigie/v1/receipt/")
    assert set(ra) == {f"vigie/v1/receipt/{x}" for x in SITES}
    assert ra == rb
    # no projection or pace on MQTT: neither gateway's own history
    assert not any(b"projection" in p or b"pace" in p for p in sa.values())

    # a deliberate flip in region 13 (75 % -> 62.5 % -> 75 %): each gateway
    # publishes each event once, the same bytes, the same id
    ev = "vigie/v1/event/renir/13"
    assert ca.published(ev) == [] == cb.published(ev)
    s.send([s.status("renir", "s13a", "s13a-u0", "pending")])
    wait_for(lambda: len(ca.published(ev)) == 1 == len(cb.published(ev)),
             what="target_lost from both")
    s.send([s.status("renir", "s13a", "s13a-u0", "migrated")])
    wait_for(lambda: len(ca.published(ev)) == 2 == len(cb.published(ev)),
             what="target_met from both")
    ea, eb = ca.published(ev), cb.published(ev)
    assert ea == eb
    ids = [json.loads(p)["id"] for _, p in ea]
    assert [json.loads(p)["event"] for _, p in ea] == ["target_lost",
                                                       "target_met"]
    assert len(set(ids)) == 2 and all(len(i) == 16 for i in ids)
    wait_for(lambda: settled(s, ca, cb) is None, what="settled again")
    assert ca.last("vigie/v1/summary/") == cb.last("vigie/v1/summary/")

    # A dies: B was publishing all along, so nothing waits for a takeover
    gwa.kill9()
    procs.remove(gwa)
    n_before = len(cb.published("vigie/v1/summary/"))
    pub = client(broker.port)   # connected now: the clock starts at PUBACK
    try:
        infos = [pub.publish(t, p, qos=1, retain=r) for t, p, r in (
            s.status("renir", "s06a", "s06a-u0", "migrated"),
            s.status("rgt", "s03a", "s03a-u1", "retired"),
            s.presence("s03b", True))]
        for i in infos:
            i.wait_for_publish(timeout=10)
        sent = time.monotonic()
        wait_for(lambda: not s.problems(cb.last("vigie/v1/summary/")),
                 timeout=10, interval=0.01,
                 what="B's summaries after A died")
        took = time.monotonic() - sent
    finally:
        pub.loop_stop()
        pub.disconnect()
    assert len(cb.published("vigie/v1/summary/")) > n_before
    wait_for(lambda: not s.problems(retained(broker.port,
                                             "vigie/v1/summary/#")),
             timeout=10, what="the retained summaries after A died")
    # within a couple of coalescing windows (100 ms): no failover delay
    # (the bound leaves room for a loaded machine)
    assert took < 1.5, took
    print(f"active-active: {time.monotonic() - t0:.1f} s in all; B right "
          f"{took * 1000:.0f} ms after A's death")
