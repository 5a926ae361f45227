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
  const extra = {};
  for (const k of ["tech", "note", "source"]) if (u[k]) extra[k] = u[k];
  return {
    topic: `vigie/v1/unit/${u.program}/${u.region}/${u.site}/${u.unit}`,
    payload: JSON.stringify({ v: 1, program: u.program, region: u.region, site: u.site,
      unit: u.unit, state: u.state, seq, ts: "2024-06-01T12:00:00Z", ...extra }),
  };
}

// Region 06's site s-06-0: a technician's notes (they change no count)
// and an agent's birth, so the drill-down has presence and health to show.
function annotate(units) {
  for (const u of units) {
    if (u.region === "06" && u.site === "s-06-0") {
      u.source = "manual"; u.tech = "jtremblay"; u.note = `Vérifié, "${u.unit}", 2e étage`;
    }
  }
}
const BIRTH = { v: 1, site: "s-06-0", region: "06", online: true, version: "0.2.0", board: "rpi4",
  units: 3, session: 1717243200000, ts: "2024-06-01T12:00:00Z", outbox: 2, oldest_unacked_s: 5,
  devices_ok: 2, devices_failing: 1, refused: 0, config_hash: "9f2c61aa03b7d415" };

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
  annotate(ctx.units);
  publish(ctx.mqtt, ctx.units.map((u) => unitMsg(u, 1)));
  publish(ctx.mqtt, [{ topic: "vigie/v1/agent/s-06-0", payload: JSON.stringify(BIRTH) }]);
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
        const m = got.status.match(lang === "fr" ? /il manque (\d+) unités?\)/ : /\((\d+) units? short\)/);
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

// ---- drill-down, tile map, phone -------------------------------------------

async function api(p) {
  const r = await fetch(`${ctx.url}${p.replace(/^\//, "")}`);
  assert.equal(r.status, 200, p);
  return r.json();
}
async function apiUnits(q) {
  const out = [];
  for (let off = 0; off !== null;) {
    const page = await api(`/api/v1/units?${q}&limit=1000&offset=${off}`);
    out.push(...page.units);
    off = page.next_offset;
  }
  return out;
}
async function tableRows(testid) {
  return ctx.page.$$eval(`[data-testid="${testid}"] tbody tr`, (trs) => trs.map((tr) => {
    const o = { attrs: { ...tr.dataset } };
    for (const td of tr.querySelectorAll("td[data-k]")) o[td.dataset.k] = td.textContent.trim();
    return o;
  }));
}
const shot = (name) => ctx.page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
const STATES = ["pending", "migrating", "migrated", "retired", "unknown"];

test("the header says which target holds, and English has no space before a colon", async () => {
  await ctx.page.goto(ctx.url);
  await ctx.page.waitForSelector('[data-testid="fyline"]:not(:empty)', { timeout: 15000 });
  // --today 2024-06-01: the plan runs, the target of 2024-2025 is in force
  assert.equal(await ctx.page.textContent('[data-testid="fyline"]'), "Exercice 2024-2025 — cible en vigueur : 2024-2025");
  assert.match(await ctx.page.textContent('[data-testid="updated"]'), /^Mis à jour\u00a0: /);
  await ctx.page.click('[data-testid="lang"]');
  await ctx.page.waitForFunction(() => document.documentElement.lang === "en", null, { timeout: 5000 });
  assert.match(await ctx.page.textContent('[data-testid="updated"]'), /^Updated: \S/);
  assert.equal(await ctx.page.textContent('[data-testid="fyline"]'), "Fiscal year 2024-2025 — target in force: 2024-2025");
  // no time-axis label repeats the one before it
  for (const p of ["renir", "rgt"]) {
    const ticks = await ctx.page.$$eval(`[data-testid="chart-${p}"] text:not([text-anchor="end"]), [data-testid="chart-${p}"] text[text-anchor="end"]`,
      (ts) => ts.filter((x) => !/%$/.test(x.textContent)).map((x) => x.textContent));
    assert.ok(ticks.length >= 1, `${p} ticks`);
    for (let i = 1; i < ticks.length; i++) assert.notEqual(ticks[i], ticks[i - 1], `${p} ticks ${ticks}`);
  }
  await ctx.page.click('[data-testid="lang"]');
  await ctx.page.waitForFunction(() => document.documentElement.lang === "fr", null, { timeout: 5000 });
  // once the plan has ended (a gateway running in 2026 with a plan that
  // ends in 2025): the header says the last target holds, and why
  const ended = await ctx.page.evaluate(() => fyLine({ fiscal_year: "2026-2027", summaries: ["renir", "rgt"].map((p) => ({
    program: p, region: "all", plan_ended: true, target: { fiscal_year: "2024-2025", due: "2025-03-31" } })) }));
  assert.equal(ended, "Exercice 2026-2027 — plan terminé le 2025-03-31 : la dernière cible (2024-2025) s’applique");
});

