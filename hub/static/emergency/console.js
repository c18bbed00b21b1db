"use strict";
// Emergency console: the live alarm list from the hub's WebSocket feed, a map of the sensors
// drawn from device coordinates (no map tiles), acknowledge / assign / dispatch, resources.
const params = new URLSearchParams(location.search);
if (params.get("token")) {
  localStorage.setItem("govedge.token", params.get("token"));
  history.replaceState(null, "", "/emergency");
}
let token = localStorage.getItem("govedge.token") || "";

const SEVERITIES = ["critical", "major", "minor", "warning", "info"];
const SEV_LABEL = { critical: "特别严重 Critical", major: "严重 Major", minor: "较重 Minor",
  warning: "一般 Warning", info: "提示 Info" };
const DISPATCH_LABEL = { "": "未派遣 Not assigned", assigned: "已派遣 Assigned",
  en_route: "在途 En route", on_site: "到场 On site", resolved: "已处置 Resolved" };
const NEXT_STATE = { assigned: "en_route", en_route: "on_site", on_site: "resolved" };
const KIND_LABEL = { team: "队伍 Team", supply: "物资 Supplies", shelter: "避难所 Shelter" };

const UNITS = { water_level_m: "m", temperature: "°C", "room.temperature": "°C", humidity: "%", "room.humidity": "%",
  pm2_5: "µg/m³", pm10: "µg/m³", so2: "µg/m³", no2: "µg/m³", o3: "µg/m³", co: "mg/m³", obscuration: "%/m",
  rainfall_mm: "mm", flow_m3s: "m³/s" };
const EMERGENCY_ROLES = ["admin", "emergency"];
const alarms = new Map();   // id -> alarm, as the feed carries it
const rules = new Map();    // rule id -> rule (its name and metric)
const teamChoice = new Map();  // alarm id -> team picked (survives re-rendering)
let devices = [], resources = [], cursor = 0, selected = null, socket = null, loaded = false;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  children.forEach((c) => node.append(c));
  return node;
}
function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  return node;
}
function showError(text) {
  const box = document.getElementById("error");
  box.textContent = text; box.hidden = !text;
}
function absTime(ts) { return new Date(ts * 1000).toLocaleString("zh-CN", { hour12: false }); }
function ago(ts) {
  const s = Math.max(0, Date.now() / 1000 - ts);
  if (s < 60) return `${Math.round(s)} 秒 s`;
  if (s < 3600) return `${Math.round(s / 60)} 分 min`;
  if (s < 86400) return `${(s / 3600).toFixed(1)} 时 h`;
  return absTime(ts);
}
// A relative time that shows the absolute time on hover.
function when(ts) { return el("time", { title: absTime(ts), datetime: new Date(ts * 1000).toISOString() }, ago(ts)); }
function ruleName(id) { const r = rules.get(id); return (r && r.name) || id; }
function withUnit(a) {
  if (a.value == null) return "—";
  const r = rules.get(a.rule_id);
  const unit = r && r.metric ? UNITS[r.metric] || "" : "";
  return `${Math.round(a.value * 100) / 100}${unit ? " " + unit : ""}`;
}

