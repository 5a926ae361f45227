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
