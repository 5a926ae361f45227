"""Test helpers for Vigie: run the gateway, build unit payloads, and compute
summaries independently of the C code (Decimal arithmetic, straight from
docs/protocol.md), so a wrong count or rounding in the gateway fails the tests.
"""
import json
import os
import signal
import subprocess
import time
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

from conftest import BUILD, stop_process, wait_for, summaries

STATES = ("pending", "migrating", "migrated", "retired", "unknown")
REGIONS = [f"{i:02d}" for i in range(1, 18)]
# The plan (docs/protocol.md, Targets): baseline, then (first year of FY, target percent).
PLAN = {
    "renir": (Decimal("51"), [(2023, Decimal("70")), (2024, Decimal("75"))]),
    "rgt": (Decimal("11"), [(2023, Decimal("15")), (2024, Decimal("40"))]),
}


class Gateway:
    def __init__(self, tmp, port, today="2024-06-01", extra=()):
        self.data = os.path.join(str(tmp), "gw-data")
        self.log_path = os.path.join(str(tmp), "gateway.log")
        self.args = [os.path.join(BUILD, "vigie-gateway"),
                     "--broker", f"127.0.0.1:{port}",
                     "--data-dir", self.data, "--today", today,
                     "--coalesce-ms", "100", "--history-interval", "1",
                     "--keepalive", "5",
                     *extra]
        self.proc = None

    READY = "retained state replayed"

    def start(self, wait=True):
        """Start; with wait, return only once the gateway has subscribed
        and its retained replay is over (it logs READY after its replay
        marker came back), so nothing a test publishes next is lost."""
        before = self.logtext().count(self.READY) if os.path.exists(
            self.log_path) else 0
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.args, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready(before)
        return self

    def wait_ready(self, before=0, timeout=60.0):
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("gateway exited: " + self.logtext()[-2000:])
            return self.logtext().count(self.READY) > before
        wait_for(ready, timeout=timeout, what="gateway subscribed")

    def stop(self, sig=signal.SIGTERM):
        rc = stop_process(self.proc, sig, timeout=15)
        self.proc = None
        self.log.close()
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def logtext(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


def unit_topic(program, region, site, unit):
    return f"vigie/v1/unit/{program}/{region}/{site}/{unit}"


def unit_payload(program, region, site, unit, state, seq, **extra):
    d = {"v": 1, "program": program, "region": region, "site": site,
         "unit": unit, "state": state, "seq": seq,
         "ts": "2026-11-22T18:00:00Z"}
    d.update(extra)
    return json.dumps(d)


class Truth:
    """Ground truth: the latest state of every unit, kept by the test."""

    def __init__(self):
        self.units = {}   # (program, region, site, unit) -> state
        self.faulted = set()
        self.offline_sites = set()

    def set(self, program, region, site, unit, state, fault=False):
        self.units[(program, region, site, unit)] = state
        key = (program, region, site, unit)
        if fault:
            self.faulted.add(key)
        else:
            self.faulted.discard(key)

    def remove(self, program, region, site, unit):
        self.units.pop((program, region, site, unit), None)
        self.faulted.discard((program, region, site, unit))

    def summary(self, program, region, fy):
        sel = {k: v for k, v in self.units.items() if k[0] == program and
               (region == "all" or k[1] == region)}
        counts = Counter(sel.values())
        stale = sum(1 for k in sel if k in self.faulted or
                    k[2] in self.offline_sites)
        return expected(program, region, {s: counts.get(s, 0) for s in STATES},
                        stale, fy)


def pct(migrated, eligible):
    q = Decimal(migrated) * 100 / Decimal(eligible)
    return q.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def expected(program, region, counts, stale, fy):
    baseline, targets = PLAN[program]
    eligible = sum(counts.values()) - counts["retired"]
    migrated = counts["migrated"]
    tl = []
    for year, t in targets:
        need = int((t * eligible / 100).to_integral_value(rounding="ROUND_CEILING"))
        tl.append({"fiscal_year": f"{year}-{year + 1}",
                   "due": f"{year + 1}-03-31", "percent": t,
                   "met": Decimal(migrated) * 100 >= t * eligible,
                   "units_needed": max(0, need - migrated)})
    future = [i for i, (year, _) in enumerate(targets) if year >= fy]
    current = tl[future[0]] if future else tl[-1]
    return {"program": program, "region": region, "counts": counts,
            "eligible": eligible, "migrated": migrated,
            "percent": None if eligible == 0 else pct(migrated, eligible),
            "baseline": baseline, "target": current, "targets": tl,
            "plan_ended": not future, "stale": stale}


def comparable(s):
    """A summary as published, without its timestamp, with exact decimals."""
    s = json.loads(json.dumps(s), parse_float=Decimal)
    s.pop("ts", None)
    s.pop("v", None)
    s.pop("region_name", None)
    for t in [s.get("target")] + s.get("targets", []):
        if t:
            t["percent"] = Decimal(t["percent"])
    s["baseline"] = Decimal(s["baseline"])
    if s["percent"] is not None:
        s["percent"] = Decimal(s["percent"])
    return s


def diff_summaries(port, truth, fy, programs=("renir", "rgt"),
                   regions=None):
    """Differences between the broker's retained summaries and the truth;
    an empty list when they agree exactly."""
    got = summaries(port)
    regions = regions or sorted({k[1] for k in truth.units})
    problems = []
    for prog in programs:
        for reg in list(regions) + ["all"]:
            want = truth.summary(prog, reg, fy)
            have = got.get((prog, reg))
            if have is None:
                problems.append(f"{prog}/{reg}: no summary")
                continue
            have = comparable(have)
            for k, v in want.items():
                if have.get(k) != v:
                    problems.append(f"{prog}/{reg} {k}: {have.get(k)!r} != {v!r}")
    return problems


def wait_truth(port, truth, fy, timeout=30, **kw):
    """Wait until the retained summaries equal the truth; bounded."""
    last = []

    def ok():
        last[:] = diff_summaries(port, truth, fy, **kw)
        return not last
    try:
        wait_for(ok, timeout=timeout, interval=0.3, what="summaries")
    except TimeoutError:
        raise AssertionError("summaries differ from ground truth:\n  " +
                             "\n  ".join(last[:20]))