async function api(path, method = "GET", body = undefined) {
  const resp = await fetch("/api/v1" + path, {
    method,
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (resp.status === 401) { signIn("令牌无效或已吊销，请重新登录。 That token is unknown or revoked: sign in again."); throw new Error("signed out"); }
  let data = {};
  try { data = await resp.json(); } catch (err) { data = {}; }
  if (resp.status === 403) {
    const role = (data.error || "").match(/role '([^']+)'/);
    signIn(`此令牌的角色${role ? "（" + role[1] + "）" : ""}不能使用应急指挥台，请用应急或管理员令牌登录。 ` +
      `This token's role${role ? " (" + role[1] + ")" : ""} cannot use the emergency console: sign in with an emergency or admin token.`);
    throw new Error("wrong role");
  }
  if (!resp.ok) throw new Error(data.error || resp.statusText);
  return data;
}

function inHand(a) {
  return a.state === "active" || ["assigned", "en_route", "on_site"].includes(a.dispatch_state);
}
function teamName(id) {
  const team = resources.find((r) => String(r.id) === String(id));
  return team ? team.name : `#${id}`;
}

function renderAlarms() {
  const list = [...alarms.values()].filter(inHand).sort((a, b) =>
    (a.state === "active" ? 0 : 1) - (b.state === "active" ? 0 : 1) ||
    SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || b.raised_at - a.raised_at);
  const teams = resources.filter((r) => r.kind === "team");
  const rows = list.map((a) => {
    const sev = el("span", { class: `sev ${a.severity}` }, SEV_LABEL[a.severity] || a.severity);
    const handling = el("div", {},
      el("div", {}, a.acknowledged ? `已确认 Acknowledged · ${a.ack_by}` : "未确认 Not acknowledged"),
      el("div", { "data-testid": "dispatch" }, DISPATCH_LABEL[a.dispatch_state || ""] +
        (a.assigned_team ? ` · ${teamName(a.assigned_team)}` : "")));
    if (a.state !== "active") handling.append(el("div", { class: "quiet" }, "已解除 Cleared"));
    const actions = el("div", { class: "actions" });
    const ack = el("button", { class: "ack", "data-testid": "ack" }, "确认 Acknowledge");
    ack.disabled = !!a.acknowledged;
    ack.onclick = (ev) => { ev.stopPropagation(); act(`/alarms/${a.id}/ack`, { note: "" }); };
    actions.append(ack);
    if (a.dispatch_state !== "resolved" && teams.length) {  // no team to pick: no empty list
      const pick = el("select", { "data-testid": "team", "aria-label": "team" },
        ...teams.map((t) => el("option", { value: String(t.id) }, t.name)));
      pick.onclick = (ev) => ev.stopPropagation();
      const chosen = teamChoice.get(a.id) || a.assigned_team;
      if (chosen && teams.some((t) => String(t.id) === String(chosen))) pick.value = String(chosen);
      pick.onchange = () => teamChoice.set(a.id, pick.value);
      const assign = el("button", { "data-testid": "assign" }, a.assigned_team ? "改派 Reassign" : "派遣 Assign");
      assign.disabled = teams.length === 0;
      assign.onclick = (ev) => { ev.stopPropagation(); act(`/alarms/${a.id}/assign`, { team: Number(pick.value) }); };
      actions.append(pick, assign);
    }
    const next = NEXT_STATE[a.dispatch_state];
    if (next) {
      const step = el("button", { "data-testid": "advance" }, "→ " + DISPATCH_LABEL[next]);
      step.onclick = (ev) => { ev.stopPropagation(); act(`/alarms/${a.id}/dispatch`, { state: next }); };
      actions.append(step);
    }
    const tr = el("tr", { class: `alarm ${a.state}${selected === a.id ? " selected" : ""}`,
      "data-alarm": String(a.id), "data-testid": "alarm" },
      el("td", {}, sev),
      el("td", { class: "device" }, el("div", {}, a.device_id), el("div", { class: "rule", title: a.rule_id }, ruleName(a.rule_id)),
        a.message ? el("div", { class: "quiet msg" }, a.message) : ""),
      el("td", { class: "value" }, withUnit(a)),
      el("td", { class: "since" }, when(a.raised_at)),
      el("td", {}, handling),
      el("td", {}, actions));
    tr.onclick = () => select(a.id);
    return tr;
  });
  document.querySelector("#alarms tbody").replaceChildren(...rows);
  document.getElementById("no-alarms").hidden = !loaded || rows.length > 0;
  const active = list.filter((a) => a.state === "active").length;
  const handling = list.filter((a) => ["assigned", "en_route", "on_site"].includes(a.dispatch_state)).length;
  const unacked = list.filter((a) => a.state === "active" && !a.acknowledged).length;
  document.getElementById("counts").textContent =
    `活动告警 Active: ${active} · 未确认 Unacknowledged: ${unacked} · 处置中 Dispatched: ${handling}`;
  renderMap();
}

function renderMap() {
  const map = document.getElementById("map");
  const worst = new Map();
  for (const a of alarms.values()) {
    if (a.state !== "active") continue;
    const prev = worst.get(a.device_id);
    if (!prev || SEVERITIES.indexOf(a.severity) < SEVERITIES.indexOf(prev)) worst.set(a.device_id, a.severity);
  }
  const placed = devices.filter((d) => d.location);
  const labels = [];
  const points = placed.map((d) => d.location).concat(resources.map((r) => r.location));
  const nodes = [];
  if (points.length) {
    // Equirectangular projection around the centre, longitudes shrunk by cos(latitude).
    const lats = points.map((p) => p.lat), lons = points.map((p) => p.lon);
    const midLat = (Math.min(...lats) + Math.max(...lats)) / 2;
    const k = Math.cos(midLat * Math.PI / 180);
    const minX = Math.min(...lons) * k, maxX = Math.max(...lons) * k;
    const minY = Math.min(...lats), maxY = Math.max(...lats);
    const span = Math.max(maxX - minX, maxY - minY, 1e-4);
    const scale = Math.min(440 / Math.max(maxX - minX, span * 0.2), 360 / Math.max(maxY - minY, span * 0.2));
    const cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
    const at = (p) => [280 + (p.lon * k - cx) * scale, 220 - (p.lat - cy) * scale];
    for (let i = 1; i < 6; i++) {
      nodes.push(svg("line", { class: "grid", x1: i * 100, y1: 0, x2: i * 100, y2: 440 }));
      nodes.push(svg("line", { class: "grid", x1: 0, y1: i * 80, x2: 600, y2: i * 80 }));
    }
    for (const r of resources) {
      const [x, y] = at(r.location);
      const shape = svg("rect", { class: `res ${r.kind}`, x: x - 7, y: y - 7, width: 14, height: 14 });
      const title = svg("title"); title.textContent = `${KIND_LABEL[r.kind]}: ${r.name}`;
      shape.append(title);
      nodes.push(shape);
    }
    for (const d of placed) {
      const [x, y] = at(d.location);
      const sev = worst.get(d.id);
      const sel = selected && alarms.get(selected) && alarms.get(selected).device_id === d.id;
      const dot = svg("circle", { class: `sensor ${sev || "ok"}${sel ? " selected" : ""}`, cx: x, cy: y,
        r: sev ? 12 : 8, "data-device": d.id });
      const tip = svg("title"); tip.textContent = `${d.id}${sev ? " · " + SEV_LABEL[sev] : ""}`;
      dot.append(tip);
      nodes.push(dot);
      if (sev || sel) labels.push({ x, y, text: d.id, sel });
    }
    // Labels are placed greedily: one that would overlap a placed label moves down, or is
    // left out (the name stays on hover) when there is no room.
    const placed2 = [];
    labels.sort((a, b) => (b.sel ? 1 : 0) - (a.sel ? 1 : 0));
    for (const l of labels) {
      const w = l.text.length * 7.2 + 4, h = 15;
      const left = l.x + 14 + w > 598;  // near the right edge: the label goes on the left
      const x1 = left ? l.x - 14 - w : l.x + 14;
      let y = l.y + 5, ok = false;
      for (let tries = 0; tries < 4 && !ok; tries++) {
        const box = { x1, x2: x1 + w, y1: y - 12, y2: y - 12 + h };
        ok = !placed2.some((b) => box.x1 < b.x2 && b.x1 < box.x2 && box.y1 < b.y2 && b.y1 < box.y2);
        if (ok) { placed2.push(box); break; }
        y += h;
      }
      if (!ok) continue;
      const label = svg("text", { x: x1, y, class: "sensor-label" }); label.textContent = l.text;
      nodes.push(label);
    }
  } else {
    const note = svg("text", { x: 20, y: 40 }); note.textContent = "无位置数据 No device locations";
    nodes.push(note);
  }
  map.replaceChildren(...nodes);
}

function renderResources() {
  const order = ["team", "supply", "shelter"];
  const rows = [...resources].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || a.name.localeCompare(b.name))
    .map((r) => el("tr", { "data-testid": "resource" },
      el("td", {}, KIND_LABEL[r.kind]),
      el("td", {}, r.name, r.contact ? el("div", { class: "quiet" }, r.contact) : ""),
      el("td", {}, `${r.available} / ${r.capacity}${r.unit ? " " + r.unit : ""}`)));
  document.querySelector("#resources tbody").replaceChildren(...rows);
}

