// Vigie dashboard: renders the summaries of /api/v1/summary, keeps them
// live from the /api/v1/events stream (Server-Sent Events), and draws one
// trend chart per program from /api/v1/history.  No framework, no external
// resource.  Texts live in I18N; region names are the official French
// names in both languages (only the province's label is translated).
"use strict";

const I18N = {
  fr: {
    title: "Vigie — tableau de bord",
    subtitle: "Migrations RENIR et RGT, par région",
    switch_to: "English", live: "En direct", offline: "Déconnecté — reconnexion…",
    updated: "Mis à jour", region: "Région", percent: "%", eligible: "Admissibles",
    migrated: "Migrées", target: "Cible", due: "Échéance", status: "État",
    baseline: "Départ", stale: "Périmées", projection: "Projection",
    met: "atteinte", behind: "en retard", units: "unités", none: "—", no_data: "aucune donnée",
    on_track: "en voie", off_track: "pas en voie", plan_ended: "plan terminé",
    province: "Ensemble du Québec", fy: "exercice",
    renir: "RENIR — unités opérationnelles de la SQ",
    rgt: "RGT — liens du RITM",
    chart_region: "Région comparée", range: "Période",
    r_day: "24 h", r_week: "7 j", r_month: "30 j", r_year: "1 an", r_all: "Tout",
    lg_province: "Ensemble du Québec", lg_target: "Cible (par exercice)", lg_base: "Valeur de départ",
    no_history: "Pas encore d’historique.",
    proj_line: (d, p, t, ok) => `Projection au ${d} : ${p} % (cible ${t} %) — ${ok}`,
    proj_none: "Projection : historique insuffisant (au moins une heure) ou aucune échéance à venir.",
    legend: "✔ atteinte : la cible de l’exercice en cours est atteinte. « Aucune donnée » : aucune unité admissible, rien à juger. ✖ en retard : il manque le nombre d’unités indiqué. « Périmées » : unités dont l’agent est hors ligne ou dont la dernière lecture a échoué (leur dernier état compte toujours).",
    method_title: "Méthode de projection",
    method: "Le pourcentage enregistré est échantillonné à 64 instants également espacés sur les 30 derniers jours (ou depuis le premier enregistrement), puis une droite est ajustée par les moindres carrés ; la projection est la valeur de cette droite à la fin de la date d’échéance de la cible en cours, bornée entre 0 et 100 %. « En voie » : la projection atteint la cible.",
  },
  en: {
    title: "Vigie — dashboard",
    subtitle: "RENIR and RGT migrations, by region",
    switch_to: "Français", live: "Live", offline: "Disconnected — reconnecting…",
    updated: "Updated", region: "Region", percent: "%", eligible: "Eligible",
    migrated: "Migrated", target: "Target", due: "Due", status: "Status",
    baseline: "Baseline", stale: "Stale", projection: "Projection",
    met: "met", behind: "behind", units: "units", none: "—", no_data: "no data",
    on_track: "on track", off_track: "off track", plan_ended: "plan ended",
    province: "All of Quebec", fy: "fiscal year",
    renir: "RENIR — SQ operational units",
    rgt: "RGT — RITM links",
    chart_region: "Compared region", range: "Range",
    r_day: "24 h", r_week: "7 d", r_month: "30 d", r_year: "1 yr", r_all: "All",
    lg_province: "All of Quebec", lg_target: "Target (per fiscal year)", lg_base: "Baseline",
    no_history: "No history yet.",
    proj_line: (d, p, t, ok) => `Projection at ${d}: ${p} % (target ${t} %) — ${ok}`,
    proj_none: "Projection: not enough history (at least an hour) or no due date ahead.",
    legend: "✔ met: the current fiscal year's target is met. “No data”: no eligible unit, nothing to judge. ✖ behind: short by the number of units shown. “Stale”: units whose agent is offline or whose last read failed (their last state still counts).",
    method_title: "Projection method",
    method: "The recorded percentage is sampled at 64 evenly spaced instants over the last 30 days (or since the first record), and a straight line is fitted by least squares; the projection is that line's value at the end of the current target's due date, clamped to 0–100 %. “On track”: the projection reaches the target.",
  },
};

const PROGRAMS = ["renir", "rgt"];
const RANGES = { r_day: 86400, r_week: 7 * 86400, r_month: 30 * 86400, r_year: 365 * 86400, r_all: 0 };
const state = {
  lang: localStorage.getItem("vigie.lang") || (new URLSearchParams(location.search).get("lang") === "en" ? "en" : "fr"),
  data: null,
  region: { renir: "06", rgt: "06" },
  range: { renir: "r_all", rgt: "r_all" },
  history: {},
  histAt: 0,
};

