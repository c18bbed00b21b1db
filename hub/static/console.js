"use strict";
// Operator console core: token and role, API calls, confirmations, the router, the live link.
// Views (console-views.js) register themselves in VIEWS; a live update re-renders the current
// view's data without reloading the page.
const TOKEN_KEY = "govedge.operator.token";
const params = new URLSearchParams(location.search);
if (params.get("token")) {
  localStorage.setItem(TOKEN_KEY, params.get("token"));
  history.replaceState(null, "", "/" + location.hash);
}
let token = localStorage.getItem(TOKEN_KEY) || "";
let role = "";
const READ_ROLES = ["admin", "operator", "viewer", "emergency"];
const VIEWS = {};
let current = null, socket = null, refreshTimer = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => {
    if (k === "onclick" || k === "onchange" || k === "oninput" || k === "onsubmit") node[k] = v;
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  });
  children.flat().forEach((c) => { if (c !== null && c !== undefined && c !== false) node.append(c); });
  return node;
}
function canAct() { return role === "admin" || role === "operator"; }
function showError(text) {
  const box = document.getElementById("error");
  box.textContent = text || ""; box.hidden = !text;
}
function absTime(ts) { return ts ? new Date(ts * 1000).toLocaleString(LANG === "zh" ? "zh-CN" : "en-GB") : ""; }
function ago(ts) {
  if (!ts) return t("never");
  const s = Math.max(0, Date.now() / 1000 - ts);
  const zh = LANG === "zh";
  if (s < 60) return zh ? `${Math.round(s)} 秒前` : `${Math.round(s)} s ago`;
  if (s < 3600) return zh ? `${Math.round(s / 60)} 分钟前` : `${Math.round(s / 60)} min ago`;
  if (s < 86400) return zh ? `${(s / 3600).toFixed(1)} 小时前` : `${(s / 3600).toFixed(1)} h ago`;
  return zh ? `${(s / 86400).toFixed(1)} 天前` : `${(s / 86400).toFixed(1)} d ago`;
}
// A relative time with the absolute time on hover (and in the title for screen readers).
function when(ts) { return el("time", { title: absTime(ts), datetime: ts ? new Date(ts * 1000).toISOString() : "" }, ago(ts)); }
function stateBadge(state) { return el("span", { class: `badge ${state}`, "data-state": state }, t(state) || state); }

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}
async function api(path, method = "GET", body = undefined) {
  const resp = await fetch("/api/v1" + path, {
    method,
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await resp.json(); } catch (err) { data = {}; }
  if (resp.status === 401) { signIn(t("bad_token")); throw new ApiError(401, t("bad_token")); }
  if (!resp.ok) throw new ApiError(resp.status, data.error || resp.statusText);
  return data;
}

function signIn(reason) {
  if (socket) { socket.onclose = null; socket.close(); socket = null; }
  document.getElementById("login-reason").textContent = reason || t("need_token");
  document.getElementById("login").hidden = false;
  document.getElementById("token-input").value = "";
  document.getElementById("token-input").focus();
}

// Every action asks first, naming how many devices it touches.
function confirmAction(title, text) {
  return new Promise((resolve) => {
    const box = document.getElementById("confirm");
    document.getElementById("confirm-title").textContent = title;
    document.getElementById("confirm-text").textContent = text;
    box.hidden = false;
    const done = (ok) => { box.hidden = true; resolve(ok); };
    document.getElementById("confirm-ok").onclick = () => done(true);
    document.getElementById("confirm-cancel").onclick = () => done(false);
  });
}

let lastLink = "connecting", lastCounts = null;  // redrawn in the other language on a switch
function setLink(state) {
  lastLink = state;
  const box = document.getElementById("link");
  box.className = `link ${state === "live" ? "up" : "down"}`;
  box.textContent = t(state);
}
function renderCounts(c) {
  lastCounts = c;
  const box = document.getElementById("counts");
  const tot = c.total || {};
  box.replaceChildren(
    el("a", { href: "#/devices", class: "count" }, `${t("devices")} ${tot.devices ?? 0}`),
    el("a", { href: "#/devices?state=online", class: "count online" }, `${t("online")} ${tot.online ?? 0}`),
    el("a", { href: "#/devices?state=offline", class: "count offline", "data-testid": "count-offline" }, `${t("offline")} ${tot.offline ?? 0}`),
    el("a", { href: "#/devices?state=degraded", class: "count degraded" }, `${t("degraded")} ${tot.degraded ?? 0}`),
    el("a", { href: "#/overview", class: "count attention", "data-testid": "count-attention" }, `${t("attention")} ${c.attention_total ?? 0}`));
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  setLink("connecting");
  socket = new WebSocket(`${proto}://${location.host}/api/v1/console/stream?access_token=${encodeURIComponent(token)}`);
  let first = true;
  socket.onopen = () => setLink("live");
  socket.onmessage = (msg) => {
    const data = JSON.parse(msg.data);
    renderCounts(data);
    if (!first) scheduleRefresh();
    first = false;
  };
  socket.onclose = () => { setLink("reconnecting"); socket = null; setTimeout(() => { if (token && !socket) connect(); }, 1500); };
}
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { if (current && current.refresh) current.refresh().catch((err) => showError(err.message)); }, 150);
}

