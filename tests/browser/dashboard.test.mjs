// The dashboard in a real browser (Debian's chromium, driven by
// playwright-core): a private mosquitto and gateway on free loopback ports,
// a known data set published on the broker, and the numbers on the page
// checked against figures computed here from that data set (not read back
// from the API).  Then the language switch, and a live update after a new
// unit status is published, without reloading.  A screenshot goes to
// tests/artifacts/.  Every wait is bounded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..", "..");
const BUILD = process.env.VIGIE_BUILD || path.join(ROOT, "build", "host");
const ARTIFACTS = path.join(ROOT, "tests", "artifacts");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const MOSQUITTO = process.env.MOSQUITTO || "/usr/sbin/mosquitto";

// ---- the known data set and its figures, computed independently --------

const TARGET_BP = { renir: 7500, rgt: 4000 }; // FY 2024-2025 (--today 2024-06-01)
const BASELINE = { renir: "51.00", rgt: "11.00" };

// For region i: n units; some migrated, one retired (even i), one unknown
// (i divisible by 3), the rest pending.  Spread so that some regions meet
// the target and others do not.  Two regions have nothing eligible: rgt 17
// has no unit at all, renir 15 only retired ones (no data, never ✔).
function dataset() {
  const units = [];
  for (const program of ["renir", "rgt"]) {
    for (let i = 1; i <= 17; i++) {
      const region = String(i).padStart(2, "0");
      if (program === "rgt" && i === 17) continue;
      if (program === "renir" && i === 15) {
        for (let k = 0; k < 3; k++)
          units.push({ program, region, site: `s-${region}-0`, unit: `${program}-${k}`, state: "retired" });
        continue;
      }
      const n = 4 + (i % 5) + (program === "rgt" ? 2 : 0);
      const migrated = (i * 3 + (program === "rgt" ? 1 : 0)) % (n + 1);
      for (let k = 0; k < n; k++) {
        let st = k < migrated ? "migrated" : "pending";
        if (k === n - 1 && i % 2 === 0 && k >= migrated) st = "retired";
        if (k === n - 2 && i % 3 === 0 && k >= migrated) st = "unknown";
        units.push({ program, region, site: `s-${region}-${k % 2}`, unit: `${program}-${k}`, state: st });
      }
    }
  }
  return units;
}

function figures(units, program, region) {
  const sel = units.filter((u) => u.program === program && (region === "all" || u.region === region));
  const c = { pending: 0, migrating: 0, migrated: 0, retired: 0, unknown: 0 };
  for (const u of sel) c[u.state]++;
  const eligible = sel.length - c.retired;
  const migrated = c.migrated;
  // integers only, half up, as docs/protocol.md
  const bp = eligible ? Math.floor((migrated * 20000 + eligible) / (2 * eligible)) : null;
  const tbp = TARGET_BP[program];
  const met = migrated * 10000 >= tbp * eligible;
  const needed = Math.max(0, Math.ceil((tbp * eligible) / 10000) - migrated);
  return { eligible, migrated, bp, met, needed };
}

// ---- processes ------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function waitFor(pred, what, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { last = await pred(); if (last) return last; } catch (e) { last = e.message; }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

function publish(port, msgs) {
  for (const m of msgs) {
    execFileSync("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), "-q", "1", "-r",
      "-t", m.topic, "-m", m.payload], { timeout: 10000 });
  }
}

function unitMsg(u, seq) {
  return {
    topic: `vigie/v1/unit/${u.program}/${u.region}/${u.site}/${u.unit}`,
    payload: JSON.stringify({ v: 1, program: u.program, region: u.region, site: u.site,
      unit: u.unit, state: u.state, seq, ts: "2024-06-01T12:00:00Z" }),
  };
}

const ctx = {};

