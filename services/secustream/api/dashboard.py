"""Minimal live page for `secustream up`: newest verdicts, refreshed every two seconds, no CDN."""

DASHBOARD_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SecuStreamAI</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;background:#0f172a;color:#e2e8f0}
h1{font-size:1.3rem} table{border-collapse:collapse;width:100%;font-size:.85rem}
td,th{padding:.3rem .5rem;border-bottom:1px solid #334155;text-align:left}
.critical{color:#f87171;font-weight:bold}.high{color:#fb923c}.medium{color:#facc15}.low{color:#94a3b8}
#status{color:#94a3b8;font-size:.8rem}
</style></head><body>
<h1>SecuStreamAI &mdash; live verdicts</h1><div id="status">loading&hellip;</div>
<table><thead><tr><th>time</th><th>type</th><th>source</th><th>user</th><th>risk</th><th>threat</th>
<th>tier</th><th>reason</th></tr></thead><tbody id="rows"></tbody></table>
<script>
const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
async function refresh(){
  try{
    const r = await fetch("{{API}}/events?limit=100");
    if(!r.ok){throw new Error(r.status)}
    const page = await r.json();
    document.getElementById("rows").innerHTML = page.items.map(e => {
      const v = e.verdict || {};
      return `<tr><td>${esc(e.timestamp)}</td><td>${esc(e.event_type)}</td><td>${esc(e.source_ip)}</td>
        <td>${esc(e.source_user)}</td><td class="${esc(v.risk_level)}">${esc(v.risk_level)}</td>
        <td>${esc(v.threat_type)}</td><td>${esc(v.tier)}</td><td>${esc(v.reason)}</td></tr>`}).join("");
    document.getElementById("status").textContent = page.items.length
      ? `${page.items.length} newest events, updated ${new Date().toLocaleTimeString()}`
      : "No events yet: waiting for the analyzer.";
  }catch(err){document.getElementById("status").textContent = "API unreachable: " + err}
}
refresh(); setInterval(refresh, 2000);
</script></body></html>
"""
