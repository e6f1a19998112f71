// The analyst's views: alert queue (default), incidents, incident page, entity pages, ATT&CK matrix.
// Uses app.js's api(), esc(), $ and state; routes on the URL hash (#/alerts, #/incidents/<id>, ...).
"use strict";

const TACTICS = ["reconnaissance", "resource-development", "initial-access", "execution", "persistence",
  "privilege-escalation", "defense-evasion", "stealth", "defense-impairment", "credential-access", "discovery",
  "lateral-movement", "collection",
  "command-and-control", "exfiltration", "impact"];
const alertState = {cursor: null, filters: null, selected: null, rows: new Map()};
const incidentState = {cursor: null};
const when = (t) => t ? new Date(t).toLocaleString() : "";
const pad2 = (n) => String(n).padStart(2, "0");
const clock = (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
function span(first, last) {  // "03-03 08:07:58 → 08:08:20": compact, so the queue fits at 1280 px
  const a = new Date(first), b = new Date(last);
  const day = (d) => `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  return `${day(a)} ${clock(a)} → ${day(a) === day(b) ? "" : day(b) + " "}${clock(b)}`;
}
const entityLink = (kind, value) =>
  `<a href="#/entities/${encodeURIComponent(kind)}/${encodeURIComponent(value)}">${esc(kind)} ${esc(value)}</a>`;
function entitiesHtml(entities) {  // hosts, users, addresses; process/logon GUIDs folded (a Sysmon incident has dozens)
  const item = ([k, v]) => `<li>${entityLink(k, v)}</li>`;
  const guids = entities.filter(([k]) => k === "guid"), named = entities.filter(([k]) => k !== "guid");
  return `<ul class="entities">${named.map(item).join("")}</ul>` + (guids.length
    ? `<details class="guids"><summary>${guids.length} process/logon GUID${guids.length > 1 ? "s" : ""}</summary><ul>${guids.map(item).join("")}</ul></details>`
    : "");
}
const chainHtml = (tactics) => `<span class="chain">${(tactics || []).map((t) => `<span class="tag">${esc(t)}</span>`).join("") || "<span class=\"empty\">no mapped tactic</span>"}</span>`;

function route() {
  if (!state.user) return;
  const parts = (location.hash || "#/alerts").slice(2).split("/").map(decodeURIComponent);
  const view = parts[0] || "alerts";
  let shown = view;
  if (view === "incidents" && parts[1]) { shown = "incident"; openIncident(parts[1]); }
  else if (view === "entities" && parts[2]) { shown = "entity"; openEntity(parts[1], parts.slice(2).join("/")); }
  else if (view === "incidents") loadIncidents(true);
  else if (view === "attack") loadAttack();
  else if (view === "alerts") loadAlerts(true);
  for (const el of document.querySelectorAll(".view")) el.hidden = el.id !== "view-" + shown;
  for (const a of document.querySelectorAll("#views a")) {
    a.classList.toggle("active", a.dataset.view === view || (view === "entities" && a.dataset.view === "alerts"));
  }
}

// ------------------------------------------------------------------ alert queue

function alertFilters() {
  const form = $("#alert-filters");
  const params = new URLSearchParams();
  for (const s of form.elements.status.value.split(",").filter(Boolean)) params.append("status", s);
  for (const box of form.querySelectorAll("input[name=level]:checked")) params.append("level", box.value);
  // the Rule box finds words of a rule's title or id (a SigmaHQ rule's id is a UUID): the API's search
  for (const [name, param] of [["rule", "search"], ["entity", "entity"], ["assignee", "assignee"]]) {
    const v = form.elements[name].value.trim();
    if (v) params.set(param, v);
  }
  return params;
}

function alertRow(a) {
  return `<td class="triage-cell"><input type="checkbox" class="pick" aria-label="select"></td>` +
    `<td class="risk-${esc(a.level)}">${esc(a.level)}</td>` +
    `<td title="${esc(a.title)} (${esc(a.detection)})">${esc(a.title)} <small class="muted">${esc(a.detection)}</small></td>` +
    `<td>${entityLink(a.entity_kind, a.entity_value)}</td><td>${esc(a.count)}</td>` +
    `<td title="${esc(when(a.first_seen))} – ${esc(when(a.last_seen))}">${esc(span(a.first_seen, a.last_seen))}</td>` +
    `<td class="status-${esc(a.status)}" title="${esc(a.resolution || "")}">${esc(a.status)}</td>` +
    `<td title="${esc(a.assignee || "")}">${esc(a.assignee || "")}</td>`;
}

function putAlert(a, {replace = false} = {}) {
  alertState.rows.set(a.id, a);
  const tbody = $("#alerts tbody");
  let tr = tbody.querySelector(`tr[data-id="${CSS.escape(a.id)}"]`);
  if (tr && !replace) return;
  const picked = tr ? tr.querySelector(".pick").checked : false;
  if (!tr) {
    tr = document.createElement("tr");
    tr.dataset.id = a.id;
    tbody.append(tr);
    tr.addEventListener("click", (e) => {
      if (e.target.closest("a") || e.target.classList.contains("pick")) return;
      openAlert(a.id);
    });
  }
  tr.innerHTML = alertRow(a);
  tr.querySelector(".pick").checked = picked;
  tr.classList.toggle("selected", alertState.selected === a.id);
}

async function loadAlerts(reset) {
  $("#alerts-error").textContent = "";
  if (reset) {
    alertState.filters = alertFilters(); alertState.cursor = null; alertState.rows.clear();
    $("#alerts tbody").innerHTML = ""; $("#select-all").checked = false;
  }
  const params = new URLSearchParams(alertState.filters);
  params.set("limit", "50");
  if (alertState.cursor) params.set("cursor", alertState.cursor);
  try {
    const page = await api("/alerts?" + params);
    page.items.forEach((a) => putAlert(a));
    alertState.cursor = page.next_cursor;
    $("#alerts-more").hidden = !page.next_cursor;
    const n = $("#alerts tbody").rows.length;
    $("#alerts-empty").hidden = n > 0;
    const hits = [...alertState.rows.values()].reduce((s, a) => s + a.count, 0);
    $("#alert-summary").textContent = `${n}${page.next_cursor ? "+" : ""} alerts · ${hits} hits`;
  } catch (err) {
    if (err.status === 400 || err.status === 422) $("#alert-filter-error").textContent = err.message;
    else $("#alerts-error").textContent = "Could not load alerts: " + err.message;
  }
}

function picked() {
  return [...document.querySelectorAll("#alerts tbody tr")].filter((tr) => tr.querySelector(".pick").checked)
    .map((tr) => tr.dataset.id);
}

function triageBody(action) {
  if (action === "acknowledged") return {status: "acknowledged", assignee: state.user.username};
  return {status: "closed", resolution: action};
}

async function bulk(action) {
  const ids = picked();
  if (!ids.length) { $("#bulk-status").textContent = "Select alerts first."; return; }
  try {
    const updated = await api("/alerts/bulk", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(Object.assign({ids}, triageBody(action)))});
    updated.forEach((a) => putAlert(a, {replace: true}));
    $("#bulk-status").textContent = `${updated.length} alert(s) ${action === "acknowledged" ? "acknowledged" : "closed"}.`;
    if (alertState.selected && ids.includes(alertState.selected)) openAlert(alertState.selected);
  } catch (err) {
    $("#bulk-status").textContent = "Not saved: " + err.message;
  }
}

// a Sigma rule's description, attribution (the Detection Rule License asks for it) and known false positives
function ruleAboutHtml(rule) {
  if (!rule) return "";
  const link = (u) => /^https?:\/\//i.test(u)
    ? `<a href="${esc(u)}" target="_blank" rel="noopener noreferrer">${esc(u)}</a>` : esc(u);
  return `<h3>About the rule</h3><div class="rule-about">
      ${rule.description ? `<p>${esc(rule.description)}</p>` : ""}
      <dl>${rule.author ? `<dt>Author</dt><dd>${esc(rule.author)}</dd>` : ""}
      ${rule.references.length ? `<dt>References</dt><dd><ul>${rule.references.map((u) => `<li>${link(u)}</li>`).join("")}</ul></dd>` : ""}
      ${rule.false_positives.length ? `<dt>False positives</dt><dd><ul>${rule.false_positives.map((f) => `<li>${esc(f)}</li>`).join("")}</ul></dd>` : ""}</dl></div>`;
}

async function openAlert(id) {
  alertState.selected = id;
  for (const tr of document.querySelectorAll("#alerts tbody tr")) tr.classList.toggle("selected", tr.dataset.id === id);
  $("#alert-detail-empty").hidden = true;
  const body = $("#alert-detail-body");
  body.hidden = false;
  try {
    const a = await api("/alerts/" + encodeURIComponent(id));
    body.innerHTML = `<h2 class="risk-${esc(a.level)}">${esc(a.title)}</h2>
      <dl><dt>Detection</dt><dd>${esc(a.detection)} · ${esc(a.threat_type)}</dd>
      <dt>Entity</dt><dd>${entityLink(a.entity_kind, a.entity_value)}</dd>
      <dt>Hits</dt><dd>${esc(a.count)} between ${esc(when(a.first_seen))} and ${esc(when(a.last_seen))}</dd>
      <dt>Window</dt><dd>${esc(when(a.window_start))} + ${esc(a.window_seconds)} s</dd>
      <dt>Status</dt><dd class="status-${esc(a.status)}" id="alert-status">${esc(a.status)}${a.resolution ? " · " + esc(a.resolution) : ""}</dd>
      <dt>Assignee</dt><dd>${esc(a.assignee || "—")}</dd>
      <dt>Tactics</dt><dd>${chainHtml(a.tactics)}</dd><dt>MITRE</dt><dd>${list(a.mitre_ids)}</dd>
      <dt>Incident</dt><dd>${a.incident_id ? `<a id="alert-incident" href="#/incidents/${esc(a.incident_id)}">open the incident</a>` : "none"}</dd>
      <dt>Notes</dt><dd>${esc(a.notes || "")}</dd></dl>
      ${ruleAboutHtml(a.rule)}
      <h3>Sample events</h3><ul>${a.sample_events.map((e) => e.expired ? `<li>${esc(e.event_id)} <em>expired</em></li>` : `<li class="sample"><a href="#/events" data-event="${esc(e.event_id)}" title="${esc(e.event_id)}">${esc(when(e.event_time))}</a> <span title="${esc(e.title || "")}">${esc(e.title || "")}</span></li>`).join("")}</ul>
      <div class="triage triage-only">
        <div class="row"><label>Assignee <input id="triage-assignee" maxlength="64" value="${esc(a.assignee || state.user.username)}"></label>
          <button type="button" data-triage="acknowledged">Acknowledge</button></div>
        <textarea id="triage-notes" rows="2" maxlength="4000" placeholder="Notes">${esc(a.notes || "")}</textarea>
        <div class="row"><button type="button" data-triage="true_positive">Close: true positive</button>
          <button type="button" data-triage="false_positive">Close: false positive</button>
          <button type="button" data-triage="benign">Close: benign</button></div>
        <p id="triage-status" role="status"></p>
      </div>
      <h3>History</h3>${auditHtml(a.audit)}`;
    for (const b of body.querySelectorAll("button[data-triage]")) b.addEventListener("click", () => triage(id, b.dataset.triage));
    for (const link of body.querySelectorAll("a[data-event]")) link.addEventListener("click", () => openDetail(link.dataset.event));
  } catch (err) {
    body.innerHTML = `<p class="error">Could not load the alert: ${esc(err.message)}</p>`;
  }
}

function auditHtml(audit) {
  if (!(audit || []).length) return "<p class=\"empty\">No changes yet.</p>";
  return "<ul class=\"audit\">" + audit.map((t) => `<li><time>${esc(when(t.at))}</time> <b>${esc(t.actor)}</b> ${esc(t.action)}: ` +
    Object.entries(t.changes || {}).map(([k, v]) => `${esc(k)} ${Array.isArray(v) ? esc(v[0] ?? "—") + " → " + esc(v[1] ?? "—") : esc(v)}`).join(", ") + "</li>").join("") + "</ul>";
}

async function triage(id, action) {
  const payload = triageBody(action);
  payload.notes = $("#triage-notes").value.trim() || null;
  if (action === "acknowledged") payload.assignee = $("#triage-assignee").value.trim() || state.user.username;
  try {
    const a = await api("/alerts/" + encodeURIComponent(id), {method: "PATCH",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(payload)});
    putAlert(a, {replace: true});
    await openAlert(id);
    $("#triage-status").textContent = action === "acknowledged" ? "Acknowledged." : "Closed: " + action.replace("_", " ") + ".";
  } catch (err) {
    $("#triage-status").textContent = "Not saved: " + err.message;
  }
}

// ------------------------------------------------------------------ incidents

function incidentRow(i) {
  return `<td class="risk-${esc(i.severity)}">${esc(i.severity)}</td><td><a href="#/incidents/${esc(i.id)}">${esc(i.title)}</a></td>` +
    `<td>${chainHtml(i.tactics)}</td><td>${esc(i.alert_count)}</td><td>${esc(i.hit_count)}</td>` +
    `<td>${esc(when(i.last_seen))}</td><td class="status-${esc(i.status)}">${esc(i.status)}</td>`;
}

async function loadIncidents(reset) {
  if (reset) { incidentState.cursor = null; $("#incidents tbody").innerHTML = ""; }
  const params = new URLSearchParams({limit: "50"});
  const s = $("#incident-status").value;
  if (s) params.set("status", s);
  if (incidentState.cursor) params.set("cursor", incidentState.cursor);
  const page = await api("/incidents?" + params);
  for (const i of page.items) {
    const tr = document.createElement("tr");
    tr.dataset.id = i.id;
    tr.innerHTML = incidentRow(i);
    tr.addEventListener("click", (e) => { if (!e.target.closest("a")) location.hash = "#/incidents/" + i.id; });
    $("#incidents tbody").append(tr);
  }
  incidentState.cursor = page.next_cursor;
  $("#incidents-more").hidden = !page.next_cursor;
  $("#incidents-empty").hidden = $("#incidents tbody").rows.length > 0;
}

async function openIncident(id) {
  const el = $("#incident-page");
  el.innerHTML = "<p class=\"empty\">Loading…</p>";
  try {
    const i = await api("/incidents/" + encodeURIComponent(id));
    const s = i.story;
    el.innerHTML = `<h2><span class="risk-${esc(i.severity)}">${esc(i.severity)}</span> ${esc(i.title)}
        <small class="status-${esc(i.status)}" id="incident-status-label">${esc(i.status)}</small></h2>
      <div class="incident-grid"><div>
        <h3>Story</h3>` + (s ? `<div class="story" id="story"><p>${esc(s.summary)}</p>
          <p><b>Verdict:</b> ${esc(s.verdict.replace("_", " "))} · confidence ${Number(s.confidence).toFixed(2)}</p>
          <b>Next steps</b><ol>${s.next_steps.map((n) => `<li>${esc(n)}</li>`).join("")}</ol>
          <p class="source">written by ${esc(s.source)}${s.why ? " (" + esc(s.why) + ")" : ""}</p></div>` : "<p class=\"empty\">No story yet.</p>") +
        `<h3>Timeline</h3><ul class="timeline">${i.timeline.map((t) => `<li class="${esc(t.kind)}"><time>${esc(when(t.at))}</time>` +
          (t.kind === "alert" ? `<b class="risk-${esc(t.level)}">${esc(t.title)}</b> ×${esc(t.count)} ${chainHtml(t.tactics)}` : esc(t.title)) + "</li>").join("")}</ul>
      </div><div>
        <dl><dt>Tactic chain</dt><dd>${chainHtml(i.tactics)}</dd><dt>Alerts</dt><dd>${esc(i.alert_count)} (${esc(i.hit_count)} hits)</dd>
          <dt>Seen</dt><dd>${esc(when(i.first_seen))} – ${esc(when(i.last_seen))}</dd></dl>
        <h3>Entities</h3>${entitiesHtml(i.entities)}
        <h3>History</h3>${auditHtml(i.audit)}
      </div></div>
      <h3>Alerts</h3><table class="fixed incident-alerts"><colgroup><col class="w8"><col class="w40"><col class="w20"><col class="w6"><col class="w16"><col class="w10"></colgroup>
        <thead><tr><th>level</th><th>alert</th><th>entity</th><th>hits</th><th>last seen</th><th>status</th></tr></thead><tbody>` +
        i.alerts.map((a) => `<tr data-id="${esc(a.id)}"><td class="risk-${esc(a.level)}">${esc(a.level)}</td><td><a href="#/alerts" data-alert="${esc(a.id)}">${esc(a.title)}</a></td>` +
          `<td>${entityLink(a.entity_kind, a.entity_value)}</td><td>${esc(a.count)}</td><td>${esc(when(a.last_seen))}</td><td class="status-${esc(a.status)}">${esc(a.status)}</td></tr>`).join("") +
      "</tbody></table>";
    for (const link of el.querySelectorAll("a[data-alert]")) {
      link.addEventListener("click", (e) => { e.preventDefault(); showAlertInQueue(link.dataset.alert); });
    }
  } catch (err) {
    el.innerHTML = `<p class="error">Could not load the incident: ${esc(err.message)}</p>`;
  }
}

async function showAlertInQueue(id) {
  location.hash = "#/alerts";
  $("#alert-filters").elements.status.value = "";
  await loadAlerts(true);
  await openAlert(id);
}

// ------------------------------------------------------------------ entities and ATT&CK

async function openEntity(kind, value) {
  const el = $("#entity-page");
  el.innerHTML = "<p class=\"empty\">Loading…</p>";
  try {
    const e = await api(`/entities/${encodeURIComponent(kind)}/${encodeURIComponent(value)}`);
    el.innerHTML = `<h2>${esc(e.kind)} <b>${esc(e.value)}</b></h2>
      <h3>Recent events <small><a href="#/events" id="entity-events">all events of this ${esc(e.kind)}</a></small></h3>` +
      (e.recent_events.length ? "<ul class=\"recent\">" + e.recent_events.map((ev) => `<li><time>${esc(when(ev.timestamp))}</time> ` +
        `<span class="risk-${esc(ev.verdict ? ev.verdict.risk_level : "")}">${esc(ev.verdict ? ev.verdict.risk_level : "pending")}</span> ` +
        `${esc(ev.event_type)}/${esc(ev.action || "")} ${esc(ev.outcome)} ${esc(ev.source_ip || "")} → ${esc(ev.destination_host || "")}</li>`).join("") + "</ul>"
        : "<p class=\"empty\">None.</p>") + `
      <h3>Incidents</h3>` + (e.incidents.length ? "<ul>" + e.incidents.map((i) =>
        `<li><span class="risk-${esc(i.severity)}">${esc(i.severity)}</span> <a href="#/incidents/${esc(i.id)}">${esc(i.title)}</a> ${chainHtml(i.tactics)}</li>`).join("") + "</ul>" : "<p class=\"empty\">None.</p>") +
      `<h3>Alerts</h3>` + (e.alerts.length ? "<ul>" + e.alerts.map((a) =>
        `<li><span class="risk-${esc(a.level)}">${esc(a.level)}</span> <a href="#/alerts" data-alert="${esc(a.id)}">${esc(a.title)}</a> ×${esc(a.count)} · ${esc(when(a.last_seen))} · <span class="status-${esc(a.status)}">${esc(a.status)}</span></li>`).join("") + "</ul>" : "<p class=\"empty\">None.</p>");
    for (const link of el.querySelectorAll("a[data-alert]")) {
      link.addEventListener("click", (ev) => { ev.preventDefault(); showAlertInQueue(link.dataset.alert); });
    }
    $("#entity-events").addEventListener("click", () => {
      const form = $("#filters");
      form.reset();
      const field = {ip: "source_ip", user: "user", host: "host"}[e.kind];
      if (field) form.elements[field].value = e.value;
      setTimeout(() => loadEvents(true), 0);
    });
  } catch (err) {
    el.innerHTML = `<p class="error">Could not load the entity: ${esc(err.message)}</p>`;
  }
}

async function loadAttack() {
  const el = $("#attack-matrix");
  try {
    const heat = await api("/alerts/attack");
    const max = Math.max(1, ...heat.techniques.map((t) => t.hits));
    el.innerHTML = TACTICS.map((tactic) => {
      const total = heat.tactics.find((t) => t.tactic === tactic);
      const cells = heat.techniques.filter((t) => t.tactic === tactic).sort((a, b) => b.hits - a.hits);
      return `<div class="tactic" data-tactic="${esc(tactic)}"><h3>${esc(tactic.replace(/-/g, " "))} ${total ? `<small>${total.alerts} (${total.hits})</small>` : ""}</h3>` +
        (cells.length ? cells.map((c) => `<div class="cell heat-${Math.min(4, Math.floor(5 * c.hits / max))}" title="${esc(c.technique)}: ${c.alerts} alerts, ${c.hits} hits">${esc(c.technique)} · ${c.alerts} (${c.hits})</div>`).join("")
          : "<p class=\"none\">no alerts</p>") + "</div>";
    }).join("");
  } catch (err) {
    el.innerHTML = `<p class="error">Could not load the matrix: ${esc(err.message)}</p>`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  window.addEventListener("hashchange", route);
  $("#alert-filters").addEventListener("submit", (e) => { e.preventDefault(); $("#alert-filter-error").textContent = ""; loadAlerts(true); });
  $("#alerts-more").addEventListener("click", () => loadAlerts(false));
  $("#incidents-more").addEventListener("click", () => loadIncidents(false));
  $("#incident-status").addEventListener("change", () => loadIncidents(true));
  $("#select-all").addEventListener("change", (e) => {
    for (const box of document.querySelectorAll("#alerts .pick")) box.checked = e.target.checked;
  });
  for (const b of document.querySelectorAll("#bulk-bar button[data-bulk]")) b.addEventListener("click", () => bulk(b.dataset.bulk));
});
