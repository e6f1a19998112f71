// SecuStreamAI dashboard: plain JS, no dependencies. The token lives in sessionStorage and travels only in
// the Authorization header (the live stream is read with fetch, not EventSource, for that reason).
"use strict";

const API = document.body.dataset.api;
const GRAFANA = document.body.dataset.grafana;
const RISKS = ["critical", "high", "medium", "low"];
const COLORS = {critical: "#f87171", high: "#fb923c", medium: "#facc15", low: "#64748b",
  rules: "#38bdf8", model: "#a78bfa", llm: "#34d399"};
const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));

const state = {token: sessionStorage.getItem("secustream.token"), user: null, cursor: null, selected: null,
  stream: null, filters: new URLSearchParams()};

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path, options = {}) {
  const headers = Object.assign({Accept: "application/json"}, options.headers || {});
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const res = await fetch(API + path, Object.assign({}, options, {headers}));
  if (res.status === 401 && !path.startsWith("/auth/token")) { signOut("Your session ended; please sign in again."); }
  if (!res.ok) {
    let detail = res.statusText;
    try {
      const body = await res.json();
      detail = typeof body.detail === "string" ? body.detail
        : (body.detail || []).map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, detail || `HTTP ${res.status}`);
  }
  return res.status === 204 ? null : res.json();
}

// ------------------------------------------------------------------ sign in / out

function show(view) {
  $("#login-view").hidden = view !== "login";
  $("#app-view").hidden = view !== "app";
  $("#logout").hidden = view !== "app";
  $("#views").hidden = view !== "app";
}

function signOut(message) {
  state.token = null; state.user = null;
  sessionStorage.removeItem("secustream.token");
  if (state.stream) { state.stream.abort(); state.stream = null; }
  setLive(false);
  $("#whoami").textContent = "";
  $("#login-error").textContent = message || "";
  show("login");
}

async function logOut() {
  // Revoke on the server too (every token of the account), then forget the token here either way.
  try { await api("/auth/logout", {method: "POST"}); } catch (_) { /* already unusable */ }
  signOut();
}

async function signIn(event) {
  event.preventDefault();
  $("#login-error").textContent = "";
  const body = new URLSearchParams({username: $("#username").value, password: $("#password").value});
  try {
    const token = await api("/auth/token", {method: "POST", body,
      headers: {"Content-Type": "application/x-www-form-urlencoded"}});
    state.token = token.access_token;
    sessionStorage.setItem("secustream.token", state.token);
    $("#password").value = "";
    await start();
  } catch (err) {
    $("#login-error").textContent = err.status === 429 ? err.message : (err.status === 401
      ? "Wrong username or password." : "Sign-in failed: " + err.message);
  }
}

async function start() {
  try {
    state.user = await api("/auth/me");
  } catch (_) { signOut(); return; }
  $("#whoami").textContent = `${state.user.username} (${state.user.role})`;
  show("app");
  document.body.classList.toggle("can-triage", state.user.role !== "viewer");
  route();  // alerts.js: the alert queue is the default view
  await Promise.all([loadEvents(true), loadStats()]);
  openStream();
}

// ------------------------------------------------------------------ filters and the events table

function readFilters() {
  const form = $("#filters");
  const params = new URLSearchParams();
  for (const box of form.querySelectorAll("input[name=risk_level]:checked")) params.append("risk_level", box.value);
  for (const name of ["tier", "threat_type", "source_ip", "user", "host", "q"]) {
    const value = form.elements[name].value.trim();
    if (value) params.set(name, value);
  }
  for (const name of ["since", "until"]) {
    const value = form.elements[name].value;
    if (value) params.set(name, new Date(value).toISOString());
  }
  return params;
}

