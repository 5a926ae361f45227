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
    met: "atteinte", behind: "en retard",
    short: (n) => `il manque ${n} ${n === "1" ? "unité" : "unités"}`, none: "—", no_data: "aucune donnée",
    on_track: "en voie", off_track: "pas en voie", plan_ended: "plan terminé",
    pace: (w, tgt, by) => `${w} unités/sem. · ${tgt} % ${by}`,
    pace_by: (d) => `vers le ${d}`, pace_never: "jamais à ce rythme", pace_met: "atteinte",
    pace_line: (w, tgt, by) => `Plan terminé : au rythme des 30 derniers jours (${w} unités/semaine), la dernière cible (${tgt} %) ${by}.`,
    pace_line_by: (d) => `serait atteinte vers le ${d}`, pace_line_never: "ne serait jamais atteinte",
    pace_line_met: "est atteinte",
    province: "Ensemble du Québec", fy: "exercice", colon: "\u00a0:",
    target_holds: (fy, due) => `plan terminé le ${due} : la dernière cible (${fy}) s’applique`,
    target_current: (fy) => `cible en vigueur : ${fy}`,
    last_target: "dernière cible",
    map_title: "Carte des 17 régions (schématique) — progrès par rapport à la cible",
    overview: "Vue d’ensemble", sites: "Sites", site: "Site", online: "en ligne", offline_w: "hors ligne",
    never: "jamais vu", last_seen: "Vu la dernière fois", version: "Version", health: "Santé de l’agent",
    outbox: "file", devices: "appareils", unacked: "plus ancien non confirmé",
    faults: "Défauts", unit: "Unité", program: "Programme", since: "Depuis", source: "Source",
    tech: "Technicien", note: "Note", fault: "Défaut", all_states: "tous les états", filter_state: "Filtrer par état",
    pending_work: "Travail restant", pending_title: (w) => `Travail restant (unités non migrées) — ${w}`,
    export_csv: "Exporter en CSV", back: "Retour", loading: "Chargement…", no_units: "Aucune unité.", no_sites: "Aucun site.",
    s_pending: "en attente", s_migrating: "en migration", s_migrated: "migrée", s_retired: "retirée", s_unknown: "inconnu",
    yes_stale: "périmée", fy_label: "Exercice",
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
    met: "met", behind: "behind",
    short: (n) => `${n} ${n === "1" ? "unit" : "units"} short`, none: "—", no_data: "no data",
    on_track: "on track", off_track: "off track", plan_ended: "plan ended",
    pace: (w, tgt, by) => `${w} units/wk · ${tgt} % ${by}`,
    pace_by: (d) => `by ${d}`, pace_never: "never at this pace", pace_met: "met",
    pace_line: (w, tgt, by) => `Plan ended: at the pace of the last 30 days (${w} units/week), the last target (${tgt} %) ${by}.`,
    pace_line_by: (d) => `would be met by ${d}`, pace_line_never: "would never be met",
    pace_line_met: "is met",
    province: "All of Quebec", fy: "fiscal year", colon: ":",
    target_holds: (fy, due) => `plan ended ${due}: the last target (${fy}) holds`,
    target_current: (fy) => `target in force: ${fy}`,
    last_target: "last target",
    map_title: "Map of the 17 regions (schematic) — progress against target",
    overview: "Overview", sites: "Sites", site: "Site", online: "online", offline_w: "offline",
    never: "never seen", last_seen: "Last seen", version: "Version", health: "Agent health",
    outbox: "outbox", devices: "devices", unacked: "oldest unacked",
    faults: "Faults", unit: "Unit", program: "Program", since: "Since", source: "Source",
    tech: "Technician", note: "Note", fault: "Fault", all_states: "all states", filter_state: "Filter by state",
    pending_work: "Pending work", pending_title: (w) => `Pending work (units not migrated) — ${w}`,
    export_csv: "Export CSV", back: "Back", loading: "Loading…", no_units: "No units.", no_sites: "No sites.",
    s_pending: "pending", s_migrating: "migrating", s_migrated: "migrated", s_retired: "retired", s_unknown: "unknown",
    yes_stale: "stale", fy_label: "Fiscal year",
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

