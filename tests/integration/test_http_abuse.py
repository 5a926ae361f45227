"""The gateway's HTTP side under attack, against a real gateway and a real
mosquitto on loopback: out-of-range input never leaks memory, every
response (refusals and oversized requests included) carries the hardening
headers, and an attacker on 127.0.0.2 who holds slow connections and event
streams can neither lock out another client (127.0.0.1) nor keep slots
once gone.  No timing is asserted: every wait polls a condition up to a
generous deadline.
"""
import json
import socket
import time

import pytest

from conftest import wait_for
from test_http import start_http_gateway

ATTACKER = "127.0.0.2"
HARDENING = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def raw(port, request, src=None, timeout=10.0):
    """Send request bytes; return (status, headers, body) of the answer."""
    with connect(port, src, timeout) as s:
        s.sendall(request)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return parse_response(data)


def parse_response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1."), data[:200]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def connect(port, src=None, timeout=10.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def get(port, path, headers=(), src=None, method="GET"):
    req = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    req += "".join(f"{k}: {v}\r\n" for k, v in headers)
    return raw(port, (req + "\r\n").encode("latin-1"), src)


def port_of(http):
    return int(http.base.rsplit(":", 1)[1])


def assert_hardened(status, headers, want):
    assert status == want, (status, headers)
    for name, value in HARDENING.items():
        assert headers.get(name.lower()) == value, (status, name, headers)
    assert "default-src 'self'" in headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


@pytest.fixture
def web(tmp_path, broker):
    gw, http = start_http_gateway(tmp_path, broker)
    yield gw, port_of(http)
    gw.stop()


# ---- 7. memory disclosure ------------------------------------------------------

@pytest.mark.parametrize("param", ["from", "to"])
@pytest.mark.parametrize("value", [
    "-99999999999999", "99999999999999", "-9223372036854775808",
    "9223372036854775807", "99999999999999999999", "-62167219201",
    "253402300800"])
def test_history_out_of_range_time_is_400_naming_it(web, param, value):
    gw, port = web
    status, headers, body = get(
        port, f"/api/v1/history?program=renir&{param}={value}")
    assert status == 400, (param, value, status, body[:200])
    err = json.loads(body)["error"]
    assert err.startswith(param + ":"), err
    assert headers["content-type"] == "application/json"


def test_history_edges_of_range_format_exactly(web):
    gw, port = web
    status, _, body = get(port, "/api/v1/history?program=renir"
                          "&from=-62167219200&to=253402300799")
    assert status == 200, body[:200]
    doc = json.loads(body)
    assert doc["from"] == "0000-01-01T00:00:00Z"
    assert doc["to"] == "9999-12-31T23:59:59Z"


# ---- 8. every response carries the hardening headers ---------------------------

def test_refusals_carry_the_hardening_headers(tmp_path, broker):
    tok = tmp_path / "token"
    tok.write_text("s3cret-token\n")
    tok.chmod(0o600)
    gw, http = start_http_gateway(tmp_path, broker,
                                  extra=("--http-token-file", str(tok)))
    port = port_of(http)
    try:
        assert_hardened(*get(port, "/api/v1/summary", [
            ("Authorization", "Bearer wrong")])[:2], 401)
        assert_hardened(*get(port, "/api/v1/summary", method="POST")[:2],
                        405)
        good = [("Authorization", "Bearer s3cret-token")]
        assert_hardened(*get(port, "/api/v1/summary", good)[:2], 200)
        assert_hardened(*get(port, "/healthz")[:2], 200)
        # too long a URI, too many header bytes: ours, not libmicrohttpd's
        status, headers, body = get(port, "/api/v1/summary?x=" + "a" * 5000,
                                    good)
        assert_hardened(status, headers, 414)
        assert "URI" in json.loads(body)["error"]
        big = good + [(f"X-Filler-{i}", "b" * 2000) for i in range(5)]
        status, headers, body = get(port, "/api/v1/summary", big)
        assert_hardened(status, headers, 431)
        assert "headers" in json.loads(body)["error"]
    finally:
        gw.stop()