function matchesFilters(item) {
  // Live rows are shown only if they fit the verdict filters the server would apply.
  const f = state.filters, v = item.verdict || {};
  const risks = f.getAll("risk_level");
  if (risks.length && !risks.includes(v.risk_level)) return false;
  if (f.get("tier") && f.get("tier") !== v.tier) return false;
  if (f.get("threat_type") && f.get("threat_type") !== v.threat_type) return false;
  if (f.get("source_ip") && f.get("source_ip") !== item.source_ip) return false;
  if (f.get("user") && f.get("user") !== item.source_user) return false;
  if (f.get("q") && !String(v.analysis || "").toLowerCase().includes(f.get("q").toLowerCase())) return false;
  return !f.get("until") && !f.get("host");
}

function rowHtml(item) {
  const v = item.verdict || {};
  const time = new Date(item.timestamp).toLocaleString();
  return `<td>${esc(time)}</td><td class="risk-${esc(v.risk_level)}">${esc(v.risk_level || "pending")}</td>` +
    `<td>${esc(v.threat_type)}</td><td>${esc(v.tier)}</td><td>${esc(item.event_type)}${item.action ? "/" + esc(item.action) : ""}</td>` +
    `<td>${esc(item.source_ip || item.source_host)}</td><td>${esc(item.source_user)}</td><td>${esc(item.destination_host || item.source_host || item.host)}</td>` +
    `<td title="${esc(v.reason)}">${esc(v.reason)}</td>`;
}

function addRow(item, {top = false, fresh = false} = {}) {
  const tbody = $("#feed tbody");
  if (tbody.querySelector(`tr[data-id="${CSS.escape(item.event_id)}"]`)) return;
  const tr = document.createElement("tr");
  tr.dataset.id = item.event_id;
  tr.innerHTML = rowHtml(item);
  if (fresh) tr.classList.add("fresh");
  tr.addEventListener("click", () => openDetail(item.event_id));
  if (top) tbody.prepend(tr); else tbody.append(tr);
  while (tbody.rows.length > 500) tbody.deleteRow(-1);
  $("#feed-empty").hidden = true;
}

async function loadEvents(reset) {
  $("#feed-error").textContent = "";
  if (reset) { state.filters = readFilters(); state.cursor = null; $("#feed tbody").innerHTML = ""; }
  const params = new URLSearchParams(state.filters);
  params.set("limit", "50");
  if (state.cursor) params.set("cursor", state.cursor);
  try {
    const page = await api("/events?" + params);
    page.items.forEach((item) => addRow(item));
    state.cursor = page.next_cursor;
    $("#load-more").hidden = !state.cursor;
    $("#feed-empty").hidden = $("#feed tbody").rows.length > 0;
    $("#feed-note").textContent = state.filters.toString() ? "(filtered)" : "";
  } catch (err) {
    if (err.status === 400 || err.status === 422) $("#filter-error").textContent = err.message;
    else $("#feed-error").textContent = "Could not load events: " + err.message;
  }
}

// ------------------------------------------------------------------ live stream (SSE read with fetch)

function setLive(on) {
  const pill = $("#live-status");
  pill.textContent = on ? "live" : "offline";
  pill.className = "pill " + (on ? "on" : "off");
}

async function openStream() {
  if (state.stream) state.stream.abort();
  const controller = new AbortController();
  state.stream = controller;
  try {
    const res = await fetch(API + "/stream", {headers: {Authorization: "Bearer " + state.token,
      Accept: "text/event-stream"}, signal: controller.signal});
    if (res.status === 401) { signOut("Your session ended; please sign in again."); return; }
    if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
    setLive(true);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
        if (data) onVerdict(JSON.parse(data));
      }
    }
  } catch (err) {
    if (controller.signal.aborted) return;
  }
  setLive(false);
  if (state.token && state.stream === controller) setTimeout(openStream, 3000);
}

function onVerdict(message) {
  const e = message.event || {}, v = message.verdict || {};
  const item = Object.assign({}, e, {verdict: v, destination_host: e.host});
  if (matchesFilters(item)) addRow(item, {top: true, fresh: true});
}

// ------------------------------------------------------------------ detail and feedback

