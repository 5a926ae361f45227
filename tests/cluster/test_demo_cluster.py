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
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEMO = os.path.join(ROOT, "tools", "vigie-demo")
BUILD = os.environ.get("VIGIE_BUILD", os.path.join(ROOT, "build", "host"))


def leftovers(path):
    """Processes whose command line names path (the demo's folder)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if path.encode() in f.read():
                    found.append(pid)
        except OSError:
            pass
    return found


def read_until(p, want, seen):
    """Lines of p's output until one equals want (False at its end)."""
    for line in p.stdout:
        seen.append(line)
        if line.strip() == want:
            return True
    return False


def test_demo_on_the_cluster_checks_out_and_both_gateways_answer(tmp_path):
    d = str(tmp_path / "demo")
    p = subprocess.Popen(
        [sys.executable, DEMO, "--cluster", "--small", "--plain", "--lang",
         "en", "--build", BUILD, "--dir", d, "--duration", "25",
         "--tick-ms", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        assert read_until(p, "ready", seen), "".join(seen)
        # the banner's addresses, as the README has a user curl them
        addrs = {g: open(os.path.join(d, g, "http")).read().strip()
                 for g in ("gateway", "gateway-b")}
        for g, addr in addrs.items():
            with urllib.request.urlopen(f"http://{addr}/healthz",
                                        timeout=10) as r:
                assert r.status == 200, g
        out, _ = p.communicate(timeout=240)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
    out = "".join(seen) + out
    assert p.returncode == 0, out[-4000:]
    assert "equal the simulators' ground truth" in out, out[-4000:]
    assert leftovers(d) == [], out[-2000:]