const locale = () => (state.lang === "fr" ? "fr-CA" : "en-CA");
function num(v) {
  return new Intl.NumberFormat(locale()).format(v);
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
    td.append(`✖ ${t("behind")} (${t("short")(num(s.target.units_needed))})`);
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

// After the plan there is no due date to project to: the pace (units a
// week, and when the last target falls at that pace) still means something.
function paceWhen(a, prefix) {
  if (a.units_needed === 0) return t(prefix + "met");
  return a.reached_by ? t(prefix + "by")(a.reached_by) : t(prefix + "never");
}

function paceText(a) {
  return t("pace")(num(Math.round(a.units_per_week)), pct(a.target), paceWhen(a, "pace_"));
}

function projectionCell(s) {
  const td = el("td", { "data-k": "projection" });
  const p = s.projection;
  if (s.pace) {
    td.className = s.pace.units_needed === 0 || s.pace.reached_by ? "met" : "behind";
    td.append(paceText(s.pace));
    return td;
  }
  if (!p) { td.append(s.plan_ended ? t("plan_ended") : t("none")); td.className = "na"; return td; }
  td.className = p.on_track ? "met" : "behind";
  td.append(`${p.on_track ? "▲" : "▼"} ${pct(p.percent)} % (${p.on_track ? t("on_track") : t("off_track")})`);
  return td;
}

// Status right after the region: on a phone it is the first thing read.
const COLS = ["region", "status", "percent", "eligible", "migrated", "target", "due", "baseline", "stale", "projection"];
const colLabel = (k) => (k === "target" || k === "baseline" ? `${t(k)} (%)` : t(k));

function row(s) {
  const tr = el("tr", { "data-region": s.region, class: s.region === "all" ? "province" : "" });
  const cell = (k, v) => el("td", { "data-k": k }, v);
  const pc = el("td", { "data-k": "percent" });
  pc.append(progressBar(s), pct(s.percent));
  const name = s.region === "all" ? regionLabel(s)
    : el("a", { href: `#region=${s.region}`, "data-testid": `drill-${s.program}-${s.region}` }, regionLabel(s));
  const cells = {
    region: cell("region", name), status: statusCell(s), percent: pc,
    eligible: cell("eligible", num(s.eligible)), migrated: cell("migrated", num(s.migrated)),
    target: cell("target", s.target ? `${pct(s.target.percent)}` : t("none")),
    due: cell("due", s.target ? s.target.due : t("none")),
    baseline: cell("baseline", pct(s.baseline)), stale: cell("stale", num(s.stale)),
    projection: projectionCell(s),
  };
  // data-label: the column's name, shown beside the value when a phone
  // lays each row out as a card
  for (const k of COLS) { cells[k].dataset.label = colLabel(k); tr.append(cells[k]); }
  return tr;
}

function table(prog, sums) {
  const head = el("tr");
  for (const k of COLS) head.append(el("th", { scope: "col" }, colLabel(k)));
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
    item(`${t("target")} ${s.target ? s.target.fiscal_year : ""}${s.plan_ended ? ` (${t("last_target")})` : ""}`,
      s.target ? `${pct(s.target.percent)} %` : t("none"), "target"),
    item(t("status"), statusCell(s).textContent, "status"),
    item(t("projection"), projectionCell(s).textContent, "projection"),
  );
  return box;
}

// ---- trend chart ---------------------------------------------------------

// The chart is drawn at the width it is shown (at most 900 px), so that
// its 11 px labels stay 11 px on a phone instead of shrinking with it.
let W = 900;
const H = 260, PAD = { l: 40, r: 12, t: 12, b: 28 };
const chartWidth = () => Math.max(300, Math.min(900, document.documentElement.clientWidth - 50));

// The target in force at time ms: that of the fiscal year containing it,
// else the next one ahead, else the last (as the gateway does).
// Fiscal years turn at midnight in Quebec, whatever the viewer's zone.
const QC_YM = new Intl.DateTimeFormat("en-CA",
  { timeZone: "America/Toronto", year: "numeric", month: "numeric" });