async function select(id) {
  selected = id;
  renderAlarms();
  const box = document.getElementById("nearest");
  try {
    const near = await api(`/alarms/${id}/nearest?limit=5`);
    document.getElementById("nearest-alarm").textContent = `#${id}`;
    document.getElementById("nearest-list").replaceChildren(...near.items.map((r) =>
      el("li", { "data-testid": "nearest" }, `${KIND_LABEL[r.kind]} · ${r.name} · ${(r.distance_m / 1000).toFixed(2)} km`)));
    box.hidden = false;
  } catch (err) {
    box.hidden = true;
  }
}

async function act(path, body) {
  try {
    const alarm = await api(path, "POST", body);
    if (alarm && alarm.id) alarms.set(alarm.id, alarm);
    showError("");
    renderAlarms();
  } catch (err) { showError(err.message); }
}

function setLink(up) {
  const box = document.getElementById("link");
  box.className = `link ${up ? "up" : "down"}`;
  box.replaceChildren(up ? "实时 " : "重连中 ", el("span", { class: "en" }, up ? "Live" : "Reconnecting"));
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${proto}://${location.host}/api/v1/feed?cursor=${cursor}&access_token=${encodeURIComponent(token)}`);
  socket.onopen = () => setLink(true);
  socket.onmessage = (msg) => {
    const data = JSON.parse(msg.data);
    if (data.type !== "event") return;
    cursor = Math.max(cursor, data.cursor);  // resume from here after a disconnect
    alarms.set(data.alarm_id, data.alarm);
    renderAlarms();
    if (data.alarm && data.alarm.state === "cleared") loadHistory();
  };
  socket.onclose = () => { setLink(false); setTimeout(connect, 1000); };
}

