// The live status page served at `/`: one self-contained HTML document (no CDN, no external file),
// whose script polls GET /status and redraws. Every value goes in through textContent, never as
// markup. The Content-Security-Policy allows exactly this page's own script and style (by hash) and
// fetches to this server.
import { createHash } from 'node:crypto';

const STYLE = `
:root { --bg:#0f1419; --card:#182029; --line:#2a3540; --text:#dde4ea; --dim:#8a97a3; --ok:#3fb950; --warn:#d29922; --bad:#f85149; --accent:#58a6ff; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--text); }
header { display:flex; align-items:center; gap:16px; padding:14px 24px; border-bottom:1px solid var(--line); }
header h1 { font-size:18px; margin:0; font-weight:600; letter-spacing:.2px; }
.pill { padding:2px 10px; border-radius:999px; font-size:12px; font-weight:600; border:1px solid currentColor; }
.ok { color:var(--ok); } .warn { color:var(--warn); } .bad { color:var(--bad); } .dim { color:var(--dim); }
.spacer { flex:1; }
#live::before { content:""; display:inline-block; width:8px; height:8px; border-radius:50%; background:var(--ok); margin-right:6px; vertical-align:middle; }
#live.stale::before { background:var(--bad); }
main { padding:16px 24px 32px; }
.strip { display:flex; flex-wrap:wrap; gap:24px; margin-bottom:16px; color:var(--dim); }
.strip b { color:var(--text); font-weight:600; }
.grid { display:grid; grid-template-columns:repeat(auto-fill, minmax(360px, 1fr)); gap:16px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px; }
.card h2 { margin:0 0 8px; font-size:16px; display:flex; align-items:center; gap:8px; }
.card h2 .version { color:var(--dim); font-weight:400; font-size:13px; }
.metrics { display:grid; grid-template-columns:repeat(3, 1fr); gap:8px 12px; margin:8px 0; }
.metric .label { color:var(--dim); font-size:11px; text-transform:uppercase; letter-spacing:.5px; }
.metric .value { font-size:18px; font-variant-numeric:tabular-nums; }
.metric .value small { font-size:12px; color:var(--dim); }
svg.spark { width:100%; height:36px; display:block; }
svg.spark polyline { fill:none; stroke-width:1.5; }
svg.spark line { stroke:var(--line); stroke-width:1; }
.charts { display:grid; grid-template-columns:1fr 1fr auto; gap:12px; align-items:end; margin:6px 0 10px; }
.chart .label { color:var(--dim); font-size:11px; }
.bars { display:flex; align-items:flex-end; gap:3px; height:36px; }
.bars div { background:var(--accent); width:14px; min-height:1px; border-radius:2px 2px 0 0; }
.bars-labels { display:flex; gap:3px; font-size:10px; color:var(--dim); }
.bars-labels span { width:14px; text-align:center; }
.reason { color:var(--bad); font-size:12px; margin-top:4px; word-break:break-word; }
table { border-collapse:collapse; width:100%; }
td, th { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); }
th { color:var(--dim); font-weight:500; font-size:12px; }
.split { display:flex; height:10px; border-radius:5px; overflow:hidden; min-width:160px; }
.split div:nth-child(1) { background:var(--accent); } .split div:nth-child(2) { background:var(--warn); } .split div:nth-child(3) { background:var(--ok); }
section h3 { font-size:14px; color:var(--dim); font-weight:500; margin:24px 0 8px; }
footer { color:var(--dim); font-size:12px; padding:0 24px 24px; }
footer a { color:var(--accent); }
`;