function fyOf(ms) {
  const p = Object.fromEntries(QC_YM.formatToParts(new Date(ms))
    .map((x) => [x.type, x.value]));
  const y = parseInt(p.year, 10);
  return parseInt(p.month, 10) >= 4 ? y : y - 1;
}
function targetAt(targets, ms) {
  const fy = fyOf(ms);
  const ts = targets.map((x) => ({ fy: parseInt(x.fiscal_year, 10), p: x.percent }));
  const cur = ts.find((x) => x.fy >= fy);
  return cur ? cur.p : (ts.length ? ts[ts.length - 1].p : null);
}
// April 1, 00:00 in Quebec: always daylight time (UTC-4) by then.
function fyStart(fy) { return Date.UTC(fy, 3, 1, 4); }

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

// Time-axis labels: as precise as the span needs (seconds, minutes,
// days), and a label equal to the one before it is dropped, so that the
// axis never reads "10:05 10:05 10:05".
function tickText(ms, span) {
  const d = new Date(ms);
  if (span > 2 * 86400e3) return d.toISOString().slice(0, 10);
  const o = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (span < 10 * 60e3) o.second = "2-digit";
  return d.toLocaleTimeString(locale(), o);
}
function timeTicks(x0, x1, n) {
  const out = [];
  for (let i = 0; i <= n; i++) {
    const x = x0 + (x1 - x0) * i / n;
    const text = tickText(x, x1 - x0);
    if (out.length && out[out.length - 1].text === text) continue;
    out.push({ x, text, anchor: i === 0 ? "start" : i === n ? "end" : "middle" });
  }
  return out;
}

