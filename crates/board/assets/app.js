// Tuna board: the page. Plain JavaScript, no build step; charts with uPlot (embedded).
// Routes (in the URL's hash): #/ runs, #/run/<id>, #/compare/<id>,<id>..., #/study/<id>.
"use strict";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
  "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const board = { charts: {}, loads: 0, page: null, events: null, data: null };
window.tunaBoard = board;

const $ = (sel, el = document) => el.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const enc = encodeURIComponent;

function fmt(v, key = "") {
  if (v === null || v === undefined || (typeof v === "number" && !isFinite(v))) return "–";
  if (typeof v !== "number") return String(v);
  if (/accuracy|f1|precision|recall/.test(key) && v >= 0 && v <= 1) return (100 * v).toFixed(2) + "%";
  if (key === "lr" || (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5))) return v.toExponential(2);
  if (Number.isInteger(v)) return String(v);
  return v.toPrecision(4);
}
function seconds(s) {
  if (!isFinite(s)) return "–";
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
  return (s / 3600).toFixed(1) + " h";
}
function badge(text, cls) { return `<span class="badge ${cls}">${esc(text)}</span>`; }

async function api(path) {
  const r = await fetch(path, { cache: "no-store" });
  let body = null;
  try { body = await r.json(); } catch (e) { body = { error: r.statusText }; }
  if (!r.ok) throw new Error(body && body.error ? body.error : r.statusText);
  return body;
}

function banner(msg) {
  const b = $("#banner");
  b.hidden = !msg;
  b.textContent = msg || "";
}

// ---- live updates -------------------------------------------------------------------
function live(params, onChange) {
  if (board.events) board.events.close();
  const ind = $("#live");
  const es = new EventSource("/api/events?" + params);
  board.events = es;
  let busy = false, again = false;
  const run = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try { await onChange(); banner(""); } catch (e) { banner("Update failed: " + e.message); }
    busy = false;
    if (again) { again = false; run(); }
  };
  es.addEventListener("ready", () => { ind.className = "live on"; ind.title = "live updates: on"; });
  es.addEventListener("change", run);
  es.onerror = () => { ind.className = "live off"; ind.title = "live updates: reconnecting"; };
}

// ---- charts ---------------------------------------------------------------------------
function smooth(values, w) {
  if (!w) return values;
  let last = 0, n = 0;
  return values.map((v) => {
    if (v === null || !isFinite(v)) return v;
    last = last * w + (1 - w) * v; n += 1;
    return last / (1 - Math.pow(w, n));
  });
}

// Draws (or updates in place) the chart `key` inside `el`.
// spec: {title, x, xLabel, yLabel, logX, logY, series: [{label, values, color, dash, points, line}], xAxis}
function chart(el, key, spec) {
  const clean = (vals) => vals.map((v) => (v === null || !isFinite(v) || (spec.logY && v <= 0)) ? null : v);
  const data = [spec.x, ...spec.series.map((s) => clean(s.values))];
  const old = board.charts[key];
  const sig = JSON.stringify(spec.series.map((s) => [s.label, s.color, !!s.line])) + spec.logY + spec.logX;
  if (old && old.__sig === sig && document.body.contains(old.root)) {
    old.setData(data, true);
    return old;
  }
  if (old) old.destroy();
  el.innerHTML = "";
  const width = Math.max(320, el.clientWidth - 16);
  const opts = {
    title: spec.title, width, height: spec.height || 250,
    scales: { x: { time: false, distr: spec.logX ? 3 : 1 }, y: { distr: spec.logY ? 3 : 1 } },
    axes: [
      Object.assign({ label: spec.xLabel || "epoch", labelSize: 20, size: 40 }, spec.xAxis || {}),
      { label: spec.yLabel || "", labelSize: 20, size: 62,
        values: (u, splits) => splits.map((v) => fmt(v, spec.yKey || "")) },
    ],
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
    series: [{ label: spec.xLabel || "epoch", value: (u, v) => v == null ? "–" : fmt(v) }].concat(
      spec.series.map((s) => ({
        label: s.label, stroke: s.color, width: s.width || 2, dash: s.dash, spanGaps: true,
        value: (u, v) => fmt(v, s.label),
        paths: s.line === false ? () => null : undefined,
        points: s.line === false ? { show: true, size: s.size || 7, fill: s.color, stroke: s.color }
          : s.markAt !== undefined ? { show: true, size: 10, width: 2, fill: "#d62728", stroke: "#d62728", filter: () => [s.markAt] }
          : { show: !!s.points, size: 5 },
      }))),
  };
  if (spec.xRange) opts.scales.x.range = () => spec.xRange;
  const u = new uPlot(opts, data, el);
  u.__sig = sig;
  board.charts[key] = u;
  return u;
}