function signIn(reason) {
  if (socket) { socket.onclose = null; socket.close(); socket = null; }
  loaded = false;
  alarms.clear();
  document.querySelector("#alarms tbody").replaceChildren();
  document.getElementById("no-alarms").hidden = true;
  document.getElementById("counts").textContent = "";
  const box = document.getElementById("link");
  box.className = "link down";
  box.replaceChildren("未登录 ", el("span", { class: "en" }, "Signed out"));
  showError("");
  document.getElementById("login-reason").textContent = reason;
  document.getElementById("login").hidden = false;
  document.getElementById("token-input").focus();
}

async function start() {
  if (!token) { signIn("请使用应急或管理员令牌登录。 Sign in with an emergency or admin token."); return; }
  try {
    const [snap, devs, res, rl] = await Promise.all([
      api("/feed/snapshot"), api("/devices?limit=1000"), api("/resources"), api("/rules")]);
    cursor = snap.cursor;
    snap.items.forEach((a) => alarms.set(a.id, a));
    rl.items.forEach((r) => rules.set(r.id, r));
    devices = devs.items; resources = res.items;
    loaded = true;
    document.getElementById("login").hidden = true;
    showError("");  // a sign-in banner from before goes once the console has what it needs
    renderResources(); renderAlarms(); fillSites(); loadHistory();
    connect();
  } catch (err) {
    if (!["signed out", "wrong role"].includes(err.message)) showError(err.message);
  }
}

document.getElementById("login").onsubmit = (ev) => {
  ev.preventDefault();
  token = document.getElementById("token-input").value.trim();
  localStorage.setItem("govedge.token", token);
  start();
};
document.getElementById("signout").onclick = () => {
  localStorage.removeItem("govedge.token"); token = "";
  signIn("已退出。请使用应急或管理员令牌登录。 Signed out: sign in with an emergency or admin token.");
};

// Alarm history: cleared alarms stay findable (acknowledged or not), by severity, site and time.
function fillSites() {
  const pick = document.getElementById("h-site");
  const sites = [...new Set(devices.map((d) => d.site).filter(Boolean))].sort();
  pick.replaceChildren(el("option", { value: "" }, "全部站点 All sites"), ...sites.map((s) => el("option", { value: s }, s)));
}
async function loadHistory() {
  const sev = document.getElementById("h-severity").value;
  const site = document.getElementById("h-site").value;
  const hours = Number(document.getElementById("h-time").value);
  const q = new URLSearchParams({ state: "cleared", limit: "500" });
  if (sev) q.set("severity", sev);
  if (site) q.set("site", site);
  try {
    const data = await api(`/alarms?${q}`);
    const since = hours ? Date.now() / 1000 - hours * 3600 : 0;
    const items = data.items.filter((a) => a.raised_at >= since);
    document.querySelector("#history tbody").replaceChildren(...items.map((a) => el("tr", { "data-testid": "history-row", "data-alarm": String(a.id) },
      el("td", {}, el("span", { class: `sev ${a.severity}` }, SEV_LABEL[a.severity] || a.severity)),
      el("td", { class: "device" }, el("div", {}, a.device_id), el("div", { class: "rule" }, ruleName(a.rule_id))),
      el("td", {}, withUnit(a)),
      el("td", {}, when(a.raised_at), el("div", { class: "quiet" }, "→ ", a.cleared_at ? when(a.cleared_at) : "")),
      el("td", {}, a.acknowledged ? `已确认 Acknowledged · ${a.ack_by}` : el("span", { class: "unacked" }, "未确认即解除 Cleared unacknowledged")))));
    document.getElementById("no-history").hidden = items.length > 0;
  } catch (err) { if (!["signed out", "wrong role"].includes(err.message)) showError(err.message); }
}
["h-severity", "h-site", "h-time"].forEach((id) => { document.getElementById(id).onchange = loadHistory; });
setInterval(async () => {
  if (!loaded) return;
  try { resources = (await api("/resources")).items; renderResources(); } catch (err) { /* next time */ }
}, 15000);
setInterval(renderAlarms, 30000);
start();