function list(items) {
  return (items || []).length ? items.map((x) => `<span class="tag">${esc(x)}</span>`).join("") : "<span class=\"empty\">none</span>";
}

async function openDetail(id) {
  state.selected = id;
  for (const tr of document.querySelectorAll("#feed tbody tr")) tr.classList.toggle("selected", tr.dataset.id === id);
  $("#detail-empty").hidden = true;
  const body = $("#detail-body");
  body.hidden = false;
  body.innerHTML = "<p class=\"empty\">Loading…</p>";
  try {
    const d = await api("/events/" + encodeURIComponent(id));
    const v = d.verdict;
    body.innerHTML = `<h2>${esc(d.event_type)}${d.action ? " / " + esc(d.action) : ""} <small>${esc(d.outcome)}</small></h2>` +
      (v ? `<dl><dt>Risk</dt><dd class="risk-${esc(v.risk_level)}">${esc(v.risk_level)} (${Number(v.risk_score).toFixed(2)})</dd>
        <dt>Threat</dt><dd>${esc(v.threat_type)} · confidence ${Number(v.confidence).toFixed(2)}</dd>
        <dt>Tier</dt><dd>${esc(v.tier)} — ${esc(v.reason)}</dd>
        <dt>Rule hits</dt><dd>${list(v.rule_ids)}</dd><dt>MITRE</dt><dd>${list(v.mitre_ids)}</dd>
        <dt>Analysis</dt><dd>${esc(v.analysis) || "<span class=\"empty\">none</span>"}</dd>
        <dt>Actions</dt><dd>${(v.recommended_actions || []).length ? "<ul>" + v.recommended_actions.map((a) => `<li>${esc(a)}</li>`).join("") + "</ul>" : "<span class=\"empty\">none</span>"}</dd></dl>`
        : "<p class=\"empty\">Not analysed yet.</p>") +
      `<dl><dt>Time</dt><dd>${esc(d.timestamp)}</dd><dt>Source</dt><dd>${esc(d.source_ip)} ${esc(d.source_user)} ${esc(d.source_host)}</dd>
        <dt>Destination</dt><dd>${esc(d.destination_ip)}${d.destination_port ? ":" + esc(d.destination_port) : ""} ${esc(d.destination_host)}</dd></dl>` +
      (d.raw ? `<h3>Raw</h3><pre>${esc(d.raw)}</pre>` : "") +
      `<h3>Normalised</h3><pre>${esc(JSON.stringify(d.normalised, null, 2))}</pre>` +
      `<h3>Feedback</h3>` + (d.feedback.length ? "<ul id=\"feedback-list\">" + d.feedback.map((f) =>
        `<li><b>${esc(f.username)}</b>: ${esc(f.label)}${f.corrected_class ? " → " + esc(f.corrected_class) : ""}${f.note ? " — " + esc(f.note) : ""}</li>`).join("") + "</ul>"
        : "<p class=\"empty\" id=\"feedback-list\">No feedback yet.</p>");
    const canWrite = state.user && state.user.role !== "viewer";
    $("#feedback-box").hidden = !canWrite;
    $("#feedback-status").textContent = "";
  } catch (err) {
    body.innerHTML = `<p class="error">Could not load the event: ${esc(err.message)}</p>`;
  }
}

async function sendFeedback(label) {
  if (!state.selected) return;
  const payload = {label, note: $("#feedback-note").value.trim() || null};
  if (label === "corrected_class") {
    payload.corrected_class = $("#corrected-class").value;
    if (!payload.corrected_class) { $("#feedback-status").textContent = "Pick the corrected class first."; return; }
  }
  try {
    await api(`/events/${encodeURIComponent(state.selected)}/feedback`, {method: "PUT",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(payload)});
    const id = state.selected;
    await openDetail(id);
    $("#feedback-status").textContent = "Feedback saved: " + label.replace("_", " ") + ".";
  } catch (err) {
    $("#feedback-status").textContent = "Feedback not saved: " + err.message;
  }
}