const SCRIPT = `
"use strict";
var params = new URLSearchParams(location.search);
var INTERVAL = Math.max(200, Number(params.get("interval")) || 1000);
var HISTORY = 60;
var series = {};
var failures = 0;

function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function fmt(x, digits) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (Math.abs(x) >= 1000) return (x / 1000).toFixed(1) + "k";
  return Number(x).toFixed(digits === undefined ? 1 : digits);
}
function bytes(x) {
  if (x === null || x === undefined || x < 0) return "–";
  var units = ["B", "KiB", "MiB", "GiB", "TiB"];
  var i = 0;
  while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
  return x.toFixed(i ? 1 : 0) + " " + units[i];
}
function duration(s) {
  var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (s % 60) + "s";
}
function metric(label, value, unit, field) {
  var m = el("div", "metric");
  m.appendChild(el("div", "label", label));
  var v = el("div", "value", value);
  if (unit) v.appendChild(el("small", null, " " + unit));
  if (field) v.dataset.field = field;
  m.appendChild(v);
  return m;
}
function spark(values, colour) {
  var ns = "http://www.w3.org/2000/svg";
  var svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 " + HISTORY + " 36");
  svg.setAttribute("preserveAspectRatio", "none");
  var max = 0;
  values.forEach(function (v) { if (v > max) max = v; });
  var pts = values.map(function (v, i) { return (HISTORY - values.length + i) + "," + (34 - (max > 0 ? (v / max) * 32 : 0)).toFixed(1); });
  var base = document.createElementNS(ns, "line");
  base.setAttribute("x1", "0"); base.setAttribute("x2", String(HISTORY)); base.setAttribute("y1", "35"); base.setAttribute("y2", "35");
  base.setAttribute("vector-effect", "non-scaling-stroke");
  svg.appendChild(base);
  var line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.join(" "));
  line.setAttribute("stroke", colour);
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.appendChild(line);
  return svg;
}
function remember(key, name, value) {
  var s = series[key] || (series[key] = {});
  var list = s[name] || (s[name] = []);
  list.push(value === null || value === undefined ? 0 : value);
  if (list.length > HISTORY) list.shift();
  return list;
}
function stateClass(state) {
  return state === "READY" ? "ok" : state === "LOADING" || state === "UNLOADING" ? "warn" : "bad";
}
function driftBadge(d) {
  if (!d) return el("span", "pill dim", "no drift monitor");
  if (d.state === "learning") return el("span", "pill warn", "learning reference");
  if (d.detected) return el("span", "pill bad", "drift " + d.features_drifted + "/" + d.features);
  return el("span", "pill ok", "no drift");
}
function versionBlock(model, v) {
  var key = model.name + "/" + v.version;
  var box = el("div", "version-block");
  box.dataset.version = v.version;
  var rpsHistory = remember(key, "rps", v.rps);
  var p99History = remember(key, "p99", v.latency.p99_ms);
  var grid = el("div", "metrics");
  grid.appendChild(metric("req/s", fmt(v.rps), null, "rps"));
  grid.appendChild(metric("errors/s", fmt(v.errors_per_s), null, "errors"));
  grid.appendChild(metric("batch", fmt(v.batch.mean), "mean", "batch"));
  grid.appendChild(metric("p50", fmt(v.latency.p50_ms, 2), "ms", "p50"));
  grid.appendChild(metric("p99", fmt(v.latency.p99_ms, 2), "ms", "p99"));
  grid.appendChild(metric("p999", fmt(v.latency.p999_ms, 2), "ms", "p999"));
  grid.appendChild(metric("queue", fmt(v.queue.mean_ms, 2), "ms", "queue"));
  grid.appendChild(metric("pending", v.queue.pending === null ? "–" : v.queue.pending, "/ " + v.queue.inflight + " in flight", "pending"));
  grid.appendChild(metric("cache hits", v.cache ? (v.cache.hit_ratio === null ? "–" : fmt(v.cache.hit_ratio * 100, 0) + "%") : "off", null, "cache"));
  box.appendChild(grid);
  var charts = el("div", "charts");
  function chart(label, node) {
    var c = el("div", "chart");
    c.appendChild(el("div", "label", label));
    c.appendChild(node);
    charts.appendChild(c);
    return c;
  }
  chart("req/s, last " + rpsHistory.length + " updates", spark(rpsHistory, "#58a6ff"));
  chart("p99 ms", spark(p99History, "#d29922"));
  var sizes = Object.keys(v.batch.sizes).map(Number).sort(function (a, b) { return a - b; });
  var total = 0;
  sizes.forEach(function (s) { total += v.batch.sizes[s]; });
  var bars = el("div", "bars"), labels = el("div", "bars-labels");
  sizes.slice(-12).forEach(function (s) {
    var b = el("div");
    b.style.height = Math.max(4, Math.round((v.batch.sizes[s] / total) * 100)) + "%";
    b.title = "batch size " + s + ": " + v.batch.sizes[s] + " executions";
    bars.appendChild(b);
    labels.appendChild(el("span", null, s));
  });
  var batchChart = chart("batch sizes", bars);
  batchChart.appendChild(labels);
  box.appendChild(charts);
  var drift = driftBadge(v.drift);
  drift.dataset.field = "drift";
  box.appendChild(drift);
  return box;
}
function modelCard(model) {
  var card = el("div", "card");
  card.dataset.model = model.name;
  var h = el("h2", null, model.name);
  var state = el("span", "pill " + stateClass(model.state), model.state);
  state.dataset.field = "state";
  h.appendChild(state);
  if (model.versions.length) h.appendChild(el("span", "version", "v" + model.versions.map(function (v) { return v.version; }).join(", v")));
  card.appendChild(h);
  if (model.reason) card.appendChild(el("div", "reason", model.reason));
  model.versions.forEach(function (v) { card.appendChild(versionBlock(model, v)); });
  return card;
}
function routesTable(routes, states) {
  var section = el("section");
  section.appendChild(el("h3", null, "Routes"));
  var table = el("table");
  var head = el("tr");
  ["route", "state", "split", "targets", "canary"].forEach(function (t) { head.appendChild(el("th", null, t)); });
  table.appendChild(head);
  routes.forEach(function (r) {
    var tr = el("tr");
    tr.dataset.route = r.name;
    tr.appendChild(el("td", null, r.name));
    var stateCell = el("td");
    var state = states[r.name] || "–";
    stateCell.appendChild(el("span", "pill " + stateClass(state), state));
    tr.appendChild(stateCell);
    var split = el("div", "split");
    var total = 0;
    r.targets.forEach(function (t) { total += t.weight; });
    r.targets.forEach(function (t) { var d = el("div"); d.style.width = (total ? (t.weight / total) * 100 : 0) + "%"; d.title = t.target; split.appendChild(d); });
    var td = el("td"); td.appendChild(split); tr.appendChild(td);
    tr.appendChild(el("td", null, r.targets.map(function (t) { return t.target + " " + t.weight; }).join(" · ")));
    tr.appendChild(el("td", null, r.canary ? r.canary.target + ": " + r.canary.state + " at " + r.canary.weight + (r.canary.steps ? " (step " + r.canary.step + "/" + r.canary.steps + ")" : "") : "–"));
    table.appendChild(tr);
  });
  section.appendChild(table);
  return section;
}
function render(s) {
  var ready = document.getElementById("ready");
  ready.textContent = s.server.draining ? "draining" : s.server.ready ? "ready" : "not ready";
  ready.className = "pill " + (s.server.draining ? "warn" : s.server.ready ? "ok" : "bad");
  document.getElementById("version").textContent = "v" + s.server.version;
  document.getElementById("uptime").textContent = "up " + duration(s.server.uptime_s);
  var strip = document.getElementById("resources");
  strip.replaceChildren();
  function item(label, value, field) {
    var span = el("span", null, label + " ");
    var b = el("b", null, value);
    if (field) b.dataset.field = field;
    span.appendChild(b);
    strip.appendChild(span);
  }
  item("process CPU", s.process.cpu === null ? "–" : fmt(s.process.cpu * 100, 0) + "%", "process-cpu");
  item("RSS", bytes(s.process.rss_bytes), "rss");
  item("machine CPU", s.machine.cpu_utilization === null ? "–" : fmt(s.machine.cpu_utilization * 100, 0) + "%", "machine-cpu");
  item("memory", bytes(s.machine.memory_used_bytes) + " / " + bytes(s.machine.memory_total_bytes));
  s.gpus.forEach(function (g, i) {
    item("GPU" + i, fmt(g.utilization * 100, 0) + "% · " + bytes(g.memory_used_bytes) + " / " + bytes(g.memory_total_bytes) + " · " + fmt(g.power_watts, 0) + " W");
  });
  item("tracing", s.server.tracing ? s.server.tracing.level + (s.server.tracing.level === "OFF" ? "" : " 1/" + s.server.tracing.rate) : "–");
  if (s.server.cache) item("Redis", s.server.cache.l2, "redis");
  // Routes run no model of their own: they are listed under Routes, their traffic shows at their targets.
  var plain = s.models.filter(function (m) { return m.kind !== "route"; });
  var states = {};
  s.models.forEach(function (m) { states[m.name] = m.state; });
  var models = document.getElementById("models");
  models.replaceChildren.apply(models, plain.map(modelCard));
  if (!plain.length) models.appendChild(el("p", "dim", "No models in the repository."));
  var routes = document.getElementById("routes");
  routes.replaceChildren();
  if (s.routes.length) routes.appendChild(routesTable(s.routes, states));
  document.getElementById("updated").textContent = new Date(s.at).toLocaleTimeString();
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
}
function poll() {
  fetch("/status", { cache: "no-store" })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(function (s) { failures = 0; document.getElementById("live").className = ""; render(s); })
    .catch(function () { failures++; document.getElementById("live").className = "stale"; })
    .finally(function () { setTimeout(poll, failures ? Math.min(10000, INTERVAL * (1 + failures)) : INTERVAL); });
}
poll();
`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tensorgate</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>tensorgate</h1>
  <span id="version" class="dim"></span>
  <span id="ready" class="pill dim">connecting</span>
  <span id="uptime" class="dim"></span>
  <span class="spacer"></span>
  <span id="live" class="stale"><span id="updated" class="dim">–</span></span>
</header>
<main>
  <div id="resources" class="strip"></div>
  <div id="models" class="grid"></div>
  <div id="routes"></div>
</main>
<footer>Live from <a href="/status">/status</a> · metrics at <a href="/metrics">/metrics</a> · drift reports at /v2/models/{model}/monitoring</footer>
<script>${SCRIPT}</script>
</body>
</html>
`;

export const STATUS_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': `default-src 'none'; script-src ${hash(SCRIPT)}; style-src ${hash(STYLE)}; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
};