const t = (k) => I18N[state.lang][k];
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of kids) e.append(c);
  return e;
};

function num(v) {
  return new Intl.NumberFormat(state.lang === "fr" ? "fr-CA" : "en-CA").format(v);
}
function pct(v) {
  if (v === null || v === undefined) return t("none");
  return new Intl.NumberFormat(state.lang === "fr" ? "fr-CA" : "en-CA",
    { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);
}
function regionLabel(s) {
  return s.region === "all" ? t("province") : `${s.region} ${s.region_name}`;
}

// 0 of 0 is "met" on the wire (docs/protocol.md), vacuously: people must
// read that there is nothing to judge, not an achievement.
const noData = (s) => s.eligible === 0;

// Status cell: icon + word + count, so colour is never the only signal.
function statusCell(s) {
  const td = el("td", { class: "status", "data-k": "status" });
  if (!s.target) { td.append(t("none")); return td; }
  if (noData(s)) {
    td.className += " na";
    td.append(t("no_data"));
  } else if (s.target.met) {
    td.className += " met";
    td.append(`✔ ${t("met")}`);
  } else {
    td.className += " behind";
    td.append(`✖ ${t("behind")} (−${num(s.target.units_needed)} ${t("units")})`);
  }
  return td;
}

function progressBar(s) {
  const cls = noData(s) ? "na" : s.target && s.target.met ? "met" : "behind";
  const span = el("span", { class: `pbar ${cls}`, "aria-hidden": "true" });
  const fill = el("i");
  fill.style.width = `${Math.min(100, s.percent || 0)}%`;
  span.append(fill);
  if (s.target) {
    const mark = el("b");
    mark.style.left = `${s.target.percent}%`;
    span.append(mark);
  }
  return span;
}

function projectionCell(s) {
  const td = el("td", { "data-k": "projection" });
  const p = s.projection;
  if (!p) { td.append(s.plan_ended ? t("plan_ended") : t("none")); td.className = "na"; return td; }
  td.className = p.on_track ? "met" : "behind";
  td.append(`${p.on_track ? "▲" : "▼"} ${pct(p.percent)} % (${p.on_track ? t("on_track") : t("off_track")})`);
  return td;
}

function row(s) {
  const tr = el("tr", { "data-region": s.region, class: s.region === "all" ? "province" : "" });
  const cell = (k, v) => el("td", { "data-k": k }, v);
  const pc = el("td", { "data-k": "percent" });
  pc.append(progressBar(s), pct(s.percent));
  tr.append(
    el("td", { "data-k": "region" }, regionLabel(s)),
    pc,
    cell("eligible", num(s.eligible)),
    cell("migrated", num(s.migrated)),
    cell("target", s.target ? `${pct(s.target.percent)}` : t("none")),
    cell("due", s.target ? s.target.due : t("none")),
    statusCell(s),
    cell("baseline", pct(s.baseline)),
    cell("stale", num(s.stale)),
    projectionCell(s),
  );
  return tr;
}

function table(prog, sums) {
  const head = el("tr");
  for (const k of ["region", "percent", "eligible", "migrated", "target", "due", "status", "baseline", "stale", "projection"])
    head.append(el("th", { scope: "col" }, k === "target" || k === "baseline" ? `${t(k)} (%)` : t(k)));
  const body = el("tbody");
  const byRegion = new Map(sums.map((s) => [s.region, s]));
  for (let i = 1; i <= 17; i++) {
    const s = byRegion.get(String(i).padStart(2, "0"));
    if (s) body.append(row(s));
  }
  if (byRegion.get("all")) body.append(row(byRegion.get("all")));
  return el("table", { "data-testid": `table-${prog}` }, el("thead", {}, head), body);
}

function headline(s) {
  const box = el("div", { class: "headline" });
  const item = (label, v, k) => el("div", {}, label, el("b", { "data-k": k }, v));
  box.append(
    item(t("province"), `${pct(s.percent)} %`, "percent"),
    item(`${t("target")} ${s.target ? s.target.fiscal_year : ""}`, s.target ? `${pct(s.target.percent)} %` : t("none"), "target"),
    item(t("status"), statusCell(s).textContent, "status"),
    item(t("projection"), projectionCell(s).textContent, "projection"),
  );
  return box;
}

// ---- trend chart ---------------------------------------------------------

const W = 900, H = 260, PAD = { l: 40, r: 12, t: 12, b: 28 };

// The target in force at time ms: that of the fiscal year containing it,
// else the next one ahead, else the last (as the gateway does).
function fyOf(ms) {
  const d = new Date(ms);
  return d.getMonth() >= 3 ? d.getFullYear() : d.getFullYear() - 1;
}
function targetAt(targets, ms) {
  const fy = fyOf(ms);
  const ts = targets.map((x) => ({ fy: parseInt(x.fiscal_year, 10), p: x.percent }));
  const cur = ts.find((x) => x.fy >= fy);
  return cur ? cur.p : (ts.length ? ts[ts.length - 1].p : null);
}
function fyStart(fy) { return new Date(fy, 3, 1).getTime(); }

function svg(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function seriesPoints(hist, live) {
  const pts = (hist || []).filter((p) => p.percent !== null)
    .map((p) => ({ x: Date.parse(p.at), y: p.percent }));
  if (live && live.percent !== null) pts.push({ x: Date.now(), y: live.percent });
  return pts;
}

function chart(prog, sums) {
  const byRegion = new Map(sums.map((s) => [s.region, s]));
  const prov = byRegion.get("all"), reg = byRegion.get(state.region[prog]);
  const h = state.history[prog] || {};
  const a = seriesPoints(h.all, prov), b = seriesPoints(h.region, reg);
  const now = Date.now();
  const span = RANGES[state.range[prog]] * 1000;
  const xs = a.concat(b).map((p) => p.x);
  // "all": from the first record (at least a minute, so that a young
  // history still reads as a line and not as a dot at the right edge)
  let x0 = span ? now - span : Math.min(now - 60e3, ...xs);
  const x1 = now;
  if (!span) x0 -= (x1 - x0) * 0.02;
  const X = (x) => PAD.l + (x - x0) / (x1 - x0) * (W - PAD.l - PAD.r);
  const Y = (y) => H - PAD.b - y / 100 * (H - PAD.t - PAD.b);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "data-testid": `chart-${prog}` });
  root.append(svg("title", {}));
  root.firstChild.textContent = `${prog.toUpperCase()} — ${t("lg_province")} / ${reg ? regionLabel(reg) : ""}`;
  for (let y = 0; y <= 100; y += 20) {
    root.append(svg("line", { class: "gridline", x1: PAD.l, x2: W - PAD.r, y1: Y(y), y2: Y(y) }));
    const lab = svg("text", { x: PAD.l - 4, y: Y(y) + 4, "text-anchor": "end" });
    lab.textContent = `${y} %`;
    root.append(lab);
  }
  root.append(svg("line", { class: "axis", x1: PAD.l, x2: W - PAD.r, y1: Y(0), y2: Y(0) }));
  for (let i = 0; i <= 4; i++) {
    const x = x0 + (x1 - x0) * i / 4;
    const lab = svg("text", { x: X(x), y: H - 8, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" });
    const d = new Date(x);
    lab.textContent = (x1 - x0 <= 2 * 86400e3)
      ? d.toLocaleTimeString(state.lang === "fr" ? "fr-CA" : "en-CA", { hour: "2-digit", minute: "2-digit" })
      : d.toISOString().slice(0, 10);
    root.append(lab);
  }
  if (prov) {
    // targets as steps: one level per fiscal year crossed by the range
    let d = `M${X(x0)},${Y(targetAt(prov.targets, x0))}`;
    for (let fy = fyOf(x0) + 1; fyStart(fy) < x1; fy++) {
      const xb = X(fyStart(fy));
      d += `H${xb}V${Y(targetAt(prov.targets, fyStart(fy)))}`;
    }
    d += `H${X(x1)}`;
    root.append(svg("path", { class: "target", d }));
    root.append(svg("path", { class: "baseline", d: `M${X(x0)},${Y(prov.baseline)}H${X(x1)}` }));
  }
  const line = (pts, cls) => {
    const vis = pts.filter((p) => p.x >= x0);
    const before = pts.filter((p) => p.x < x0).pop();
    if (before) vis.unshift({ x: x0, y: before.y });
    if (!vis.length) return;
    // step line: a value holds until the next record
    let d = `M${X(vis[0].x)},${Y(vis[0].y)}`;
    for (const p of vis.slice(1)) d += `H${X(p.x)}V${Y(p.y)}`;
    root.append(svg("path", { class: cls, d }));
  };
  line(a, "province");
  line(b, "region");
  return root;
}

function chartBox(prog, sums) {
  const box = el("div", { class: "chart" });
  const sel = el("select", { "data-testid": `region-${prog}`, "aria-label": t("chart_region") });
  for (const s of sums.filter((x) => x.region !== "all")) {
    const o = el("option", { value: s.region }, `${s.region} ${s.region_name}`);
    if (s.region === state.region[prog]) o.selected = true;
    sel.append(o);
  }
  sel.addEventListener("change", () => { state.region[prog] = sel.value; loadHistory(prog).then(render); });
  const rng = el("select", { "aria-label": t("range") });
  for (const k of Object.keys(RANGES)) {
    const o = el("option", { value: k }, t(k));
    if (k === state.range[prog]) o.selected = true;
    rng.append(o);
  }
  rng.addEventListener("change", () => { state.range[prog] = rng.value; loadHistory(prog).then(render); });
  box.append(el("div", { class: "controls" }, el("label", {}, `${t("chart_region")} `, sel), el("label", {}, `${t("range")} `, rng)));
  box.append(chart(prog, sums));
  const reg = sums.find((s) => s.region === state.region[prog]);
  box.append(el("div", { class: "legend" },
    el("span", { class: "lg-province" }, t("lg_province")),
    el("span", { class: "lg-region" }, reg ? regionLabel(reg) : ""),
    el("span", { class: "lg-target" }, t("lg_target")),
    el("span", { class: "lg-base" }, t("lg_base"))));
  const prov = sums.find((s) => s.region === "all");
  const p = prov && prov.projection;
  box.append(el("p", { class: "projection", "data-testid": `projection-${prog}` }, p
    ? t("proj_line")(p.due, pct(p.percent), pct(p.target), p.on_track ? `▲ ${t("on_track")}` : `▼ ${t("off_track")}`)
    : t("proj_none")));
  return box;
}

// ---- page ------------------------------------------------------------------

function render() {
  document.documentElement.lang = state.lang;
  document.title = t("title");
  for (const n of document.querySelectorAll("[data-i18n]")) n.textContent = t(n.dataset.i18n);
  document.getElementById("lang").textContent = t("switch_to");
  const live = document.getElementById("live");
  live.textContent = live.classList.contains("on") ? t("live") : t("offline");
  const main = document.getElementById("programs");
  if (!state.data) return;
  const d = state.data;
  document.getElementById("updated").textContent =
    `${t("updated")} : ${new Date(Date.parse(d.ts)).toLocaleString(state.lang === "fr" ? "fr-CA" : "en-CA")} — ${t("fy")} ${d.fiscal_year}`;
  main.replaceChildren();
  for (const prog of PROGRAMS) {
    const sums = d.summaries.filter((s) => s && s.program === prog);
    const prov = sums.find((s) => s.region === "all");
    const sec = el("section", { class: "program", "data-program": prog });
    sec.append(el("h2", {}, t(prog)));
    if (prov) sec.append(headline(prov));
    sec.append(el("div", { class: "grid" }, el("div", { class: "tablewrap" }, table(prog, sums)), chartBox(prog, sums)));
    main.append(sec);
  }
}

async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

async function loadHistory(prog) {
  const span = RANGES[state.range[prog]];
  const from = span ? Math.floor(Date.now() / 1000) - span : 0;
  const q = (region) => `/api/v1/history?program=${prog}&region=${region}&from=${from}&points=400`;
  try {
    const [all, region] = await Promise.all([getJSON(q("all")), getJSON(q(state.region[prog]))]);
    state.history[prog] = { all: all.points, region: region.points };
  } catch (e) { /* the chart keeps its last data */ }
}

async function loadAllHistory() {
  state.histAt = Date.now();
  await Promise.all(PROGRAMS.map(loadHistory));
}

function setLive(on) {
  const live = document.getElementById("live");
  live.classList.toggle("on", on);
  live.classList.toggle("off", !on);
  live.textContent = on ? t("live") : t("offline");
}

function connect() {
  const es = new EventSource("/api/v1/events");
  es.addEventListener("summary", (ev) => {
    state.data = JSON.parse(ev.data);
    setLive(true);
    // the history moves slowly: refetch it at most every 15 s
    if (Date.now() - state.histAt > 15000) loadAllHistory().then(render); else render();
  });
  es.onopen = () => setLive(true);
  es.onerror = () => {
    setLive(false);
    // EventSource reconnects by itself after a network error, but gives
    // up on an HTTP error (503 when the server has all the streams it
    // takes): try again later
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 10000);
  };
}

async function start() {
  document.getElementById("lang").addEventListener("click", () => {
    state.lang = state.lang === "fr" ? "en" : "fr";
    localStorage.setItem("vigie.lang", state.lang);
    render();
  });
  render();
  try { state.data = await getJSON("/api/v1/summary"); } catch (e) { /* the stream will bring it */ }
  await loadAllHistory();
  render();
  connect();
}

start();
