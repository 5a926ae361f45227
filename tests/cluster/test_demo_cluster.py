"""`make demo DEMO_ARGS=--cluster` (issue #14, item 5), as a user runs it:
the demo on three real nats-server nodes with two active-active gateways,
checked against its simulators' ground truth at the end of --duration; both
gateways answer at the addresses the README has a user curl; nothing is
left running.  (That the two gateways publish the same bytes through node
and gateway deaths is test_cluster_faults.py's proof.)"""
import os
import signal
import subprocess
import sys
import threading
import urllib.request

from nats_kit import wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
from test_e2e import leftovers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEMO = os.path.join(ROOT, "tools", "vigie-demo")
BUILD = os.environ.get("VIGIE_BUILD", os.path.join(ROOT, "build", "host"))


def healthy(addr):
    try:
        with urllib.request.urlopen(f"http://{addr}/healthz",
                                    timeout=10) as r:
            return r.status == 200
    except OSError:  # 503 (HTTPError) while unsynced, or not up yet
        return False


def test_demo_on_the_cluster_checks_out_and_both_gateways_answer(tmp_path):
    d = str(tmp_path / "demo")
    p = subprocess.Popen(
        [sys.executable, DEMO, "--cluster", "--small", "--plain", "--lang",
         "en", "--build", BUILD, "--dir", d, "--duration", "40",
         "--tick-ms", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    # drained all along: the table goes on printing while we poll
    reader = threading.Thread(target=lambda: seen.extend(p.stdout),
                              daemon=True)
    reader.start()
    try:
        wait_for(lambda: "ready\n" in seen or p.poll() is not None,
                 timeout=240, what="the demo's ready line")
        assert "ready\n" in seen, "".join(seen)
        # the banner's addresses, as the README has a user curl them
        addrs = {g: open(os.path.join(d, g, "http")).read().strip()
                 for g in ("gateway", "gateway-b")}
        # each says it is synced (200) once its replay is over
        for g, addr in addrs.items():
            wait_for(lambda: healthy(addr), timeout=120,
                     what=f"{g}'s /healthz at 200")
        p.wait(timeout=240)
        reader.join(timeout=30)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    out = "".join(seen)
    assert p.returncode == 0, out[-4000:]
    assert "equal the simulators' ground truth" in out, out[-4000:]
    assert leftovers(d) == [], out[-2000:]