function chart(prog, sums) {
  W = chartWidth();
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
  for (const tk of timeTicks(x0, x1, W < 600 ? 2 : 4)) {
    const lab = svg("text", { x: X(tk.x), y: H - 8, "text-anchor": tk.anchor });
    lab.textContent = tk.text;
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
  const p = prov && prov.projection, a = prov && prov.pace;
  box.append(el("p", { class: "projection", "data-testid": `projection-${prog}` }, a
    ? t("pace_line")(num(Math.round(a.units_per_week)), pct(a.target), paceWhen(a, "pace_line_"))
    : p
    ? t("proj_line")(p.due, pct(p.percent), pct(p.target), p.on_track ? `▲ ${t("on_track")}` : `▼ ${t("off_track")}`)
    : t("proj_none")));
  return box;
}

// ---- honest header, tile map ---------------------------------------------

// Which target holds and why: once the plan has ended, the last target
// keeps holding, and the header says so instead of showing a fiscal year
// and another year's target side by side without a word.
function fyLine(d) {
  const provs = PROGRAMS.map((p) => d.summaries.find((s) => s && s.program === p && s.region === "all"))
    .filter((s) => s && s.target);
  const parts = [...new Set(provs.map((s) => (s.plan_ended
    ? t("target_holds")(s.target.fiscal_year, s.target.due) : t("target_current")(s.target.fiscal_year))))];
  return `${t("fy_label")} ${d.fiscal_year}${parts.length ? ` — ${parts.join(" ; ")}` : ""}`;
}

// Schematic positions (column, row) of the 17 regions, roughly where they
// lie: north and east up and right.  No map data, only a grid.
const TILES = {
  10: [2, 1], "09": [5, 1], "08": [1, 2], "02": [4, 2], "01": [6, 2], 11: [7, 2],
  "07": [1, 3], 15: [2, 3], 14: [3, 3], "04": [4, 3], "03": [5, 3], 12: [6, 3],
  13: [2, 4], "06": [3, 4], 16: [4, 4], 17: [5, 4], "05": [5, 5],
};

function tileLine(s, prog) {
  const cls = !s ? "na" : noData(s) ? "na" : s.target && s.target.met ? "met" : "behind";
  const line = el("div", { class: `tl ${cls}`, "data-prog": prog });
  line.append(el("span", { class: "tp" }, prog.toUpperCase()),
    el("span", {}, el("span", { "data-k": "percent" }, s ? pct(s.percent) : t("none")), s && s.percent !== null ? " %" : ""),
    el("span", { class: "tst", "data-k": "status" }, s ? statusCell(s).textContent : t("none")));
  return line;
}

function tileMap(d) {
  const box = el("section", { class: "tilemap", "data-testid": "tilemap", "aria-label": t("map_title") });
  box.append(el("h2", {}, t("map_title")));
  const grid = el("div", { class: "tiles" });
  for (const [code, [c, r]] of Object.entries(TILES).sort()) {
    const sums = PROGRAMS.map((p) => d.summaries.find((s) => s && s.program === p && s.region === code));
    const named = sums.find(Boolean);
    const a = el("a", { class: "tile", href: `#region=${code}`, "data-tile": code },
      el("b", {}, `${code} ${named ? named.region_name : ""}`),
      ...PROGRAMS.map((p, i) => tileLine(sums[i], p)));
    a.style.setProperty("--c", c);
    a.style.setProperty("--r", r);
    grid.append(a);
  }
  box.append(grid);
  return box;
}

// ---- drill-down: region → sites → units -----------------------------------

const STATES = ["pending", "migrating", "migrated", "retired", "unknown"];
const STATE_ICON = { pending: "○", migrating: "◐", migrated: "●", retired: "–", unknown: "?" };
const NOT_DONE = new Set(["pending", "migrating", "unknown"]);
const stateWord = (st) => `${STATE_ICON[st] || ""} ${t(`s_${st}`)}`;

// Where the page is, from the URL hash: #region=06[&site=S][&state=X][&pending=1].
// Reload and Back work because the hash is the only place this lives.
function route() {
  const q = new URLSearchParams(location.hash.slice(1));
  const r = q.get("region") || "";
  const n = parseInt(r, 10);
  const st = q.get("state") || "";
  return {
    region: /^\d\d$/.test(r) && n >= 1 && n <= 17 ? r : null,
    site: q.get("site") || null,
    state: STATES.includes(st) ? st : "",
    pending: q.get("pending") === "1",
  };
}
function hashOf(o) {
  const q = new URLSearchParams();
  for (const k of ["region", "site", "state"]) if (o[k]) q.set(k, o[k]);
  if (o.pending) q.set("pending", "1");
  return `#${q}`;
}

// Every page of a units query (1000 at a time).
async function allUnits(query) {
  const out = [];
  let offset = 0;
  while (offset !== null && offset !== undefined) {
    const page = await getJSON(`/api/v1/units?${query}&limit=1000&offset=${offset}`);
    out.push(...page.units);
    offset = page.next_offset;
  }
  return out;
}

// The drill-down's data, refetched when the place changes or after 10 s
// (render runs on every live summary: not a fetch each time).
async function loadDrill(r) {
  const key = `${r.region}|${r.site || ""}`;
  const q = r.site ? `site=${encodeURIComponent(r.site)}&region=${r.region}` : `region=${r.region}`;
  const [sites, units] = await Promise.all([getJSON(`/api/v1/sites?region=${r.region}`), allUnits(q)]);
  state.drill = { key, sites: sites.sites, units, at: Date.now() };
}

function renderDrill(main) {
  const r = route();
  const key = `${r.region}|${r.site || ""}`;
  const dr = state.drill;
  if (!dr || dr.key !== key || Date.now() - dr.at > 10000) {
    if (!state.drillLoading) {
      state.drillLoading = true;
      loadDrill(r).catch(() => {}).finally(() => { state.drillLoading = false; render(); });
    }
    if (!dr || dr.key !== key) { main.replaceChildren(el("p", { "data-testid": "loading" }, t("loading"))); return; }
  }
  const sec = el("section", { class: "drill", "data-testid": "drill" });
  sec.append(crumbs(r));
  if (r.pending) sec.append(pendingView(r, state.drill.units));
  else if (r.site) sec.append(siteView(r, state.drill.units));
  else sec.append(regionSummary(r.region), sitesTable(r, state.drill.sites, state.drill.units));
  main.replaceChildren(sec);
}

function regionName(code) {
  const s = state.data && state.data.summaries.find((x) => x && x.region === code);
  return s ? `${code} ${s.region_name}` : code;
}

function crumbs(r) {
  const nav = el("nav", { class: "crumbs", "data-testid": "crumbs" },
    el("a", { href: "#" }, `← ${t("overview")}`), " / ",
    el("a", { href: hashOf({ region: r.region }) }, regionName(r.region)));
  if (r.site) nav.append(" / ", el("a", { href: hashOf({ region: r.region, site: r.site }) }, r.site));
  if (!r.pending) {
    nav.append(" · ", el("a", { href: hashOf({ region: r.region, site: r.site, pending: true }),
      "data-testid": "pending-link" }, t("pending_work")));
  }
  return nav;
}

function regionSummary(code) {
  const sums = state.data.summaries.filter((s) => s && s.region === code);
  const body = el("tbody");
  for (const s of sums) {
    const tr = row(s);
    tr.firstChild.textContent = s.program.toUpperCase();
    body.append(tr);
  }
  const head = el("tr");
  for (const k of COLS) head.append(el("th", { scope: "col" }, k === "region" ? t("program") : colLabel(k)));
  return el("div", { class: "tablewrap" }, el("h2", {}, regionName(code)),
    el("table", { class: "cards", "data-testid": "region-summary" }, el("thead", {}, head), body));
}

function presence(s) {
  if (s.online === true) return { cls: "met", text: `● ${t("online")}` };
  if (s.online === false) return { cls: "behind", text: `○ ${t("offline_w")}` };
  return { cls: "na", text: `? ${t("never")}` };
}
function when(iso) {
  return iso ? new Date(Date.parse(iso)).toLocaleString(locale(), { dateStyle: "short", timeStyle: "short" }) : t("none");
}
function healthText(h) {
  if (!h || Object.values(h).every((x) => x === null)) return t("none");
  const v = (x) => (x === null || x === undefined ? t("none") : num(x));
  return `${t("outbox")} ${v(h.outbox)} · ${t("devices")} ${v(h.devices_ok)}✔/${v(h.devices_failing)}✖ · ${t("unacked")} ${v(h.oldest_unacked_s)} s`;
}

// One table, its cells labelled for the phone's card layout.
function dataTable(testid, cols, rows) {
  const head = el("tr");
  for (const [, label] of cols) head.append(el("th", { scope: "col" }, label));
  const body = el("tbody");
  for (const r of rows) {
    const tr = el("tr", r.attrs || {});
    for (const [k, label] of cols) {
      const v = r[k];
      const td = el("td", { "data-k": k, "data-label": label });
      if (v && typeof v === "object" && v.node) td.append(v.node); else td.append(v === undefined ? "" : v);
      if (v && v.cls) td.className = v.cls;
      tr.append(td);
    }
    body.append(tr);
  }
  return el("div", { class: "tablewrap" },
    el("table", { class: "cards", "data-testid": testid }, el("thead", {}, head), body));
}

function sitesTable(r, sites, units) {
  const per = new Map(sites.map((s) => [s.site, { stale: 0, ...Object.fromEntries(STATES.map((k) => [k, 0])) }]));
  for (const u of units) {
    if (!per.has(u.site)) per.set(u.site, { stale: 0, ...Object.fromEntries(STATES.map((k) => [k, 0])) });
    per.get(u.site)[u.state]++;
    if (u.stale) per.get(u.site).stale++;
  }
  const bySite = new Map(sites.map((s) => [s.site, s]));
  const cols = [["site", t("site")], ["online", t("status")], ["last_seen", t("last_seen")],
    ["version", t("version")], ["health", t("health")],
    ...STATES.map((k) => [k, t(`s_${k}`)]), ["stale", t("stale")], ["faults", t("faults")]];
  const rows = [...per.keys()].sort().map((id) => {
    const s = bySite.get(id) || { site: id, online: null };
    const p = presence(s);
    const c = per.get(id);
    const f = s.faulted ? s.faulted.renir + s.faulted.rgt : 0;
    return {
      attrs: { "data-site": id },
      site: { node: el("a", { href: hashOf({ region: r.region, site: id }) }, id) },
      online: { node: p.text, cls: p.cls }, last_seen: when(s.last_seen),
      version: s.version || t("none"), health: healthText(s.health),
      ...Object.fromEntries(STATES.map((k) => [k, num(c[k])])),
      stale: num(c.stale), faults: f ? { node: `⚠ ${num(f)}`, cls: "behind" } : num(0),
    };
  });
  const box = el("div", {}, el("h2", {}, t("sites")));
  box.append(rows.length ? dataTable("sites", cols, rows) : el("p", {}, t("no_sites")));
  return box;
}

function unitRows(units) {
  return units.map((u) => ({
    attrs: { "data-unit": `${u.program}/${u.site}/${u.unit}` },
    program: u.program.toUpperCase(), site: u.site, unit: u.unit,
    state: { node: stateWord(u.state), cls: u.state === "migrated" ? "met" : NOT_DONE.has(u.state) ? "behind" : "na" },
    since: u.since ? when(u.since) : t("none"), source: u.source || t("none"),
    tech: u.tech || t("none"), note: u.note || "",
    fault: u.fault ? { node: `⚠ ${u.fault}`, cls: "behind" } : "",
    stale: u.stale ? `⌛ ${t("yes_stale")}` : "",
  }));
}
const UNIT_COLS = () => [["program", t("program")], ["unit", t("unit")], ["state", t("status")],
  ["since", t("since")], ["source", t("source")], ["tech", t("tech")], ["note", t("note")],
  ["fault", t("fault")], ["stale", t("stale")]];

function siteView(r, units) {
  const sel = el("select", { "data-testid": "state-filter", "aria-label": t("filter_state") });
  for (const k of ["", ...STATES]) {
    const o = el("option", { value: k }, k ? stateWord(k) : t("all_states"));
    if (k === r.state) o.selected = true;
    sel.append(o);
  }
  // the filter is part of the place: it goes into the URL (Back undoes it)
  sel.addEventListener("change", () => { location.hash = hashOf({ ...r, state: sel.value }); });
  const shown = units.filter((u) => !r.state || u.state === r.state);
  const box = el("div", {}, el("h2", {}, `${t("site")} ${r.site}`),
    el("label", { class: "filter" }, `${t("filter_state")} `, sel));
  box.append(shown.length ? dataTable("units", UNIT_COLS(), unitRows(shown)) : el("p", {}, t("no_units")));
  return box;
}

// CSV of the pending work, made here from the API's units: quoted
// fields, and a leading ' before = + - @ so a spreadsheet never runs one.
function csvOf(units) {
  const cols = ["program", "region", "site", "unit", "state", "since", "source", "tech", "note", "fault"];
  const q = (v) => {
    let s = v === undefined || v === null ? "" : String(v);
    if (/^[=+\-@]/.test(s)) s = `'${s}`;
    return `"${s.replace(/"/g, '""')}"`;
  };
  return [cols.join(","), ...units.map((u) => cols.map((k) => q(u[k])).join(","))].join("\r\n") + "\r\n";
}

function pendingView(r, units) {
  const todo = units.filter((u) => NOT_DONE.has(u.state));
  const where = r.site ? `${regionName(r.region)} / ${r.site}` : regionName(r.region);
  const btn = el("a", { class: "button", "data-testid": "csv", download: `vigie-pending-${r.region}${r.site ? `-${r.site}` : ""}.csv` },
    `⬇ ${t("export_csv")} (${num(todo.length)})`);
  // one object URL at a time: the view is redrawn on every live update
  if (state.csvUrl) URL.revokeObjectURL(state.csvUrl);
  state.csvUrl = URL.createObjectURL(new Blob([csvOf(todo)], { type: "text/csv;charset=utf-8" }));
  btn.href = state.csvUrl;
  const cols = UNIT_COLS();
  cols.splice(1, 0, ["site", t("site")]);
  const box = el("div", {}, el("h2", {}, t("pending_title")(where)), btn);
  box.append(todo.length ? dataTable("pending", cols, unitRows(todo)) : el("p", {}, t("no_units")));
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
    `${t("updated")}${t("colon")} ${new Date(Date.parse(d.ts)).toLocaleString(locale())}`;
  document.getElementById("fyline").textContent = fyLine(d);
  if (route().region) { renderDrill(main); return; }
  main.replaceChildren(tileMap(d));
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
  window.addEventListener("hashchange", () => { window.scrollTo(0, 0); render(); });
  // the chart is drawn at the page's width: redraw when it changes
  let lastW = document.documentElement.clientWidth;
  window.addEventListener("resize", () => {
    if (document.documentElement.clientWidth !== lastW) { lastW = document.documentElement.clientWidth; render(); }
  });
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