function parseHash() {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").map(decodeURIComponent);
  return { name: parts[0] || "overview", arg: parts[1] || "", query: new URLSearchParams(query || "") };
}
let whoami = null;  // the promise of the caller's role: views render before it is known
async function route() {
  if (!token) return;
  const { name, arg, query } = parseHash();
  const view = VIEWS[name] || VIEWS.overview;
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === name || (name === "device" && a.dataset.view === "devices")));
  const root = document.getElementById("view");
  showError("");
  current = view;
  try { await view.show(root, arg, query); } catch (err) { if (err.status !== 401 && err.status !== 403) showError(err.message); }
}

async function start() {
  if (!token) { signIn(t("need_token")); return; }
  // The role and the first view load together; action controls show once the role is known.
  whoami = api("/console/whoami");
  whoami.catch(() => null);
  route();
  try {
    role = (await whoami).role;
  } catch (err) {
    document.getElementById("view").replaceChildren();
    if (err.status === 403) {
      // a token that is valid but of a role that may not read the fleet (a kiosk's)
      signIn(t("wrong_role", { role: err.message.match(/role '([^']+)'/)?.[1] || "?" }));
    } else if (err.status !== 401) showError(err.message);
    return;
  }
  if (!READ_ROLES.includes(role)) { document.getElementById("view").replaceChildren(); signIn(t("wrong_role", { role })); return; }
  document.getElementById("login").hidden = true;
  document.body.classList.toggle("can-act", canAct());
  document.body.classList.toggle("is-admin", role === "admin");
  document.getElementById("whoami").textContent = role;
  connect();
}

document.getElementById("login-form").onsubmit = (ev) => {
  ev.preventDefault();
  token = document.getElementById("token-input").value.trim();
  localStorage.setItem(TOKEN_KEY, token);
  role = "";
  start();
};
document.getElementById("signout").onclick = () => {
  localStorage.removeItem(TOKEN_KEY); token = ""; role = "";
  document.body.classList.remove("can-act", "is-admin");
  document.getElementById("whoami").textContent = "";
  document.getElementById("view").replaceChildren();
  signIn(t("need_token"));
};
document.getElementById("lang").onclick = () => {
  setLang(LANG === "zh" ? "en" : "zh");
  setLink(lastLink);
  if (lastCounts) renderCounts(lastCounts);
  route();
};
window.addEventListener("hashchange", route);
// The scripts sit at the end of the body: the page is parsed, start now.
window.addEventListener("DOMContentLoaded", () => { setLang(LANG); start(); });