test("the tile map's labels equal the table's, for both programs", async () => {
  await ctx.page.goto(ctx.url);
  await ctx.page.waitForSelector('[data-tile="17"]', { timeout: 15000 });
  assert.equal(await ctx.page.$$eval("[data-tile]", (ts) => ts.length), 17);
  for (let i = 1; i <= 17; i++) {
    const r = String(i).padStart(2, "0");
    for (const p of ["renir", "rgt"]) {
      const tile = await ctx.page.$eval(`[data-tile="${r}"] [data-prog="${p}"]`, (d) => ({
        percent: d.querySelector('[data-k="percent"]').textContent.trim(),
        status: d.querySelector('[data-k="status"]').textContent.trim(),
        cls: d.className,
      }));
      const row = await cells(p, r);
      assert.equal(tile.percent, row.percent, `${p}/${r} percent`);
      assert.equal(tile.status, row.status, `${p}/${r} status`);
      // colour never alone: a word and a pattern class go with it
      const want = figures(ctx.units, p, r);
      const cls = want.eligible === 0 ? "na" : want.met ? "met" : "behind";
      assert.ok(tile.cls.split(" ").includes(cls), `${p}/${r} ${tile.cls} vs ${cls}`);
    }
  }
});

test("drill-down: region → sites → units equal the API; deep links reload; Back works", async () => {
  await ctx.page.goto(ctx.url);
  await ctx.page.waitForSelector('[data-testid="drill-renir-06"]', { timeout: 15000 });
  await ctx.page.click('[data-testid="drill-renir-06"]');
  await ctx.page.waitForSelector('[data-testid="sites"] tbody tr', { timeout: 10000 });
  assert.match(ctx.page.url(), /#region=06$/);
  const sites = (await api("/api/v1/sites?region=06")).sites;
  const units = await apiUnits("region=06");
  const rows = await tableRows("sites");
  const ids = [...new Set([...sites.map((s) => s.site), ...units.map((u) => u.site)])].sort();
  assert.deepEqual(rows.map((r) => r.site), ids);
  for (const r of rows) {
    const api1 = sites.find((s) => s.site === r.site);
    for (const st of STATES)
      assert.equal(Number(r[st]), units.filter((u) => u.site === r.site && u.state === st).length, `${r.site} ${st}`);
    assert.equal(Number(r.stale), units.filter((u) => u.site === r.site && u.stale).length, `${r.site} stale`);
    const online = api1 && api1.online;
    assert.equal(r.online, online === true ? "● en ligne" : online === false ? "○ hors ligne" : "? jamais vu", r.site);
    if (api1) assert.equal(Number(r.faults.replace(/\D/g, "")), api1.faulted.renir + api1.faulted.rgt, `${r.site} faults`);
  }
  const s0 = rows.find((r) => r.site === "s-06-0");
  assert.equal(s0.version, "0.2.0");
  assert.match(s0.health, /file 2 · appareils 2✔\/1✖ · plus ancien non confirmé 5 s/);
  await shot("drill-region-fr");

  // a site's units, then filtered by state
  await ctx.page.click('[data-site="s-06-0"] a');
  await ctx.page.waitForSelector('[data-testid="units"] tbody tr', { timeout: 10000 });
  assert.match(ctx.page.url(), /#region=06&site=s-06-0$/);
  const su = await apiUnits("site=s-06-0");
  let ur = await tableRows("units");
  assert.deepEqual(ur.map((r) => r.attrs.unit).sort(), su.map((u) => `${u.program}/${u.site}/${u.unit}`).sort());
  for (const u of su) {
    const r = ur.find((x) => x.attrs.unit === `${u.program}/${u.site}/${u.unit}`);
    assert.ok(r.state.endsWith({ pending: "en attente", migrating: "en migration", migrated: "migrée",
      retired: "retirée", unknown: "inconnu" }[u.state]), `${u.unit} ${r.state}`);
    assert.equal(r.note, u.note, `${u.unit} note`);
    assert.equal(r.tech, "jtremblay");
    assert.equal(r.source, "manual");
  }
  await shot("drill-site-fr");
  await ctx.page.selectOption('[data-testid="state-filter"]', "pending");
  await ctx.page.waitForFunction(() => location.hash.includes("state=pending"), null, { timeout: 5000 });
  await ctx.page.waitForFunction(() => [...document.querySelectorAll('[data-testid="units"] td[data-k="state"]')]
    .every((td) => td.textContent.includes("en attente")), null, { timeout: 5000 });
  ur = await tableRows("units");
  assert.equal(ur.length, su.filter((u) => u.state === "pending").length);

  // deep link: a reload lands on the same place, with the same rows
  await ctx.page.reload();
  await ctx.page.waitForSelector('[data-testid="units"] tbody tr', { timeout: 10000 });
  assert.deepEqual((await tableRows("units")).map((r) => r.attrs.unit), ur.map((r) => r.attrs.unit));
  assert.equal(await ctx.page.$eval('[data-testid="state-filter"]', (s) => s.value), "pending");
  // Back: the filter goes, then the site
  await ctx.page.goBack();
  await ctx.page.waitForFunction(() => location.hash === "#region=06&site=s-06-0", null, { timeout: 5000 });
  await ctx.page.waitForFunction((n) => document.querySelectorAll('[data-testid="units"] tbody tr').length === n,
    su.length, { timeout: 5000 });
  await ctx.page.goBack();
  await ctx.page.waitForSelector('[data-testid="sites"] tbody tr', { timeout: 10000 });

  // the region's pending work, and its CSV equal to the API's units
  await ctx.page.click('[data-testid="pending-link"]');
  await ctx.page.waitForSelector('[data-testid="pending"] tbody tr', { timeout: 10000 });
  const todo = units.filter((u) => ["pending", "migrating", "unknown"].includes(u.state));
  assert.equal((await tableRows("pending")).length, todo.length);
  const [dl] = await Promise.all([ctx.page.waitForEvent("download", { timeout: 10000 }),
    ctx.page.click('[data-testid="csv"]')]);
  const csv = fs.readFileSync(await dl.path(), "utf8").trim().split("\r\n");
  assert.equal(csv[0], "program,region,site,unit,state,since,source,tech,note,fault");
  const key = (l) => l.split(",").slice(0, 4).map((x) => x.replace(/"/g, "")).join("/");
  assert.deepEqual(csv.slice(1).map(key).sort(),
    todo.map((u) => `${u.program}/${u.region}/${u.site}/${u.unit}`).sort());
  assert.ok(csv.some((l) => l.includes('"Vérifié, ""')), "quoted note");
  assert.deepEqual(ctx.foreign, [], "no request leaves the gateway");
});

// Nothing wider than the screen, and every table cell shows its whole text.
async function checkPhone(where) {
  const m = await ctx.page.evaluate(() => {
    const cut = [];
    for (const td of document.querySelectorAll("td[data-k]")) {
      const r = td.getBoundingClientRect();
      if (td.scrollWidth > td.clientWidth + 1 || r.right > innerWidth + 0.5 || r.left < -0.5)
        cut.push(`${td.dataset.k}: ${td.textContent}`);
    }
    for (const n of document.querySelectorAll(".tile, .headline b")) {
      const r = n.getBoundingClientRect();
      if (n.scrollWidth > n.clientWidth + 1 || r.right > innerWidth + 0.5) cut.push(n.textContent);
    }
    const charts = [...document.querySelectorAll("svg[data-testid^=chart]")]
      .map((s) => s.getBoundingClientRect().width / s.viewBox.baseVal.width);
    return { sw: document.documentElement.scrollWidth, iw: innerWidth, cut, charts };
  });
  assert.ok(m.sw <= m.iw, `${where}: page ${m.sw} px wide in ${m.iw}`);
  assert.deepEqual(m.cut, [], `${where}: cut`);
  // the chart is drawn at the width it is shown: its labels are not shrunk
  for (const k of m.charts) assert.ok(k > 0.95, `${where}: chart scaled by ${k}`);
}

test("at phone width (390×844) nothing scrolls sideways and no number is cut", async () => {
  await ctx.page.setViewportSize({ width: 390, height: 844 });
  try {
    for (const lang of ["fr", "en"]) {
      await ctx.page.goto(`${ctx.url}#`);
      await ctx.page.evaluate((l) => localStorage.setItem("vigie.lang", l), lang);
      await ctx.page.reload();
      await ctx.page.waitForSelector('section[data-program="rgt"] tr[data-region="all"]', { timeout: 15000 });
      await ctx.page.waitForSelector('[data-testid="chart-rgt"] path.province', { state: "attached", timeout: 10000 });
      await checkPhone(`overview ${lang}`);
      // the status is the first value of each row's card
      const first = await ctx.page.$eval('section[data-program="renir"] tr[data-region="06"] td:nth-child(2)', (td) => td.dataset.k);
      assert.equal(first, "status");
      await shot(`phone-${lang}`);
      await ctx.page.goto(`${ctx.url}#region=06&site=s-06-0`);
      await ctx.page.waitForSelector('[data-testid="units"] tbody tr', { timeout: 10000 });
      await checkPhone(`site ${lang}`);
      await shot(`phone-drill-${lang}`);
    }
  } finally {
    await ctx.page.evaluate(() => localStorage.setItem("vigie.lang", "fr"));
    await ctx.page.setViewportSize({ width: 1400, height: 1000 });
  }
});

test("desk screenshots in both languages", async () => {
  for (const lang of ["fr", "en"]) {
    await ctx.page.goto(`${ctx.url}#`);
    await ctx.page.evaluate((l) => localStorage.setItem("vigie.lang", l), lang);
    await ctx.page.reload();
    await ctx.page.waitForSelector('[data-testid="chart-rgt"] path.province', { state: "attached", timeout: 15000 });
    await shot(`desk-${lang}`);
    await ctx.page.goto(`${ctx.url}#region=06`);
    await ctx.page.waitForSelector('[data-testid="sites"] tbody tr', { timeout: 10000 });
    await shot(`desk-drill-${lang}`);
  }
  await ctx.page.evaluate(() => localStorage.setItem("vigie.lang", "fr"));
});
