"""Debian's real Prometheus scraping a real gateway, with
deploy/prometheus/vigie-rules.yml as shipped but for its `for:` durations
(1 s here, so that the test waits on the system, not on the rules): a
frozen agent (SIGSTOP) makes the site-offline and stale-units alerts fire
once the broker gives up on it and publishes its will, and thawing it
(SIGCONT) resolves them; a stopped gateway makes VigieGatewayDown fire.
Prometheus scrapes as deploy/prometheus/prometheus.yml says a NOC should:
HTTPS, verifying the gateway's certificate, with a Bearer token.

Everything is on loopback: a private mosquitto, a vigie-sim, a vigie-agent
(keepalive 5 s, the least it takes), the gateway with --http, and
prometheus on a free port with its storage in the test's tmp dir, no
Alertmanager, no remote write.  Every wait is a bounded poll.
"""
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from agent_kit import Agent, Sim, write_config  # noqa: E402
from conftest import (ROOT, Broker, free_port, stop_process,  # noqa: E402
                      wait_for)
from vigie import Gateway  # noqa: E402

PROMETHEUS = os.environ.get("PROMETHEUS", "/usr/bin/prometheus")
RULES = os.path.join(ROOT, "deploy", "prometheus", "vigie-rules.yml")
KEEPALIVE = 5
SITE, REGION = "site-t", "03"

if not os.access(PROMETHEUS, os.X_OK):
    # no silent skip: make check installs it (deploy/prometheus/prometheus.mk)
    raise RuntimeError(f"{PROMETHEUS} missing: apt-get install prometheus")


def fast_rules(dst):
    """The shipped rules with every `for:` made 1 s; nothing else
    changes (expressions, thresholds, labels, texts)."""
    with open(RULES, encoding="utf-8") as f:
        text = f.read()
    fast, n = re.subn(r"(?m)^(\s+for:\s*)\S+\s*$", r"\g<1>1s", text)
    assert n >= 8, "the rules' for: lines moved"
    with open(dst, "w", encoding="utf-8") as f:
        f.write(fast)


class Prometheus:
    """/usr/bin/prometheus on 127.0.0.1, scraping the gateway every
    second as job vigie-gateway (the name the rules expect)."""

    def __init__(self, tmp, target, token, ca):
        self.dir = os.path.join(str(tmp), "prometheus")
        os.makedirs(self.dir)
        self.port = free_port()
        rules = os.path.join(self.dir, "vigie-rules.yml")
        fast_rules(rules)
        self.conf = os.path.join(self.dir, "prometheus.yml")
        with open(self.conf, "w") as f:
            f.write("global:\n"
                    "  scrape_interval: 1s\n"
                    "  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    f"rule_files: [{json.dumps(rules)}]\n"
                    "scrape_configs:\n"
                    "  - job_name: vigie-gateway\n"
                    "    scheme: https\n"
                    "    authorization:\n"
                    "      type: Bearer\n"
                    f"      credentials_file: {json.dumps(token)}\n"
                    f"    tls_config: {{ca_file: {json.dumps(ca)}}}\n"
                    f"    static_configs: [{{targets: ['{target}']}}]\n")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "ab")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={self.conf}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             "--log.level=warn"],
            stdout=self.log, stderr=self.log)
        wait_for(self.ready, timeout=30, what="prometheus ready")

    def get(self, path):
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return None, b""

    def ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("prometheus exited; see " + self.log.name)
        return self.get("/-/ready")[0] == 200

    def query(self, expr):
        """An instant vector as {frozenset(labels but __name__): value}."""
        status, body = self.get("/api/v1/query?" +
                                urllib.parse.urlencode({"query": expr}))
        assert status == 200, (expr, status, body[:300])
        return {frozenset((k, v) for k, v in r["metric"].items()
                          if k != "__name__"): float(r["value"][1])
                for r in json.loads(body)["data"]["result"]}

    def alerts(self, name, **labels):
        """Active (pending or firing) alerts called name with labels."""
        status, body = self.get("/api/v1/alerts")
        assert status == 200, (status, body[:300])
        return [a for a in json.loads(body)["data"]["alerts"]
                if a["labels"].get("alertname") == name and
                all(a["labels"].get(k) == v for k, v in labels.items())]

    def firing(self, name, **labels):
        return [a for a in self.alerts(name, **labels)
                if a["state"] == "firing"]

    def stop(self):
        stop_process(self.proc)
        self.log.close()


