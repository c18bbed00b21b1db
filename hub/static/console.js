"use strict";
// Operator console: polls the hub's REST API with the operator's bearer token.
const params = new URLSearchParams(location.search);
if (params.get("token")) { localStorage.setItem("govedge.token", params.get("token")); history.replaceState(null, "", "/"); }
let token = localStorage.getItem("govedge.token") || "";
let selected = null, selectedMetric = null;

function showError(text) {
  const el = document.getElementById("error");
  el.textContent = text; el.hidden = !text;
}

async function api(path) {
  const resp = await fetch("/api/v1" + path, { headers: { Authorization: "Bearer " + token } });
  if (resp.status === 401) { document.getElementById("login").hidden = false; throw new Error("Sign in with an API token"); }
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}

function ago(ts) {
  if (!ts) return "never";
  const s = Math.max(0, Date.now() / 1000 - ts);
  return s < 60 ? `${Math.round(s)} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : new Date(ts * 1000).toLocaleString();
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  children.forEach((c) => node.append(c));
  return node;
}

async function refresh() {
  try {
    const [health, devices] = await Promise.all([api("/health"), api("/devices?limit=1000")]);
    document.getElementById("summary").textContent =
      `${health.online} / ${health.devices} online · ${health.sick.length} need attention · ${health.ingest.accepted} messages` +
      Object.entries(health.ingest.lanes || {}).map(([lane, l]) =>
        ` · ${lane}: ${l.unacked} waiting, lag ${l.lag_s.toFixed(1)} s`).join("");
    const body = document.querySelector("#devices tbody");
    body.replaceChildren(...devices.items.map((d) => {
      const drivers = Object.entries((d.health && d.health.drivers) || {});
      const bad = drivers.filter(([, h]) => h.state !== "online");
      const state = !d.online ? "offline" : bad.length ? "sick" : "online";
      const row = el("tr", { "data-id": d.id, class: d.id === selected ? "selected" : "" },
        el("td", {}, d.id), el("td", {}, d.model), el("td", {}, d.site),
        el("td", {}, el("span", { class: "state " + state }, state)),
        el("td", {}, ago(d.last_seen)),
        el("td", {}, bad.map(([n, h]) => `${n}: ${h.state}`).join(", ") || (drivers.length ? "all online" : "")));
      row.addEventListener("click", () => { selected = d.id; selectedMetric = null; refresh(); });
      return row;
    }));
    if (!selected && devices.items.length) selected = devices.items[0].id;
    if (selected) await showDevice(selected);
    showError("");
  } catch (err) { showError(err.message); }
}

async function showDevice(id) {
  const latest = await api(`/devices/${encodeURIComponent(id)}/telemetry/latest`);
  const names = Object.keys(latest.metrics).sort();
  if (!selectedMetric || !names.includes(selectedMetric)) selectedMetric = names[0] || null;
  document.getElementById("detail").hidden = false;
  document.getElementById("detail-title").textContent = id;
  document.getElementById("latest").replaceChildren(...names.map((n) => {
    const m = el("div", { class: "metric" + (n === selectedMetric ? " active" : "") }, n, el("b", {}, String(Math.round(latest.metrics[n].value * 100) / 100)));
    m.addEventListener("click", () => { selectedMetric = n; showDevice(id); });
    return m;
  }));
  const svg = document.getElementById("chart");
  if (!selectedMetric) { svg.replaceChildren(); return; }
  const series = await api(`/devices/${encodeURIComponent(id)}/telemetry?metric=${encodeURIComponent(selectedMetric)}&start=-10m&limit=2000`);
  const pts = series.items;
  if (pts.length < 2) { svg.replaceChildren(); return; }
  const t0 = pts[0].ts, t1 = pts[pts.length - 1].ts;
  const vs = pts.map((p) => p.value), lo = Math.min(...vs), hi = Math.max(...vs), span = hi - lo || 1;
  const path = pts.map((p, i) => `${i ? "L" : "M"}${((p.ts - t0) / (t1 - t0 || 1)) * 590 + 5},${150 - ((p.value - lo) / span) * 140}`).join(" ");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
  line.setAttribute("d", path); line.setAttribute("fill", "none"); line.setAttribute("stroke", "#12355b"); line.setAttribute("stroke-width", "2");
  svg.replaceChildren(line);
}

document.getElementById("save").addEventListener("click", () => {
  token = document.getElementById("token").value.trim();
  localStorage.setItem("govedge.token", token);
  document.getElementById("login").hidden = true;
  refresh();
});
if (!token) document.getElementById("login").hidden = false;
refresh();
setInterval(refresh, 2000);