function resetCharts() {
  for (const k of Object.keys(board.charts)) board.charts[k].destroy();
  board.charts = {};
}

// ---- routing --------------------------------------------------------------------------
function route() {
  const raw = location.hash.replace(/^#\/?/, "");
  if (board.events) { board.events.close(); board.events = null; }
  resetCharts();
  banner("");
  board.loads += 1;
  const main = $("#main");
  main.innerHTML = '<p class="muted">Loading…</p>';
  const [page, ...rest] = raw.split("/");
  const arg = rest.join("/");
  if (page === "run" && arg) return runPage(main, decodeURIComponent(arg));
  if (page === "compare" && arg) return comparePage(main, arg.split(",").map(decodeURIComponent));
  if (page === "study" && arg) return studyPage(main, decodeURIComponent(arg));
  return runsPage(main);
}
window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);

function crumbs(html) { $("#crumbs").innerHTML = html; }

// ---- the runs page --------------------------------------------------------------------
const runsState = { sort: null, desc: false, filter: "", selected: new Set() };

function metricColumns(metrics) {
  const val = metrics.filter((m) => m.startsWith("val_"));
  const base = val.length ? val : metrics.filter((m) => m.startsWith("train_"));
  return base.filter((m) => m !== "lr" && m !== "seconds");
}

