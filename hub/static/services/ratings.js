// 好差评 report: reads /api/v1/services/ratings/summary with a reader's token.
"use strict";

const params = new URLSearchParams(location.search);
if (params.get("token")) {
  localStorage.setItem("govedge.token", params.get("token"));
  params.delete("token");
  history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : ""));
}
let token = localStorage.getItem("govedge.token") || "";
const $ = (id) => document.getElementById(id);
const HEADS = { hall: "大厅 Hall", errand: "事项 Errand", week: "周 Week" };
const pct = (x) => (x === null || x === undefined ? "—" : (x * 100).toFixed(1) + "%");

function day(offsetDays) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  return d.toLocaleDateString("sv-SE", { timeZone: "Asia/Shanghai" });
}
$("since").value = params.get("since") || day(-30);
$("until").value = params.get("until") || day(0);
if (params.get("group")) $("group").value = params.get("group");

const shanghai = (date, endOfDay) => new Date(`${date}T${endOfDay ? "24:00:00" : "00:00:00"}+08:00`).getTime() / 1000;

async function load() {
  $("error").hidden = true;
  const group = $("group").value;
  const q = new URLSearchParams({
    group, since: shanghai($("since").value, false), until: shanghai($("until").value, true), lang: "zh-CN",
  });
  const resp = await fetch("/api/v1/services/ratings/summary?" + q, { headers: { Authorization: "Bearer " + token } });
  if (resp.status === 401 || resp.status === 403) {
    $("login").hidden = false;
    throw new Error("请用可读取统计的令牌登录 Sign in with a token that may read reports");
  }
  const data = await resp.json();
  if (!resp.ok) throw new Error(data.error || resp.statusText);
  render(group, data);
}

function render(group, data) {
  const levels = Object.fromEntries(data.labels.levels.map((l) => [String(l.level), l.label]));
  const tags = Object.fromEntries(data.labels.tags.map((t) => [t.id, t.label]));
  $("key-head").textContent = HEADS[group];
  $("legend").innerHTML = "";
  for (const lv of ["5", "4", "3", "2", "1"]) {
    const item = document.createElement("span");
    item.innerHTML = `<i class="l${lv}"></i>`;
    item.append(`${lv} ${levels[lv]}`);
    $("legend").append(item);
  }
  const total = data.groups.reduce((n, g) => n + g.count, 0);
  const good = data.groups.reduce((n, g) => n + g.levels["4"] + g.levels["5"], 0);
  const poor = data.groups.reduce((n, g) => n + g.levels["1"] + g.levels["2"], 0);
  $("totals").innerHTML = "";
  for (const [label, value] of [["评价总数 Ratings", total], ["好评率 Good", total ? pct(good / total) : "—"],
                                 ["差评 Poor ratings", poor], [HEADS[group].split(" ")[0] + "数 Groups", data.groups.length]]) {
    const m = document.createElement("div");
    m.className = "metric";
    const b = document.createElement("b");
    b.textContent = value;
    m.append(b, label);
    $("totals").append(m);
  }
  const body = $("table").querySelector("tbody");
  body.innerHTML = "";
  for (const g of data.groups) {
    const tr = document.createElement("tr");
    tr.dataset.key = g.key;
    const cells = [g.key, g.count, pct(g.good_rate), pct(g.bad_rate), g.mean_level === null ? "—" : g.mean_level.toFixed(2)];
    cells.forEach((v, i) => {
      const td = document.createElement("td");
      td.textContent = v;
      if (i > 0) td.className = "num";
      tr.append(td);
    });
    const dist = document.createElement("td");
    const bar = document.createElement("div");
    bar.className = "bar";
    for (const lv of ["5", "4", "3", "2", "1"]) {
      const seg = document.createElement("span");
      seg.className = "l" + lv;
      seg.style.width = (g.count ? (100 * g.levels[lv]) / g.count : 0) + "%";
      seg.title = `${levels[lv]}: ${g.levels[lv]}`;
      bar.append(seg);
    }
    dist.append(bar);
    const top = document.createElement("td");
    top.className = "tags";
    top.textContent = Object.entries(g.tags).slice(0, 3).map(([t, n]) => `${tags[t] || t} ${n}`).join("、") || "—";
    tr.append(dist, top);
    body.append(tr);
  }
  if (!data.groups.length) {
    const tr = document.createElement("tr");
    tr.innerHTML = '<td colspan="7">这段时间没有评价 No ratings in this period</td>';
    body.append(tr);
  }
  $("report").hidden = false;
}

function run() { load().catch((err) => { $("error").textContent = err.message; $("error").hidden = false; }); }
$("controls").addEventListener("submit", (ev) => { ev.preventDefault(); run(); });
$("save").addEventListener("click", () => {
  token = $("token").value.trim();
  localStorage.setItem("govedge.token", token);
  $("login").hidden = true;
  run();
});
if (!token) $("login").hidden = false; else run();