// ------------------------------------------------------------------ charts (SVG drawn here)

function svg(width, height, inner) {
  return `<svg viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img">${inner}</svg>`;
}

function drawRisk(stats) {
  const el = $("#risk-chart");
  if (!stats.buckets.length) { el.innerHTML = "<p class=\"empty\">No verdicts in the last 24 hours.</p>"; return; }
  const W = 600, H = 150, pad = 18;
  const max = Math.max(1, ...stats.buckets.map((b) => RISKS.reduce((s, r) => s + (b.risk_level[r] || 0), 0)));
  const bw = (W - pad) / stats.buckets.length;
  let bars = "";
  stats.buckets.forEach((b, i) => {
    let y = H - pad;
    for (const r of [...RISKS].reverse()) {
      const h = ((b.risk_level[r] || 0) / max) * (H - pad - 4);
      if (h > 0) { y -= h; bars += `<rect x="${pad + i * bw + 1}" y="${y}" width="${Math.max(1, bw - 2)}" height="${h}" fill="${COLORS[r]}"><title>${esc(b.start)} ${r}: ${b.risk_level[r]}</title></rect>`; }
    }
  });
  const legend = RISKS.map((r, i) => `<rect x="${pad + i * 70}" y="${H - 10}" width="8" height="8" fill="${COLORS[r]}"/><text x="${pad + 12 + i * 70}" y="${H - 2}">${r}</text>`).join("");
  el.innerHTML = svg(W, H, `<text x="0" y="10">${max}</text>${bars}${legend}`);
}

function drawTiers(stats) {
  const el = $("#tier-chart");
  const entries = Object.entries(stats.totals.tier || {}).sort((a, b) => b[1] - a[1]);
  const total = entries.reduce((s, [, n]) => s + n, 0);
  if (!total) { el.innerHTML = "<p class=\"empty\">No verdicts yet.</p>"; return; }
  const W = 300, H = 150, rowH = Math.min(28, (H - 8) / entries.length);
  const rows = entries.map(([tier, n], i) => {
    const w = (n / total) * (W - 110);
    return `<text x="0" y="${i * rowH + rowH * 0.65}">${esc(tier)}</text><rect x="50" y="${i * rowH + 3}" width="${w}" height="${rowH - 6}" fill="${COLORS[tier] || "#94a3b8"}"/>` +
      `<text x="${56 + w}" y="${i * rowH + rowH * 0.65}">${(100 * n / total).toFixed(1)}%</text>`;
  }).join("");
  el.innerHTML = svg(W, H, rows);
}

async function loadStats() {
  try {
    const stats = await api("/stats?bucket=hour");
    drawRisk(stats); drawTiers(stats);
  } catch (err) {
    $("#risk-chart").innerHTML = `<p class="error">Charts unavailable: ${esc(err.message)}</p>`;
  }
}

// ------------------------------------------------------------------ wiring

function grafanaLinks() {
  if (!GRAFANA) return;
  const nav = $("#grafana-links");
  nav.innerHTML = `<a href="${esc(GRAFANA)}/dashboards?query=secustream" target="_blank" rel="noopener">Grafana dashboards</a>`;
  nav.hidden = false;
}

document.addEventListener("DOMContentLoaded", () => {
  grafanaLinks();
  $("#login-form").addEventListener("submit", signIn);
  $("#logout").addEventListener("click", logOut);
  $("#filters").addEventListener("submit", (e) => { e.preventDefault(); $("#filter-error").textContent = ""; loadEvents(true); });
  $("#filters").addEventListener("reset", () => setTimeout(() => loadEvents(true), 0));
  $("#load-more").addEventListener("click", () => loadEvents(false));
  for (const b of document.querySelectorAll("#feedback-box button[data-label]")) {
    b.addEventListener("click", () => sendFeedback(b.dataset.label));
  }
  setInterval(() => { if (state.user) loadStats(); }, 60000);
  if (state.token) start(); else show("login");
});
