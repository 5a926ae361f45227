"""A live delivery the broker lost is mended by the gateway's periodic
re-read of the retained state (--resync-interval).  NATS 2.9 loses a few
live QoS 1 deliveries under load while its retained copies stay whole
(docs/scale-out.md); that loss cannot be caused on demand, so here a real
mosquitto withholds one site's statuses from the gateway with an ACL (the
status is retained all the same), then lets the gateway read them (the
ACL reloaded on SIGHUP, which redelivers nothing): only a re-read brings
the unit in.  Checked on the retained summaries and the gateway's
counters: nothing mended while nothing was lost, exactly the lost unit
once it can be read, and never a unit counted twice."""
import os
import signal
import subprocess
import urllib.request

import pytest

from conftest import BUILD, Broker, free_port, publish_all, summaries, wait_for
from vigie import Gateway, unit_payload, unit_topic

HIDDEN = ("rgt", "03", "site-b", "B1")
SEEN = ("rgt", "03", "site-a", "A1")


def _acl(path, hidden_readable):
    """Everything readwrite for anonymous clients but site-b's units,
    which they may publish and, until hidden_readable, not read."""
    rules = ["vigie/v1/unit/rgt/03/site-a/#", "vigie/v1/agent/#",
             "vigie/v1/summary/#", "vigie/v1/event/#", "vigie/v1/receipt/#",
             "vigie/v1/bridge/#", "vigie/v1/gateway/#", "vigie-test/#"]
    text = "".join(f"topic readwrite {r}\n" for r in rules)
    b = "vigie/v1/unit/rgt/03/site-b/#"
    text += f"topic {'readwrite' if hidden_readable else 'write'} {b}\n"
    path.write_text(text)


def _metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                timeout=10) as r:
        lines = r.read().decode().splitlines()
    return {ln.split()[0]: float(ln.split()[1]) for ln in lines
            if ln.startswith(("vigie_resync", "vigie_messages_total"))}


def _rgt03(port):
    s = summaries(port).get(("rgt", "03"))
    return (sum(s["counts"].values()), s["counts"]["migrated"]) if s else None


def test_a_lost_delivery_is_mended_by_the_next_re_read(tmp_path, procs):
    acl = tmp_path / "acl"
    _acl(acl, hidden_readable=False)
    broker = Broker(tmp_path, extra_conf=f"acl_file {acl}\n")
    broker.start()
    procs.append(broker)
    http = free_port()
    gw = Gateway(tmp_path, broker.port, extra=(
        "--resync-interval", "1", "--log-level", "debug",
        "--http", str(http))).start()
    procs.append(gw)

    publish_all(broker.port, [
        (unit_topic(*u), unit_payload(*u, "migrated", 1), True)
        for u in (SEEN, HIDDEN)])
    wait_for(lambda: _rgt03(broker.port) == (1, 1), what="site-a counted")
    # re-reads that find nothing to mend (the ACL still hides site-b)
    seen = gw.logtext().count("nothing to mend")
    wait_for(lambda: gw.logtext().count("nothing to mend") >= seen + 2,
             what="two re-reads")
    m = _metrics(http)
    assert m["vigie_resyncs_total"] >= 2
    assert m["vigie_resync_mended_total"] == 0
    assert _rgt03(broker.port) == (1, 1)

    # the gateway may read site-b now; the broker redelivers nothing
    _acl(acl, hidden_readable=True)
    broker.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: _rgt03(broker.port) == (2, 2), timeout=30,
             what="site-b's unit brought in by a re-read")
    assert "mended 1 units or agents" in gw.logtext()
    # later re-reads replay both units again: duplicates, nothing mended
    done = _metrics(http)["vigie_resyncs_total"]
    wait_for(lambda: _metrics(http)["vigie_resyncs_total"] >= done + 2,
             what="two more re-reads")
    assert _metrics(http)["vigie_resync_mended_total"] == 1
    assert _rgt03(broker.port) == (2, 2)
    assert "rejected" not in gw.logtext()


@pytest.mark.parametrize("kind,says", [("mosquitto", False),
                                       ("nats", True)])
def test_re_reads_by_default_on_nats_only(tmp_path, broker, procs, kind,
                                          says):
    """Mosquitto loses nothing it acknowledged: re-reading a million
    retained units every few minutes would be waste there, so it is off
    unless asked for; on NATS it is on (600 s).  (--broker-kind nats
    works against mosquitto too: its second replay is only redundant.)"""
    gw = Gateway(tmp_path, broker.port,
                 extra=("--broker-kind", kind)).start()
    procs.append(gw)
    assert ("re-reading the retained state every 600 s" in gw.logtext()) \
        == says


def test_resync_interval_is_checked():
    r = subprocess.run([os.path.join(BUILD, "vigie-gateway"),
                        "--resync-interval", "-5"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode != 0
    assert "--resync-interval wants 0..86400 seconds" in r.stderr