def https_credentials(tmp):
    """A self-signed certificate for 127.0.0.1 and a token, as the gateway
    wants them (keys and token readable by their owner only)."""
    key, cert = os.path.join(tmp, "http.key"), os.path.join(tmp, "http.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    token = os.path.join(tmp, "http.token")
    with open(token, "w") as f:
        f.write(os.urandom(16).hex() + "\n")
    for path in (key, token):
        os.chmod(path, 0o600)
    return key, cert, token


def test_alerts_fire_on_a_frozen_agent_and_resolve_when_it_thaws(tmp_path):
    started = []
    try:
        broker = Broker(tmp_path)
        broker.start()
        started.append(broker)
        http = free_port()
        key, cert, token = https_credentials(str(tmp_path))
        gw = Gateway(tmp_path, broker.port,
                     extra=("--http", f"127.0.0.1:{http}",
                            "--http-token-file", token,
                            "--http-cert", cert, "--http-key", key)).start()
        started.append(gw)
        sim = Sim(slaves="1")
        started.append(sim)
        conf = write_config(
            tmp_path, broker.port,
            {"plc": {"tcp": f"127.0.0.1:{sim.port}", "slave": 1,
                     "poll_interval_ms": 200, "response_timeout_ms": 300,
                     "retries": 1}},
            {"U1": {"program": "renir", "device": "plc", "address": 10},
             "U2": {"program": "renir", "device": "plc", "address": 11},
             "L1": {"program": "rgt", "device": "plc", "address": 12}})
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace("keepalive = 10",
                                 f"keepalive = {KEEPALIVE}"))
        agent = Agent(conf, tmp_path)
        agent.start()
        started.append(agent)

        prom = Prometheus(tmp_path, f"127.0.0.1:{http}", token, cert)
        started.append(prom)
        site = {"site": SITE, "region": REGION}
        online = f'site_region:vigie_agent_online:min{{site="{SITE}"}}'
        # Prometheus sees the site online, its units fresh, no alert
        wait_for(lambda: prom.query(online) == {frozenset(site.items()): 1},
                 timeout=30, what="the site online in Prometheus")
        by_program = lambda expr: {dict(k)["program"]: v for k, v in
                                   prom.query(expr).items()}
        wait_for(lambda: by_program(
            'vigie_eligible_units{region="03"}') == {"renir": 2, "rgt": 1},
            timeout=30, what="the site's 3 units in Prometheus")
        wait_for(lambda: by_program(
            'program_region:vigie_stale_units:max{region="03"}') ==
            {"renir": 0, "rgt": 0}, timeout=30,
            what="no stale unit in Prometheus")
        assert prom.query('up{job="vigie-gateway"}') == {
            frozenset({"job": "vigie-gateway",
                       "instance": f"127.0.0.1:{http}"}.items()): 1}
        assert not prom.alerts("VigieSiteOffline")
        assert not prom.alerts("VigieUnitsStale")

        # frozen: the broker publishes its will after keepalive × 1.5
        os.kill(agent.proc.pid, signal.SIGSTOP)
        fired = wait_for(lambda: prom.firing("VigieSiteOffline", **site),
                         timeout=KEEPALIVE * 1.5 + 30,
                         what="VigieSiteOffline firing")
        assert fired[0]["labels"]["severity"] == "warning"
        assert fired[0]["annotations"]["summary"] == \
            f"Site {SITE} (région {REGION}) hors ligne"
        assert fired[0]["annotations"]["summary_en"] == \
            f"Site {SITE} (region {REGION}) offline"
        # both programs' units of the site: 2 renir, 1 rgt
        wait_for(lambda: sorted(
            (a["labels"]["program"], float(a["value"]))
            for a in prom.firing("VigieUnitsStale", region=REGION)) ==
            [("renir", 2.0), ("rgt", 1.0)],
            timeout=30, what="VigieUnitsStale firing for 2 renir, 1 rgt")
        assert not prom.alerts("VigieUnitsStale", region="all")

        # thawed: the agent reconnects, its birth puts the site back
        os.kill(agent.proc.pid, signal.SIGCONT)
        wait_for(lambda: not prom.alerts("VigieSiteOffline", **site),
                 timeout=60, what="VigieSiteOffline resolved")
        wait_for(lambda: not prom.alerts("VigieUnitsStale"),
                 timeout=30, what="VigieUnitsStale resolved")
        assert prom.query(online) == {frozenset(site.items()): 1}

        # the gateway stops: Prometheus cannot scrape it
        gw.stop()
        started.remove(gw)
        down = wait_for(lambda: prom.firing(
            "VigieGatewayDown", instance=f"127.0.0.1:{http}"),
            timeout=30, what="VigieGatewayDown firing")
        assert down[0]["labels"]["severity"] == "critical"
    finally:
        agent_proc = next((p.proc for p in started if isinstance(p, Agent)),
                          None)
        if agent_proc and agent_proc.poll() is None:
            os.kill(agent_proc.pid, signal.SIGCONT)
        for p in reversed(started):
            p.stop()