# ---- 6. exhaustion ---------------------------------------------------------------

LIMITS = ("--http-max-clients", "32", "--http-max-per-ip", "8",
          "--http-max-streams", "4", "--http-header-timeout", "3")


def start_guarded(tmp_path, broker, *extra):
    gw, http = start_http_gateway(tmp_path, broker, extra=LIMITS + extra)
    wait_for(lambda: get(port_of(http), "/healthz")[0] == 200, timeout=20,
             what="healthy")
    return gw, port_of(http)


@pytest.fixture
def guarded(tmp_path, broker):
    gw, port = start_guarded(tmp_path, broker)
    yield gw, port
    gw.stop()


@pytest.fixture
def guarded_slow_deadline(tmp_path, broker):
    """The per-address bound alone: the header deadline out of the way."""
    gw, port = start_guarded(tmp_path, broker, "--http-header-timeout", "600")
    yield gw, port
    gw.stop()


def others_are_served(port):
    """What a NOC operator on 127.0.0.1 needs, while under attack."""
    assert get(port, "/healthz")[0] == 200
    status, _, body = get(port, "/api/v1/summary")
    assert status == 200 and json.loads(body)["summaries"]
    assert get(port, "/")[0] == 200


def slow_header(port):
    """An attacker's connection that starts a request and never ends it."""
    try:
        s = connect(port, ATTACKER)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        return s
    except OSError:
        return None  # refused: the bound at work


def open_stream(port, src=ATTACKER):
    """(status, socket) of a GET /api/v1/events; the socket stays open."""
    s = connect(port, src)
    s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            s.close()
            return None, None
        data += chunk
    status = int(data.split(b" ", 2)[1])
    if status != 200:
        s.close()
        return status, None
    return status, s


def test_slow_headers_from_one_address_leave_the_server_to_others(
        guarded_slow_deadline):
    gw, port = guarded_slow_deadline
    socks = [slow_header(port) for _ in range(64)]
    try:
        others_are_served(port)
    finally:
        for s in socks:
            if s:
                s.close()


def is_closed(s):
    """True once the server has closed s (EOF or reset)."""
    try:
        s.sendall(b"x")  # one byte at a time: never idle
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def test_headers_never_finished_are_cut_off(guarded):
    gw, port = guarded
    s = connect(port, ATTACKER, timeout=0.5)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        # well past the 3 s header deadline, short of the idle timeout
        wait_for(lambda: is_closed(s), timeout=25, interval=0.5,
                 what="the server closing a connection stuck in headers")
    finally:
        s.close()


def test_event_streams_are_capped_and_free_their_slot_at_once(guarded):
    gw, port = guarded
    streams = []
    try:
        for _ in range(4):
            status, s = open_stream(port)
            assert status == 200
            streams.append(s)
        for _ in range(3):  # past the cap: refused, not queued
            assert open_stream(port)[0] == 503
        others_are_served(port)
        for s in streams[:2]:
            s.close()
        del streams[:2]

        def reopened():
            status, s = open_stream(port)
            if s:
                streams.append(s)
            return len(streams) == 4

        # promptly: well before the 15 s keepalive, the only other moment
        # a server writing to a closed stream could notice it
        wait_for(reopened, timeout=12, interval=0.2,
                 what="two closed streams' slots given to new streams")
        assert open_stream(port)[0] == 503
        others_are_served(port)
    finally:
        for s in streams:
            s.close()


def test_stops_cleanly_with_streams_waiting(tmp_path, broker):
    # libmicrohttpd must not be stopped with suspended connections: the
    # waiting streams are resumed and ended first
    gw, port = start_guarded(tmp_path, broker)
    streams = [open_stream(port, "127.0.0.1")[1] for _ in range(3)]
    try:
        assert all(streams)
        assert gw.stop() == 0
        assert "stopped cleanly" in gw.logtext()
    finally:
        for s in streams:
            if s:
                s.close()