function runsColumns(d) {
  const cols = [
    { key: "sel", label: "", get: () => null, html: (r) => `<input type="checkbox" data-id="${esc(r.id)}"${runsState.selected.has(r.id) ? " checked" : ""}>` },
    { key: "name", label: "run", get: (r) => r.id, html: (r) => `<a href="#/run/${enc(r.id)}">${esc(r.id)}</a>${r.name !== r.id && !r.id.endsWith(r.name) ? ` <span class="muted">${esc(r.name)}</span>` : ""}` },
    { key: "state", label: "state", get: (r) => r.state, html: (r) => badge(r.state, "s-" + r.state) },
    { key: "epochs", label: "epochs", num: true, get: (r) => r.epochs, html: (r) => `${r.epochs}${r.epochs_planned ? `<span class="muted">/${r.epochs_planned}</span>` : ""}` },
    { key: "wall", label: "wall time", num: true, get: (r) => r.wall_seconds, html: (r) => seconds(r.wall_seconds) },
  ];
  for (const m of metricColumns(d.metrics)) {
    cols.push({ key: "best:" + m, label: "best " + m, title: "at the best epoch (by each run's monitor)", num: true, get: (r) => r.best[m], html: (r) => fmt(r.best[m], m) });
    cols.push({ key: "last:" + m, label: "final " + m, num: true, get: (r) => r.last[m], html: (r) => fmt(r.last[m], m) });
  }
  for (const p of d.differing) {
    cols.push({ key: "p:" + p, label: p.replace(/^.*\.(?=[^.]*\.[^.]*$)/, "…"), title: p, num: false,
      get: (r) => r.params[p], html: (r) => esc(fmtParam(r.params[p])) });
  }
  cols.push({ key: "diag", label: "diagnosis", get: (r) => r.diagnosis ? r.diagnosis.id : "",
    html: (r) => r.diagnosis ? `<span class="diag" title="${esc(r.diagnosis.title)}">${badge(r.diagnosis.id, "sev-" + r.diagnosis.severity)} ${esc(r.diagnosis.title)}</span>` : "" });
  return cols;
}
function fmtParam(v) {
  if (v === undefined) return "–";
  if (typeof v === "number") return fmt(v);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function compareValues(a, b) {
  const na = a === undefined || a === null, nb = b === undefined || b === null;
  if (na || nb) return na === nb ? 0 : na ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

async function runsPage(main) {
  crumbs("runs");
  const render = async () => {
    const d = await api("/api/runs");
    board.data = d;
    drawRuns(main, d);
  };
  try { await render(); } catch (e) { main.innerHTML = `<p class="warn">${esc(e.message)}</p>`; }
  live("watch=runs", render);
}

function drawRuns(main, d) {
  const cols = runsColumns(d);
  if (!$("#runs-table", main)) {
    main.innerHTML = `
      <div id="studies"></div>
      <h1>Runs <span class="muted" id="runs-count"></span></h1>
      <div class="toolbar">
        <input type="search" id="filter" placeholder="filter: words in name, state, diagnosis or hyperparameters" value="${esc(runsState.filter)}">
        <button id="compare" disabled>Compare selected</button>
        <span class="muted" id="folders"></span>
      </div>
      <div class="tablewrap"><table class="data" id="runs-table"><thead></thead><tbody></tbody></table></div>`;
    $("#filter", main).addEventListener("input", (e) => { runsState.filter = e.target.value; applyFilter(main); });
    $("#compare", main).addEventListener("click", () => {
      location.hash = "#/compare/" + [...runsState.selected].map(enc).join(",");
    });
    $("#runs-table", main).addEventListener("change", (e) => {
      const id = e.target.dataset.id;
      if (!id) return;
      if (e.target.checked) runsState.selected.add(id); else runsState.selected.delete(id);
      $("#compare", main).disabled = runsState.selected.size < 2;
    });
    $("#runs-table thead", main).addEventListener("click", (e) => {
      const th = e.target.closest("th");
      if (!th || !th.dataset.key || th.dataset.key === "sel") return;
      if (runsState.sort === th.dataset.key) runsState.desc = !runsState.desc;
      else { runsState.sort = th.dataset.key; runsState.desc = false; }
      drawRuns(main, board.data);
    });
  }
  $("#folders", main).textContent = "from " + d.folders.join(", ");
  drawStudies($("#studies", main), d.studies);
  $("#runs-table thead", main).innerHTML = "<tr>" + cols.map((c) =>
    `<th data-key="${esc(c.key)}" title="${esc(c.title || c.label)}" class="${runsState.sort === c.key ? "sorted" + (runsState.desc ? " desc" : "") : ""}">${esc(c.label)}</th>`).join("") + "</tr>";
  let rows = d.runs.slice();
  const col = cols.find((c) => c.key === runsState.sort);
  if (col) {
    rows.sort((a, b) => compareValues(col.get(a), col.get(b)));
    if (runsState.desc) rows.reverse();
  }
  const body = rows.map((r) => `<tr data-text="${esc(rowText(r))}">` + cols.map((c) =>
    `<td class="${c.num ? "num" : ""}">${c.html(r)}</td>`).join("") + "</tr>").join("");
  $("#runs-table tbody", main).innerHTML = body ||
    `<tr><td colspan="${cols.length}" class="muted">No runs here yet: train one with <code>tuna train EXPERIMENT --out ${esc(d.folders[0] || "runs")}/NAME</code>.</td></tr>`;
  $("#compare", main).disabled = runsState.selected.size < 2;
  applyFilter(main);
}

function rowText(r) {
  return [r.id, r.name, r.state, r.diagnosis ? r.diagnosis.id + " " + r.diagnosis.title : "",
    ...Object.entries(r.params).map(([k, v]) => k + "=" + fmtParam(v))].join(" ").toLowerCase();
}

function applyFilter(main) {
  const terms = runsState.filter.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0, total = 0;
  for (const tr of main.querySelectorAll("#runs-table tbody tr[data-text]")) {
    total += 1;
    const ok = terms.every((t) => tr.dataset.text.includes(t));
    tr.hidden = !ok;
    if (ok) shown += 1;
  }
  $("#runs-count", main).textContent = terms.length ? `(${shown} of ${total})` : `(${total})`;
}

function drawStudies(el, studies) {
  if (!studies.length) { el.innerHTML = ""; return; }
  el.innerHTML = `<h1>Studies</h1><div class="tablewrap"><table class="data" id="studies-table"><thead><tr>
    <th>study</th><th>objective</th><th>complete</th><th>pruned</th><th>failed</th><th>running</th><th>best</th></tr></thead><tbody>` +
    studies.map((s) => s.error
      ? `<tr><td>${esc(s.id)}</td><td colspan="6" class="warn">${esc(s.error)}</td></tr>`
      : `<tr><td><a href="#/study/${enc(s.id)}">${esc(s.id)}</a> <span class="muted">${esc(s.name)}</span></td>
        <td>${esc(s.metric)} (${esc(s.direction)})</td><td class="num">${s.counts.complete}</td><td class="num">${s.counts.pruned}</td>
        <td class="num">${s.counts.failed}</td><td class="num">${s.counts.running}</td>
        <td>${s.best ? `${fmt(s.best.value, s.metric)} <span class="muted">trial ${s.best.number}</span>` : "–"}</td></tr>`).join("") +
    "</tbody></table></div>";
}

// ---- one run ---------------------------------------------------------------------------
const runState = { smoothing: 0 };

function groupCurves(series) {
  // loss first, then each metric, then lr and seconds
  const groups = {};
  for (const k of Object.keys(series)) {
    const m = k.match(/^(train|val|test)_(.+)$/);
    const g = m ? m[2] : k;
    (groups[g] = groups[g] || []).push(k);
  }
  const order = Object.keys(groups).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return order.map((g) => [g, groups[g].sort()]);
  function rank(g) { return g === "loss" ? 0 : g === "lr" ? 2 : g === "seconds" ? 3 : 1; }
}

function curveCharts(container, curves, keyPrefix, w) {
  const groups = groupCurves(curves.series);
  if (!container.dataset.groups || container.dataset.groups !== groups.map((g) => g[0]).join()) {
    container.innerHTML = groups.map(([g]) => `<div class="chart" id="${keyPrefix}-${esc(g)}"></div>`).join("");
    container.dataset.groups = groups.map((g) => g[0]).join();
  }
  for (const [g, keys] of groups) {
    const isLr = g === "lr", isSec = g === "seconds";
    const series = [];
    keys.forEach((k, i) => {
      const color = k.startsWith("val_") ? PALETTE[1] : k.startsWith("test_") ? PALETTE[2] : PALETTE[0];
      const vals = curves.series[k];
      if (w && !isLr) {
        series.push({ label: k + " (raw)", values: vals, color: color + "55", width: 1 });
        series.push({ label: k, values: smooth(vals, w), color });
      } else series.push({ label: k, values: vals, color: keys.length > 1 ? color : PALETTE[i] });
    });
    chart(document.getElementById(`${keyPrefix}-${g}`), `${keyPrefix}-${g}`, {
      title: isLr ? "learning rate" : isSec ? "seconds per epoch" : g, x: curves.x, series,
      logY: isLr, yLabel: isLr ? "lr" : isSec ? "seconds" : g, yKey: g,
    });
  }
}

async function runPage(main, id) {
  crumbs(`<a href="#/">runs</a> / ${esc(id)}`);
  main.innerHTML = `<div id="run-head"></div>
    <div class="toolbar controls"><label>smoothing <input type="range" id="smoothing" min="0" max="0.99" step="0.01" value="${runState.smoothing}">
      <span id="smoothing-value">${runState.smoothing}</span></label><span class="muted" id="downsampled"></span></div>
    <div class="grid" id="curves"></div>
    <h2>Diagnosis</h2><div id="diagnosis"></div>
    <h2>Gradients and updates per layer</h2><div class="grid" id="signals"></div>
    <div id="confusion"></div>
    <h2>Resolved config</h2><pre class="config" id="config"></pre>`;
  let d = null;
  const draw = () => {
    const w = Number(runState.smoothing);
    curveCharts($("#curves", main), d.curves, "curve", w);
    const c = d.curves;
    $("#downsampled", main).textContent = c.shown < c.total ? `showing ${c.shown} of ${c.total} epochs (min/max kept per bucket)` : "";
  };
  $("#smoothing", main).addEventListener("input", (e) => {
    runState.smoothing = e.target.value;
    $("#smoothing-value", main).textContent = e.target.value;
    if (d) draw();
  });
  const render = async () => {
    d = await api("/api/run?id=" + enc(id));
    board.data = d;
    runHead($("#run-head", main), d);
    draw();
    drawDiagnosis($("#diagnosis", main), d.diagnosis);
    drawSignals($("#signals", main), d.signals);
    drawConfusion($("#confusion", main), d.confusion);
    $("#config", main).textContent = d.config || "(config.toml could not be read)";
  };
  try { await render(); } catch (e) { main.innerHTML = `<p class="warn">${esc(e.message)}</p>`; return; }
  live("watch=run&id=" + enc(id), render);
}

function runHead(el, d) {
  const r = d.row;
  const test = d.summary ? Object.entries(d.summary.test || {}) : [];
  el.innerHTML = `<h1>${esc(r.name)} ${badge(r.state, "s-" + r.state)}</h1>
    <div class="muted">${esc(d.path)}</div>
    <div class="facts">
      <div><b>epochs</b><span id="epochs">${r.epochs}${r.epochs_planned ? " / " + r.epochs_planned : ""}</span></div>
      <div><b>wall time</b>${seconds(r.wall_seconds)}</div>
      <div><b>best epoch</b>${r.best_epoch ?? "–"} <span class="muted">by ${esc(r.monitor)}</span></div>
      <div><b>best ${esc(r.monitor)}</b>${fmt(r.best[r.monitor], r.monitor)}</div>
      ${test.map(([k, v]) => `<div><b>${esc(k)}</b>${fmt(v, k)}</div>`).join("")}
      ${d.summary && d.summary.stopped_early ? `<div><b>stopped early</b>${esc(d.summary.stopped_early)}</div>` : ""}
    </div>
    ${d.failure ? `<div class="card finding severe"><b>Failed:</b> ${esc(d.failure)}</div>` : ""}
    ${r.warnings.length ? `<div class="card warn">${r.warnings.map(esc).join("<br>")}</div>` : ""}`;
}

function drawDiagnosis(el, diag) {
  el.innerHTML = diag.findings.map((f) => `<div class="card finding ${esc(f.severity)}">
    ${badge(f.severity, "sev-" + f.severity)} <b>${esc(f.id)}</b>: ${esc(f.title)}
    ${f.evidence.length ? `<ul>${f.evidence.map((e) => `<li>${esc(e)}</li>`).join("")}</ul>` : ""}
    ${f.recommendations.length ? `<ul class="try">${f.recommendations.map((e) => `<li>try: ${esc(e)}</li>`).join("")}</ul>` : ""}
  </div>`).join("");
}

function drawSignals(el, s) {
  const names = Object.keys(s.params);
  if (!s.x.length || !names.length) {
    el.innerHTML = '<p class="muted">No signals recorded (signals.jsonl is empty or absent).</p>';
    return;
  }
  if (!el.children.length) {
    el.innerHTML = ["grad", "ratio", "dead", "timing"].map((k) => `<div class="chart" id="sig-${k}"></div>`).join("");
  }
  const per = (field) => names.map((n, i) => ({ label: n, values: s.params[n][field], color: PALETTE[i % PALETTE.length] }));
  chart($("#sig-grad", el), "sig-grad", { title: "gradient norm per parameter", x: s.x, series: per("grad_norm"), logY: true, yLabel: "‖grad‖" });
  chart($("#sig-ratio", el), "sig-ratio", { title: "update / weight ratio per parameter", x: s.x, series: per("update_ratio"), logY: true, yLabel: "‖Δw‖ / ‖w‖" });
  const dead = Object.keys(s.dead_units);
  if (dead.length) {
    chart($("#sig-dead", el), "sig-dead", { title: "dead units (share of the layer)", x: s.x,
      series: dead.map((n, i) => ({ label: n, values: s.dead_units[n], color: PALETTE[i % PALETTE.length] })), yLabel: "share" });
  } else $("#sig-dead", el).innerHTML = '<p class="muted">No activation layers probed for dead units.</p>';
  chart($("#sig-timing", el), "sig-timing", { title: "where each epoch's time went", x: s.x,
    series: Object.keys(s.timing).map((n, i) => ({ label: n, values: s.timing[n], color: PALETTE[i] })), yLabel: "seconds" });
}

function drawConfusion(el, cm) {
  if (!cm) { el.innerHTML = ""; return; }
  const max = Math.max(1, ...cm.matrix.map((r) => Math.max(...r)));
  el.innerHTML = `<h2>Confusion matrix <span class="muted">(test split; rows: true class, columns: predicted)</span></h2>
    <div class="card"><table class="cm"><tr><th></th>${cm.classes.map((c) => `<th>${esc(c)}</th>`).join("")}</tr>` +
    cm.matrix.map((row, i) => `<tr><th>${esc(cm.classes[i])}</th>` + row.map((v, j) => {
      const a = v / max;
      const bg = i === j ? `rgba(42,157,63,${0.12 + 0.8 * a})` : v ? `rgba(200,50,45,${0.12 + 0.8 * a})` : "#f4f5f8";
      return `<td style="background:${bg};color:${a > 0.55 ? "#fff" : "#222"}">${v}</td>`;
    }).join("") + "</tr>").join("") + "</table></div>";
}

// ---- compare ---------------------------------------------------------------------------
const compareState = { key: null, smoothing: 0 };

async function comparePage(main, ids) {
  crumbs(`<a href="#/">runs</a> / compare ${ids.length} runs`);
  main.innerHTML = `<h1>Compare ${ids.length} runs</h1>
    <div class="toolbar controls"><label>curve <select id="metric"></select></label>
    <label>smoothing <input type="range" id="smoothing" min="0" max="0.99" step="0.01" value="${compareState.smoothing}"></label></div>
    <div class="chart" id="overlay"></div>
    <h2>Summary and config differences</h2><div class="tablewrap"><table class="data" id="diff"></table></div>`;
  let d = null;
  const draw = () => {
    const keys = [...new Set(d.runs.flatMap((r) => Object.keys(r.curves.series)))].sort();
    const sel = $("#metric", main);
    if (!compareState.key || !keys.includes(compareState.key)) compareState.key = keys.includes("val_loss") ? "val_loss" : keys[0];
    sel.innerHTML = keys.map((k) => `<option${k === compareState.key ? " selected" : ""}>${esc(k)}</option>`).join("");
    const xs = [...new Set(d.runs.flatMap((r) => r.curves.x))].sort((a, b) => a - b);
    const series = d.runs.map((r, i) => {
      const at = new Map(r.curves.x.map((x, j) => [x, (r.curves.series[compareState.key] || [])[j]]));
      return { label: r.id, values: smooth(xs.map((x) => at.get(x) ?? null), Number(compareState.smoothing)), color: PALETTE[i % PALETTE.length] };
    });
    chart($("#overlay", main), "overlay", { title: compareState.key, x: xs, series, logY: compareState.key === "lr", yLabel: compareState.key, yKey: compareState.key, height: 340 });
    const rows = d.rows;
    const line = (label, f) => `<tr><th>${esc(label)}</th>${rows.map((r) => `<td>${f(r)}</td>`).join("")}</tr>`;
    $("#diff", main).innerHTML = `<tr><th></th>${rows.map((r, i) => `<th style="color:${PALETTE[i % PALETTE.length]}"><a href="#/run/${enc(r.id)}">${esc(r.id)}</a></th>`).join("")}</tr>` +
      line("state", (r) => badge(r.state, "s-" + r.state)) + line("epochs", (r) => r.epochs) +
      line("wall time", (r) => seconds(r.wall_seconds)) +
      line("best " + (rows[0] ? rows[0].monitor : ""), (r) => fmt(r.best[r.monitor], r.monitor)) +
      line("diagnosis", (r) => r.diagnosis ? badge(r.diagnosis.id, "sev-" + r.diagnosis.severity) : "") +
      (d.differing.length ? d.differing.map((p) => line(p, (r) => esc(fmtParam(r.params[p])))).join("")
        : `<tr><td colspan="${rows.length + 1}" class="muted">The configs are the same.</td></tr>`);
  };
  $("#metric", main).addEventListener("change", (e) => { compareState.key = e.target.value; draw(); });
  $("#smoothing", main).addEventListener("input", (e) => { compareState.smoothing = e.target.value; draw(); });
  try {
    d = await api("/api/compare?" + ids.map((i) => "id=" + enc(i)).join("&"));
    board.data = d;
    draw();
  } catch (e) { main.innerHTML = `<p class="warn">${esc(e.message)}</p>`; return; }
  live("watch=runs", async () => { d = await api("/api/compare?" + ids.map((i) => "id=" + enc(i)).join("&")); draw(); });
}

// ---- a study ---------------------------------------------------------------------------
const studyState = { sort: "number", desc: false };

async function studyPage(main, id) {
  crumbs(`<a href="#/">runs</a> / study ${esc(id)}`);
  main.innerHTML = `<div id="study-head"></div>
    <div class="grid">
      <div class="chart" id="history"></div><div class="chart" id="intermediate"></div>
      <div class="chart" id="importances"></div><div class="chart" id="parallel"></div>
    </div>
    <h2>Slices: the objective against each parameter</h2><div class="grid" id="slices"></div>
    <h2>Trials</h2><div class="tablewrap"><table class="data" id="trials"></table></div>`;
  $("#trials", main).addEventListener("click", (e) => {
    const th = e.target.closest("th");
    if (!th || !th.dataset.key) return;
    if (studyState.sort === th.dataset.key) studyState.desc = !studyState.desc;
    else { studyState.sort = th.dataset.key; studyState.desc = false; }
    drawTrials($("#trials", main), board.data);
  });
  const render = async () => {
    const s = await api("/api/study?id=" + enc(id));
    board.data = s;
    drawStudy(main, s);
  };
  try { await render(); } catch (e) { main.innerHTML = `<p class="warn">${esc(e.message)}</p>`; return; }
  live("watch=study&id=" + enc(id), render);
}

function drawStudy(main, s) {
  const c = s.counts;
  const best = s.trials.find((t) => t.number === s.best);
  $("#study-head", main).innerHTML = `<h1>Study ${esc(s.name)}</h1>
    <div class="muted">trials in ${esc(s.storage)}</div>
    <div class="facts"><div><b>objective</b>${esc(s.metric)} (${esc(s.direction)})</div>
      <div><b>trials</b><span id="trial-count">${s.trials.length}</span></div>
      <div><b>complete</b>${c.complete}</div><div><b>pruned</b>${c.pruned}</div><div><b>failed</b>${c.failed}</div><div><b>running</b>${c.running}</div>
      <div><b>best</b>${best ? `${fmt(best.value, s.metric)} <span class="muted">trial ${best.number}</span>` : "–"}</div></div>
    ${best ? `<div class="muted">best parameters: ${Object.entries(best.params).map(([k, v]) => `${esc(k)} = ${esc(v.shown)}`).join(", ")}</div>` : ""}`;
  drawHistory($("#history", main), s);
  drawIntermediate($("#intermediate", main), s);
  drawImportances($("#importances", main), s);
  drawParallel($("#parallel", main), s);
  drawSlices($("#slices", main), s);
  drawTrials($("#trials", main), s);
}

function finished(s) { return s.trials.filter((t) => t.state === "complete" && t.value !== null); }

function drawHistory(el, s) {
  const done = finished(s);
  const min = s.direction === "minimize";
  let bestSoFar = null;
  const x = [], v = [], b = [];
  for (const t of s.trials) {
    x.push(t.number);
    const ok = t.state === "complete" && t.value !== null;
    v.push(ok ? t.value : null);
    if (ok && (bestSoFar === null || (min ? t.value < bestSoFar : t.value > bestSoFar))) bestSoFar = t.value;
    b.push(bestSoFar);
  }
  if (!done.length) { el.innerHTML = '<p class="muted">Optimization history: no complete trial yet.</p>'; delete board.charts.history; return; }
  chart(el, "history", { title: "optimization history", x, xLabel: "trial", yLabel: s.metric, yKey: s.metric,
    series: [{ label: s.metric, values: v, color: PALETTE[0], line: false },
      { label: "best so far", values: b, color: PALETTE[3] }] });
}

function drawIntermediate(el, s) {
  const withSteps = s.trials.filter((t) => t.intermediate.length);
  if (!withSteps.length) { el.innerHTML = '<p class="muted">Intermediate values: none reported yet.</p>'; delete board.charts.intermediate; return; }
  const steps = [...new Set(withSteps.flatMap((t) => t.intermediate.map((p) => p[0])))].sort((a, b) => a - b);
  const series = withSteps.map((t, i) => {
    const at = new Map(t.intermediate);
    return { label: `trial ${t.number}${t.state === "pruned" ? " (pruned)" : ""}`, values: steps.map((x) => at.has(x) ? at.get(x) : null),
      color: t.state === "pruned" ? "#9a9a9a" : PALETTE[i % PALETTE.length], dash: t.state === "pruned" ? [5, 4] : undefined, width: 1.5,
      markAt: t.state === "pruned" ? steps.indexOf(t.intermediate[t.intermediate.length - 1][0]) : undefined };
  });
  chart(el, "intermediate", { title: "intermediate values (pruned: dashed, red dot where stopped)", x: steps, xLabel: "epoch", yLabel: s.metric, yKey: s.metric, series });
}

function drawImportances(el, s) {
  const max = Math.max(1e-9, ...s.importances.map((i) => i[1]));
  el.innerHTML = `<div class="u-title">parameter importances</div><div class="legend-note">share of the objective's variance explained by each parameter alone (η²), over complete trials</div>
    <div class="bars">` + s.importances.map(([n, v]) => `<div class="bar"><span class="name" title="${esc(n)}">${esc(n)}</span>
      <span><span class="fill" style="width:${(100 * v / max).toFixed(1)}%"></span></span><span class="num">${v.toFixed(3)}</span></div>`).join("") + "</div>";
}

function axisOf(p) {
  const log = p.scale === "log";
  const tr = (v) => log ? Math.log10(v) : v;
  let lo = tr(p.low), hi = tr(p.high);
  if (p.scale === "choice") { lo = -0.5; hi = Math.max(0.5, p.options.length - 0.5); }
  if (hi === lo) hi = lo + 1;
  return { pos: (v) => (tr(v) - lo) / (hi - lo), label: (v) => p.scale === "choice" ? (p.options[v] ?? v) : fmt(v) };
}

function drawParallel(el, s) {
  const done = finished(s);
  const params = s.params.filter((p) => done.some((t) => t.params[p.name]));
  if (!done.length) { el.innerHTML = '<p class="muted">Parallel coordinates: no complete trial yet.</p>'; return; }
  const vals = done.map((t) => t.value);
  const vlo = Math.min(...vals), vhi = Math.max(...vals) === vlo ? vlo + 1 : Math.max(...vals);
  const axes = params.map((p) => ({ name: p.name, ax: axisOf(p), p }))
    .concat([{ name: s.metric, ax: { pos: (v) => (v - vlo) / (vhi - vlo), label: (v) => fmt(v, s.metric) }, objective: true }]);
  const W = Math.max(420, el.clientWidth - 16), H = 300, top = 40, bottom = 30, left = 50, right = 60;
  const xOf = (i) => left + i * (W - left - right) / Math.max(1, axes.length - 1);
  const yOf = (f) => top + (1 - f) * (H - top - bottom);
  const color = (v) => {
    let f = (v - vlo) / (vhi - vlo);
    if (s.direction === "minimize") f = 1 - f; // bright = good
    const a = [68, 1, 84], b = [33, 145, 140], c = [253, 231, 37];
    const mix = (p, q, t) => p.map((x, i) => Math.round(x + (q[i] - x) * t));
    const rgb = f < 0.5 ? mix(a, b, f * 2) : mix(b, c, (f - 0.5) * 2);
    return `rgb(${rgb.join(",")})`;
  };
  let svg = `<svg class="pc" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}"><text x="${W / 2}" y="16" text-anchor="middle" style="font-weight:600;font-size:14px">parallel coordinates (brighter = better ${esc(s.metric)})</text>`;
  for (const t of done.slice().sort((a, b) => (s.direction === "minimize" ? b.value - a.value : a.value - b.value))) {
    const pts = axes.map((a, i) => {
      const v = a.objective ? t.value : (t.params[a.name] ? t.params[a.name].value : null);
      return v === null ? null : `${xOf(i).toFixed(1)},${yOf(Math.min(1, Math.max(0, a.ax.pos(v)))).toFixed(1)}`;
    }).filter(Boolean);
    svg += `<path class="trial" d="M${pts.join("L")}" stroke="${color(t.value)}"><title>trial ${t.number}: ${esc(s.metric)} ${fmt(t.value, s.metric)}</title></path>`;
  }
  axes.forEach((a, i) => {
    const x = xOf(i);
    svg += `<line class="axis" x1="${x}" x2="${x}" y1="${top}" y2="${H - bottom}"/>`;
    svg += `<text x="${x}" y="${H - 10}" text-anchor="middle">${esc(a.name.length > 24 ? "…" + a.name.slice(-23) : a.name)}</text>`;
    let ticks;
    if (a.objective) ticks = [vlo, vhi];
    else if (a.p.scale === "choice") ticks = a.p.options.map((_, k) => k);
    else ticks = [a.p.low, a.p.high];
    for (const v of ticks) svg += `<text x="${x + 4}" y="${yOf(a.ax.pos(v)) + 4}" style="font-size:10px;fill:#666">${esc(a.ax.label(v))}</text>`;
  });
  el.innerHTML = svg + "</svg>";
}

function drawSlices(el, s) {
  const done = finished(s);
  const params = s.params;
  if (el.dataset.names !== params.map((p) => p.name).join()) {
    el.innerHTML = params.map((p, i) => `<div class="chart" id="slice-${i}"></div>`).join("");
    el.dataset.names = params.map((p) => p.name).join();
  }
  params.forEach((p, i) => {
    const pts = done.filter((t) => t.params[p.name]).map((t) => [t.params[p.name].value, t.value]).sort((a, b) => a[0] - b[0]);
    const target = document.getElementById(`slice-${i}`);
    if (!pts.length) { target.innerHTML = `<p class="muted">${esc(p.name)}: no complete trial has it.</p>`; delete board.charts["slice-" + i]; return; }
    const choice = p.scale === "choice";
    chart(target, "slice-" + i, {
      title: p.name, x: pts.map((q) => q[0]), xLabel: p.name + (p.scale === "log" ? " (log)" : ""), yLabel: s.metric, yKey: s.metric,
      logX: p.scale === "log", height: 220,
      xRange: choice ? [-0.5, p.options.length - 0.5] : undefined,
      xAxis: choice ? { splits: () => p.options.map((_, k) => k), values: (u, sp) => sp.map((v) => p.options[v] ?? "") } : undefined,
      series: [{ label: s.metric, values: pts.map((q) => q[1]), color: PALETTE[i % PALETTE.length], line: false }],
    });
  });
}

function drawTrials(el, s) {
  const names = s.params.map((p) => p.name);
  const cols = [["number", "trial"], ["state", "state"], ["value", s.metric], ["epochs", "epochs"], ["seconds", "seconds"]]
    .concat(names.map((n) => ["p:" + n, n]));
  const get = (t, k) => k.startsWith("p:") ? (t.params[k.slice(2)] ? t.params[k.slice(2)].value : null) : t[k];
  const rows = s.trials.slice().sort((a, b) => compareValues(get(a, studyState.sort), get(b, studyState.sort)));
  if (studyState.desc) rows.reverse();
  el.innerHTML = "<thead><tr>" + cols.map(([k, l]) => `<th data-key="${esc(k)}" class="${studyState.sort === k ? "sorted" + (studyState.desc ? " desc" : "") : ""}">${esc(l)}</th>`).join("") +
    "<th>run</th></tr></thead><tbody>" + rows.map((t) => `<tr class="${t.number === s.best ? "best" : ""}" title="${esc(t.error || "")}">
      <td class="num">${t.number}</td><td>${badge(t.state, "s-" + t.state)}</td><td class="num">${fmt(t.value, s.metric)}</td>
      <td class="num">${t.epochs ?? "–"}</td><td class="num">${t.seconds == null ? "–" : t.seconds.toFixed(1)}</td>` +
      names.map((n) => `<td>${t.params[n] ? esc(t.params[n].shown) : "–"}</td>`).join("") +
      `<td>${t.run ? `<a href="#/run/${enc(t.run)}">open</a>` : ""}</td></tr>`).join("") + "</tbody>";
}