before(async () => {
  ctx.tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vigie-browser-"));
  ctx.mqtt = await freePort();
  ctx.http = await freePort();
  const conf = path.join(ctx.tmp, "mosquitto.conf");
  fs.writeFileSync(conf, `listener ${ctx.mqtt} 127.0.0.1\nallow_anonymous true\n` +
    "max_queued_messages 100000\npersistence false\n");
  ctx.broker = spawn(MOSQUITTO, ["-c", conf], { stdio: "ignore" });
  await waitFor(() => new Promise((res) => {
    const s = net.connect(ctx.mqtt, "127.0.0.1", () => { s.end(); res(true); });
    s.on("error", () => res(false));
  }), "mosquitto");
  ctx.units = dataset();
  publish(ctx.mqtt, ctx.units.map((u) => unitMsg(u, 1)));
  ctx.log = fs.openSync(path.join(ctx.tmp, "gateway.log"), "a");
  ctx.gw = spawn(path.join(BUILD, "vigie-gateway"), ["--broker", `127.0.0.1:${ctx.mqtt}`,
    "--data-dir", path.join(ctx.tmp, "data"), "--today", "2024-06-01",
    "--coalesce-ms", "100", "--history-interval", "1", "--http", `127.0.0.1:${ctx.http}`],
  { stdio: ["ignore", ctx.log, ctx.log] });
  ctx.url = `http://127.0.0.1:${ctx.http}/`;
  const want = ctx.units.filter((u) => u.program === "renir" && u.state !== "retired").length;
  await waitFor(async () => {
    const r = await fetch(`${ctx.url}api/v1/summary/renir/all`);
    return r.ok && (await r.json()).eligible === want;
  }, "the gateway to apply the data set");
  // and to record it in the history, so the trend charts have a line
  await waitFor(async () => {
    const r = await fetch(`${ctx.url}api/v1/history?program=renir&region=all`);
    return r.ok && (await r.json()).points.some((p) => p.eligible === want);
  }, "a history point of the data set");
  ctx.userDir = fs.mkdtempSync(path.join(os.tmpdir(), "vigie-chromium-"));
  ctx.browser = await chromium.launchPersistentContext(ctx.userDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  ctx.page = ctx.browser.pages()[0] || await ctx.browser.newPage();
  // the page must load nothing from anywhere but the gateway
  ctx.foreign = [];
  ctx.page.on("request", (r) => { if (!r.url().startsWith(ctx.url)) ctx.foreign.push(r.url()); });
});

after(async () => {
  if (ctx.browser) await ctx.browser.close();
  for (const p of [ctx.gw, ctx.broker]) {
    if (p && p.exitCode === null) {
      p.kill("SIGTERM");
      await Promise.race([new Promise((r) => p.once("exit", r)), new Promise((r) => setTimeout(r, 10000))]);
    }
  }
  fs.rmSync(ctx.userDir || "/nonexistent", { recursive: true, force: true });
});

// Text of a cell, as a number: French uses a decimal comma and narrow
// no-break spaces between thousands; English uses commas between thousands.
function parseNum(text, lang) {
  let s = text.replace(/[\s\u00a0\u202f%]/g, "");
  s = lang === "fr" ? s.replace(",", ".") : s.replace(/,/g, "");
  return Number(s);
}

async function cells(program, region) {
  return ctx.page.$eval(`section[data-program="${program}"] tr[data-region="${region}"]`, (tr) => {
    const o = {};
    for (const td of tr.querySelectorAll("td[data-k]")) o[td.dataset.k] = td.textContent.trim();
    return o;
  });
}

async function checkNumbers(lang) {
  for (const program of ["renir", "rgt"]) {
    for (const region of [...Array.from({ length: 17 }, (_, i) => String(i + 1).padStart(2, "0")), "all"]) {
      const want = figures(ctx.units, program, region);
      const got = await cells(program, region);
      const where = `${program}/${region} (${lang})`;
      assert.equal(parseNum(got.eligible, lang), want.eligible, `${where} eligible`);
      assert.equal(parseNum(got.migrated, lang), want.migrated, `${where} migrated`);
      if (want.bp === null) assert.equal(got.percent, "—", `${where} percent`);
      else assert.equal(Math.round(parseNum(got.percent, lang) * 100), want.bp, `${where} percent`);
      assert.equal(Math.round(parseNum(got.target, lang) * 100), TARGET_BP[program], `${where} target`);
      assert.equal(got.due, "2025-03-31", `${where} due`);
      assert.equal(parseNum(got.baseline, lang).toFixed(2), BASELINE[program], `${where} baseline`);
      assert.equal(parseNum(got.stale, lang), 0, `${where} stale`);
      const words = lang === "fr" ? ["✔ atteinte", "✖ en retard", "aucune donnée"] : ["✔ met", "✖ behind", "no data"];
      if (want.eligible === 0) {
        // 0 of 0 is met only vacuously: the page must not show a ✔
        assert.equal(got.status, words[2], `${where} status`);
        assert.ok(!got.status.includes("✔"), `${where} no ✔`);
      } else if (want.met) assert.equal(got.status, words[0], `${where} status`);
      else {
        assert.ok(got.status.startsWith(words[1]), `${where} status: ${got.status}`);
        const m = got.status.match(/−(\d+)/);
        assert.ok(m && Number(m[1]) === want.needed, `${where} units needed: ${got.status} vs ${want.needed}`);
      }
    }
  }
}

test("the dashboard shows the data set's numbers, in French by default", async () => {
  await ctx.page.goto(ctx.url);
  await ctx.page.waitForSelector('section[data-program="rgt"] tr[data-region="all"]', { timeout: 15000 });
  assert.equal(await ctx.page.getAttribute("html", "lang"), "fr");
  assert.match(await ctx.page.textContent("thead"), /Admissibles/);
  // region names: the official French spellings
  assert.equal((await cells("renir", "02")).region, "02 Saguenay–Lac-Saint-Jean");
  assert.equal((await cells("renir", "all")).region, "Ensemble du Québec");
  await checkNumbers("fr");
  // both trend charts are drawn, with the targets as a step line
  for (const p of ["renir", "rgt"]) {
    await ctx.page.waitForSelector(`[data-testid="chart-${p}"] path.target`, { state: "attached", timeout: 10000 });
    await ctx.page.waitForSelector(`[data-testid="chart-${p}"] path.province`, { state: "attached", timeout: 10000 });
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await ctx.page.screenshot({ path: path.join(ARTIFACTS, "dashboard.png"), fullPage: true });
  assert.deepEqual(ctx.foreign, [], "no request leaves the gateway");
});

test("the language switch turns the page to English and back", async () => {
  await ctx.page.click('[data-testid="lang"]');
  await ctx.page.waitForFunction(() => document.documentElement.lang === "en", null, { timeout: 5000 });
  assert.match(await ctx.page.textContent("thead"), /Eligible/);
  assert.equal((await cells("renir", "all")).region, "All of Quebec");
  assert.equal((await cells("renir", "02")).region, "02 Saguenay–Lac-Saint-Jean");
  await checkNumbers("en");
  await ctx.page.screenshot({ path: path.join(ARTIFACTS, "dashboard-en.png"), fullPage: true });
  await ctx.page.click('[data-testid="lang"]');
  await ctx.page.waitForFunction(() => document.documentElement.lang === "fr", null, { timeout: 5000 });
});

test("a unit status published on the broker shows up live, without a reload", async () => {
  await ctx.page.evaluate(() => { window.__sameDocument = true; });
  // region 04 renir: every pending unit migrates (seq 2 wins over seq 1)
  const changed = ctx.units.filter((u) => u.program === "renir" && u.region === "04" && u.state === "pending");
  assert.ok(changed.length > 0);
  for (const u of changed) u.state = "migrated";
  publish(ctx.mqtt, changed.map((u) => unitMsg(u, 2)));
  const want = figures(ctx.units, "renir", "04");
  await waitFor(async () => parseNum((await cells("renir", "04")).migrated, "fr") === want.migrated,
    "the live update of renir/04");
  assert.equal(await ctx.page.evaluate(() => window.__sameDocument), true, "no reload");
  await checkNumbers("fr");
  await ctx.page.screenshot({ path: path.join(ARTIFACTS, "dashboard-live.png"), fullPage: true });
});
