"""Dashboard fan-out: 200 viewers on one gateway at its default bounds.

Each viewer is its own client address (127.0.0.1 .. 127.0.0.200, as 200
people's browsers would be), so the per-address limit stays at its
default.  Every one opens /api/v1/events, gets the current summaries,
and after one unit changes on the broker gets an event that carries the
change, while /healthz keeps answering.  Bounds that leave no room for
this many honest viewers (the former 192 streams of 256 connections), a
server that stops serving past some number of streams (63 once), or a
stream that misses an update fail it.  No time is asserted: every wait
is bounded by a generous deadline.
"""
import json
import selectors
import socket
import time

from conftest import publish_all, wait_for
from test_http import start_http_gateway
from vigie import unit_payload, unit_topic

VIEWERS = 200
DEADLINE = 60.0
MARK = b'"program":"renir","region":"06"'


class Viewer:
    """One event stream: its HTTP head, then chunked Server-Sent Events;
    `migrated` is region 06's RENIR count in the last complete event."""

    def __init__(self, port, src):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((src, 0))
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        self.sock.setblocking(False)
        self.raw = b""       # bytes not yet de-chunked
        self.body = b""      # event stream text not yet parsed
        self.status = None
        self.closed = False
        self.migrated = None
        self.events = 0

    def feed(self):
        try:
            data = self.sock.recv(1 << 16)
        except BlockingIOError:
            return
        if not data:
            self.closed = True
            return
        self.raw += data
        if self.status is None:
            head, sep, rest = self.raw.partition(b"\r\n\r\n")
            if not sep:
                return
            self.status = int(head.split(b" ", 2)[1])
            assert self.status == 200, f"stream refused: {head[:40]!r}"
            assert b"transfer-encoding: chunked" in head.lower(), head
            self.raw = rest
        self._dechunk()
        self._events()

    def _dechunk(self):
        while True:
            line, sep, rest = self.raw.partition(b"\r\n")
            if not sep:
                return
            size = int(line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            self.body += rest[:size]
            self.raw = rest[size + 2:]

    def _events(self):
        while b"\n\n" in self.body:
            ev, _, self.body = self.body.partition(b"\n\n")
            for line in ev.split(b"\n"):
                if not line.startswith(b"data: "):
                    continue
                doc = json.loads(line[6:])
                self.events += 1
                for s in doc["summaries"]:
                    if s["program"] == "renir" and s["region"] == "06":
                        self.migrated = s["migrated"]


def healthz(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1])


def pump(viewers, sel, until, what, port):
    """Read every stream until until() holds, asking /healthz between
    rounds: it must answer 200 all along."""
    deadline = time.monotonic() + DEADLINE
    asked = 0
    while not until():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        for key, _ in sel.select(timeout=0.2):
            key.data.feed()
        assert healthz(port) == 200
        asked += 1
        gone = [v for v in viewers if v.closed]
        assert not gone, f"{len(gone)} streams closed by the server"
    return asked


def test_200_event_streams_each_get_the_update(tmp_path, broker):
    # the gateway at its default HTTP bounds
    gw, http = start_http_gateway(tmp_path, broker)
    port = int(http.base.rsplit(":", 1)[1])
    publish_all(broker.port, [(unit_topic("renir", "06", "fan", "u1"),
                               unit_payload("renir", "06", "fan", "u1",
                                            "pending", 1), True)])
    wait_for(lambda: http.json("/api/v1/summary/renir/06")["eligible"] == 1,
             what="the unit applied")
    sel = selectors.DefaultSelector()
    viewers = []
    try:
        for i in range(VIEWERS):
            v = Viewer(port, f"127.0.0.{i + 1}")
            viewers.append(v)
            sel.register(v.sock, selectors.EVENT_READ, v)
        pump(viewers, sel, lambda: all(v.migrated == 0 for v in viewers),
             "every stream's first event", port)
        assert all(v.status == 200 for v in viewers)
        publish_all(broker.port, [(unit_topic("renir", "06", "fan", "u1"),
                                   unit_payload("renir", "06", "fan", "u1",
                                                "migrated", 2), True)])
        asked = pump(viewers, sel,
                     lambda: all(v.migrated == 1 for v in viewers),
                     "every stream's event with the change", port)
        assert asked >= 1
        assert healthz(port) == 200
    finally:
        for v in viewers:
            v.sock.close()
        sel.close()
        gw.stop()
