"use strict";
// The operator console's views: overview, device list, device detail, rollouts, audit log.
const STATE_COLOURS = { online: "#2f9e5b", degraded: "#e0a100", offline: "#d64545" };
const COMMANDS = ["ping", "self_test", "reload_config", "restart_driver", "print_test_receipt", "rotate_certificate"];
const UNITS = { water_level_m: "m", temperature: "°C", "room.temperature": "°C", humidity: "%", "room.humidity": "%",
  pm2_5: "µg/m³", pm10: "µg/m³", so2: "µg/m³", no2: "µg/m³", o3: "µg/m³", co: "mg/m³" };
// ECharts (1 MB to parse) is loaded on first use, after the view's data has been asked for,
// so pages without charts never pay for it and the others parse it while the hub answers.
let chartsLoading = null;
function chartsReady() {
  if (!chartsLoading) {
    chartsLoading = new Promise((resolve, reject) => {
      const script = el("script", { src: "/static/vendor/echarts/echarts.common.min.js" });
      script.onload = () => resolve();
      script.onerror = () => reject(new Error("ECharts did not load"));
      document.head.append(script);
    });
  }
  return chartsLoading;
}
const charts = [];
function disposeCharts() { while (charts.length) charts.pop().dispose(); }
function chart(node) { const c = echarts.init(node, null, { renderer: "canvas" }); charts.push(c); return c; }
window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
function table(head, rows, attrs) {
  return el("table", attrs || {}, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))), el("tbody", {}, ...rows));
}
function section(title, ...children) { return el("section", { class: "panel" }, el("h2", {}, title), ...children); }
function problemText(p) { return t("p_" + p.kind) + (p.detail ? ` · ${p.detail}` : ""); }

// ---- overview ---------------------------------------------------------------------------
VIEWS.overview = {
  async show(root) {
    disposeCharts();
    this.root = root;
    const data = api("/console/overview");
    chartsReady();
    this.render(await data);
  },
  async refresh() {
    if (!this.root || current !== this) return;
    const d = await api("/console/overview");
    if (current === this) this.render(d);  // the operator may have moved on meanwhile
  },
  render(d) {
    const tot = d.total;
    const cards = el("div", { class: "cards" },
      ...[["devices", tot.devices, "#/devices"], ["online", tot.online, "#/devices?state=online"],
        ["offline", tot.offline, "#/devices?state=offline"], ["degraded", tot.degraded, "#/devices?state=degraded"],
        ["attention", d.attention_total, "#attention"]].map(([k, n, href]) =>
        el("a", { class: `card ${k}`, href, "data-testid": `card-${k}` }, el("div", { class: "n" }, String(n)), el("div", {}, t(k)))));
    const countTable = (groups, key) => table([t(key), t("online"), t("offline"), t("degraded")],
      Object.entries(groups).sort(([an, a], [bn, b]) => (b.offline + b.degraded) - (a.offline + a.degraded) || an.localeCompare(bn)).map(([name, c]) => el("tr", { "data-testid": `${key}-row`, "data-name": name },
        el("td", {}, el("a", { href: `#/devices?${key}=${encodeURIComponent(name)}` }, name)),
        el("td", { class: "num" }, String(c.online)),
        el("td", { class: "num" }, c.offline ? el("a", { class: "bad", href: `#/devices?${key}=${encodeURIComponent(name)}&state=offline`, "data-testid": "site-offline" }, String(c.offline)) : "0"),
        el("td", { class: "num" }, c.degraded ? el("a", { class: "warnc", href: `#/devices?${key}=${encodeURIComponent(name)}&state=degraded` }, String(c.degraded)) : "0"))), { class: "compact" });
    const attention = d.attention.length ? table([t("devices"), t("site"), t("state"), t("last_seen"), t("problem")],
      d.attention.map((a) => el("tr", { "data-testid": "attention-row" },
        el("td", {}, el("a", { href: `#/device/${encodeURIComponent(a.id)}` }, a.id)), el("td", {}, a.site),
        el("td", {}, stateBadge(a.state)), el("td", {}, when(a.last_seen)),
        el("td", {}, a.problems.map(problemText).join("; "))))) : el("p", { class: "quiet" }, t("none_attention"));
    const kinds = Object.entries(d.attention_kinds || {}).map(([k, n]) => el("span", { class: "chip" }, `${t("p_" + k)} ${n}`));
    const mapBox = el("div", { class: "map", id: "fleet-map", "data-testid": "map" });
    const siteChart = el("div", { class: "bars" });
    disposeCharts();
    this.root.replaceChildren(cards,
      el("div", { class: "grid2" },
        el("section", { class: "panel", id: "attention" }, el("h2", {}, t("attention_first"), " ", ...kinds), el("div", { class: "scroll map-high" }, attention)),
        section(t("map"), mapBox, el("ul", { class: "legend" }, ...["online", "degraded", "offline"].map((s) =>
          el("li", {}, el("span", { class: "dot", style: `background:${STATE_COLOURS[s]}` }), t(s)))))),
      el("div", { class: "grid2" },
        section(t("by_site"), siteChart, el("div", { class: "scroll" }, countTable(d.by_site, "site"))),
        section(t("by_model"), countTable(d.by_model, "model"))));
    chartsReady().then(() => {
      if (!mapBox.isConnected) return;  // re-rendered meanwhile
      this.drawMap(mapBox, d.positions);
      // the bar chart repeats the site table below: drawn after the map has been painted
      requestAnimationFrame(() => setTimeout(() => { if (siteChart.isConnected) this.drawSites(siteChart, d.by_site); }));
    });
  },
  drawMap(node, pos) {
    // pos holds one column per field (ids, site, lon, lat, state). Each state's points go to
    // ECharts as one flat typed array (lon, lat, lon, lat, ...): no object per point to build.
    const c = chart(node);
    const members = pos.states.map(() => []);
    for (let i = 0; i < pos.ids.length; i++) members[pos.state[i]].push(i);
    const series = pos.states.map((s, k) => {
      const xy = new Float64Array(members[k].length * 2);
      members[k].forEach((i, j) => { xy[2 * j] = pos.lon[i]; xy[2 * j + 1] = pos.lat[i]; });
      return {
        name: t(s), type: "scatter", symbolSize: s === "online" ? 5 : 8, large: true, largeThreshold: 0,
        progressive: 0,  // one frame: progressive drawing took 20 frames for 10 000 points
        dimensions: ["lon", "lat"], itemStyle: { color: STATE_COLOURS[s] }, data: xy, z: s === "online" ? 1 : 2,
      };
    });
    const device = (p) => members[p.seriesIndex][p.dataIndex];
    c.setOption({
      animation: false, grid: { left: 8, right: 8, top: 8, bottom: 8, containLabel: false },
      tooltip: { formatter: (p) => `${pos.ids[device(p)]}<br>${pos.sites[pos.site[device(p)]]} · ${p.seriesName}` },
      xAxis: { type: "value", scale: true, show: false }, yAxis: { type: "value", scale: true, show: false },
      series,
    });
    c.on("click", (p) => { location.hash = `#/device/${encodeURIComponent(pos.ids[device(p)])}`; });
  },
  drawSites(node, bySite) {
    // the 30 sites with the most devices offline or degraded, worst first
    const names = Object.keys(bySite).sort((a, b) => (bySite[b].offline + bySite[b].degraded) - (bySite[a].offline + bySite[a].degraded) || a.localeCompare(b)).slice(0, 30);
    const c = chart(node);
    c.setOption({
      animation: false, tooltip: { trigger: "axis" }, grid: { left: 40, right: 10, top: 10, bottom: 60 },
      xAxis: { type: "category", data: names, axisLabel: { rotate: 40, fontSize: 11, interval: 0 } },
      yAxis: { type: "value" },
      series: ["online", "degraded", "offline"].map((s) => ({ name: t(s), type: "bar", stack: "n",
        itemStyle: { color: STATE_COLOURS[s] }, data: names.map((n) => bySite[n][s]) })),
    });
  },
};

// ---- device list ------------------------------------------------------------------------
const FILTERS = ["q", "state", "site", "model", "firmware", "config_version", "label"];
VIEWS.devices = {
  async show(root, _arg, query) {
    disposeCharts();
    this.root = root; this.query = query; this.offset = Number(query.get("offset") || 0);
    // The first page comes first; the values each filter offers follow (a scan of the fleet).
    const facets = api("/console/facets");
    facets.catch(() => null);
    const data = await api("/console/devices?" + this.apiQuery(50));
    this.render(data);
    this.fillFacets(await facets);
  },
  apiQuery(limit, offset) {
    const q = new URLSearchParams();
    FILTERS.forEach((f) => { if (this.query.get(f)) q.set(f, this.query.get(f)); });
    q.set("offset", String(offset ?? this.offset)); q.set("limit", String(limit)); q.set("facets", "0");
    return q.toString();
  },
  async refresh() {
    if (current !== this || !this.body) return;
    const d = await api("/console/devices?" + this.apiQuery(50));
    if (current === this) this.renderRows(d);
  },
  go(changes) {
    const q = new URLSearchParams(this.query);
    Object.entries(changes).forEach(([k, v]) => { if (v === "" || v == null) q.delete(k); else q.set(k, v); });
    if (!("offset" in changes)) q.delete("offset");
    location.hash = "#/devices?" + q.toString();
  },
  render(data) {
    const option = (o) => Array.isArray(o) ? el("option", { value: String(o[0]) }, String(o[1])) : el("option", { value: String(o) }, String(o));
    const select = (name, options, labelKey) => {
      const s = el("select", { "data-testid": `filter-${name}`, "aria-label": t(labelKey), onchange: () => this.go({ [name]: s.value }) },
        el("option", { value: "" }, `${t(labelKey)}: ${t("all")}`), ...options.map(option));
      const value = this.query.get(name) || "";
      if (value && !options.some((o) => String(Array.isArray(o) ? o[0] : o) === value)) s.append(option(name === "config_version" ? [value, `v${value}`] : value));
      s.value = value;
      return s;
    };
    // filled with every value once /console/facets answers
    this.fillFacets = (f) => {
      if (!f || !this.form.isConnected) return;
      const values = { site: f.sites, model: f.models, firmware: f.firmwares, config_version: f.config_versions.map((v) => [v, `v${v}`]) };
      Object.entries(values).forEach(([name, options]) => this.form.querySelector(`[data-testid="filter-${name}"]`).replaceWith(select(name, options, name)));
    };
    const search = el("input", { type: "search", placeholder: t("search_ph"), "data-testid": "filter-q", value: this.query.get("q") || "" });
    const label = el("input", { type: "text", placeholder: `${t("label")} key=value`, "data-testid": "filter-label", value: this.query.get("label") || "", size: 14 });
    const form = el("form", { class: "filters", onsubmit: (ev) => { ev.preventDefault(); this.go({ q: search.value.trim(), label: label.value.trim() }); } },
      search, label,
      select("state", ["online", "offline", "degraded"].map((s) => [s, t(s)]), "state"),
      select("site", [], "site"), select("model", [], "model"),
      select("firmware", [], "firmware"), select("config_version", [], "config_version"),
      el("button", { type: "submit" }, t("search")));
    this.form = form;
    this.body = el("div", {});
    this.actions = el("div", { class: "actions act-only" });
    this.actionForm = el("div", { class: "act-only" });
    this.root.replaceChildren(section(t("devices"), form, this.actions, this.actionForm, this.body));
    this.renderRows(data);
  },
  renderRows(data) {
    this.total = data.total;
    const rows = data.items.map((d) => el("tr", { "data-testid": "device-row", "data-device": d.id },
      el("td", {}, el("a", { href: `#/device/${encodeURIComponent(d.id)}` }, d.id)),
      el("td", {}, d.site), el("td", {}, d.model), el("td", {}, stateBadge(d.state)),
      el("td", {}, when(d.last_seen)), el("td", {}, d.firmware),
      el("td", {}, `v${d.config_version}` + (d.config_desired && d.config_desired !== d.config_version ? ` → v${d.config_desired} (${t(d.config_state)})` : "")),
      el("td", { class: "problems" }, d.problems.map(problemText).join("; "))));
    const a = data.total ? this.offset + 1 : 0, b = this.offset + data.items.length;
    const pager = el("div", { class: "pager" },
      el("span", { "data-testid": "shown" }, t("shown", { a, b, n: data.total })),
      el("button", { class: "plain", disabled: this.offset <= 0, onclick: () => this.go({ offset: Math.max(0, this.offset - 50) }) }, t("prev")),
      el("button", { class: "plain", "data-testid": "next", disabled: b >= data.total, onclick: () => this.go({ offset: this.offset + 50 }) }, t("next")));
    this.body.replaceChildren(data.items.length ? el("div", { class: "scroll" }, table(
      [t("devices"), t("site"), t("model"), t("state"), t("last_seen"), t("firmware"), t("config_version"), t("problem")], rows)) :
      el("p", { class: "quiet" }, t("no_devices")), pager);
    this.actions.replaceChildren(
      el("button", { "data-testid": "act-command", disabled: !data.total, onclick: () => this.commandDialog() }, t("act_command", { n: devs(data.total) })),
      el("button", { "data-testid": "act-rollout", disabled: !data.total, onclick: () => this.rolloutDialog() }, t("act_rollout", { n: devs(data.total) })));
  },
  async matchedIds() {
    const ids = [];
    for (let offset = 0; offset < this.total && offset < 20000; offset += 1000) {
      const page = await api("/console/devices?" + this.apiQuery(1000, offset));
      page.items.forEach((d) => ids.push(d.id));
    }
    return ids;
  },
  commandDialog() { commandForm(this.actionForm, async () => this.matchedIds(), this.total); },
  rolloutDialog() {
    const cfg = el("textarea", { rows: 4, cols: 50, "data-testid": "rollout-config" }, '{"publish": {"health_interval_s": 30}}');
    const steps = el("input", { value: "10,50,100", size: 10, "data-testid": "rollout-steps" });
    const maxf = el("input", { type: "number", value: "0", min: 0, style: "width:5em", "data-testid": "rollout-max" });
    const go = el("button", { "data-testid": "rollout-start", onclick: async () => {
      let config;
      try { config = JSON.parse(cfg.value); } catch (err) { showError(`${t("config_json")}: ${err.message}`); return; }
      const stepList = steps.value.split(",").map(Number);
      if (!await confirmAction(t("start_rollout"), t("confirm_rollout", { n: devs(this.total), steps: stepList.join(" / "), max: maxf.value }))) return;
      try {
        const ids = await this.matchedIds();
        const ro = await api("/rollouts", "POST", { selector: { ids }, config, steps: stepList, max_failures: Number(maxf.value) });
        location.hash = `#/rollouts?focus=${ro.id}`;
      } catch (err) { showError(err.message); }
    } }, t("start_rollout"));
    this.actionForm.replaceChildren(el("div", { class: "form" },
      el("label", {}, t("config_json"), cfg), el("label", {}, t("steps"), steps), el("label", {}, t("max_failures"), maxf), go));
  },
};

// A command form for one device or many; ``ids`` resolves the targets when confirmed.
function commandForm(box, ids, count) {
  const name = el("select", { "data-testid": "command-name" }, ...COMMANDS.map((c) => el("option", { value: c }, c)));
  const args = el("input", { value: "{}", size: 24, "data-testid": "command-args" });
  const send = el("button", { "data-testid": "command-send", onclick: async () => {
    let parsed;
    try { parsed = JSON.parse(args.value || "{}"); } catch (err) { showError(`${t("args")}: ${err.message}`); return; }
    if (!await confirmAction(t("command"), t("confirm_command", { n: devs(count), name: name.value }))) return;
    try {
      const result = await api("/commands", "POST", { name: name.value, args: parsed, selector: { ids: await ids() } });
      showError("");
      box.append(el("p", { class: "ok", "data-testid": "command-sent" }, t("sent_ok", { n: devs(result.commands.length) })));
      scheduleRefresh();
    } catch (err) { showError(err.message); }
  } }, t("send"));
  box.replaceChildren(el("div", { class: "form" }, el("label", {}, t("command"), name), el("label", {}, t("args"), args), send));
}

// ---- device detail ----------------------------------------------------------------------
VIEWS.device = {
  range: "hour",
  async show(root, id) {
    disposeCharts();
    this.root = root; this.id = id;
    this.render(await api(`/console/devices/${encodeURIComponent(id)}`));
  },
  async refresh() {
    if (current !== this || !this.facts) return;
    const d = await api(`/console/devices/${encodeURIComponent(this.id)}`);
    if (current === this) this.fillLive(d);
  },
  render(d) {
    disposeCharts();
    const facts = el("dl", { class: "facts inline", "data-testid": "facts" });
    const actions = el("div", { class: "actions act-only" },
      el("button", { "data-testid": "device-command", onclick: () => commandForm(actionBox, async () => [this.id], 1) }, t("command")),
      el("button", { "data-testid": "rotate", onclick: () => this.rotate() }, t("rotate")),
      el("button", { class: "danger", "data-testid": "revoke", onclick: () => this.revoke() }, t("revoke")),
      el("button", { "data-testid": "set-config", onclick: () => this.configForm(actionBox, d) }, t("set_config")));
    const actionBox = el("div", { class: "act-only" });
    this.drivers = el("div", { "data-testid": "drivers" });
    this.latest = el("div", { "data-testid": "latest" });
    this.config = el("div", { "data-testid": "config" });
    this.cert = el("div", { "data-testid": "certificate" });
    this.history = el("div", { class: "scroll short" });
    this.events = el("div", { class: "scroll short" });
    this.commands = el("div", { class: "scroll short", "data-testid": "commands" });
    this.chartBox = el("div", { class: "charts", "data-testid": "charts" });
    const picker = el("div", { class: "range" }, ...["hour", "day", "week"].map((r) =>
      el("button", { class: r === this.range ? "on" : "plain", "data-testid": `range-${r}`, onclick: () => { this.range = r; this.render(d); } }, t(r))));
    this.facts = facts;
    this.root.replaceChildren(
      el("section", { class: "panel" }, el("h2", { "data-testid": "device-title" }, d.id, " ", stateBadge(d.state)), facts, actions, actionBox),
      el("div", { class: "grid2" },
        section(t("detail_drivers"), this.drivers), section(t("detail_latest"), this.latest)),
      el("section", { class: "panel" }, el("h2", {}, t("charts"), " ", picker), this.chartBox),
      el("div", { class: "grid3" }, section(t("config"), this.config), section(t("certificate"), this.cert), section(t("history"), this.history)),
      el("div", { class: "grid2" }, section(t("commands"), this.commands), section(t("events"), this.events)));
    this.fillLive(d);
    this.drawCharts(d);
  },
  fillLive(d) {
    this.facts.replaceChildren(...[["site", d.site], ["model", d.model], ["firmware", d.firmware],
      ["last_seen", when(d.last_seen)]].flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v)]));
    const drivers = Object.entries((d.health || {}).drivers || {});
    const offline = !d.online;
    this.drivers.replaceChildren(
      offline ? el("p", { class: "warn", "data-testid": "drivers-unknown" }, t("drivers_unknown")) :
        drivers.every(([, x]) => x.state === "online") && drivers.length ? el("p", { class: "ok" }, t("all_drivers_online")) : "",
      drivers.length ? table([t("drivers"), t("state"), t("reason")], drivers.map(([n, x]) =>
        el("tr", { class: offline ? "stale" : "" }, el("td", {}, n), el("td", {}, el("span", { class: `badge ${x.state === "online" ? "online" : "offline"}` }, x.state)),
          el("td", {}, x.detail || "")))) : el("p", { class: "quiet" }, t("no_health")));
    const keep = (d.keepalive || 60) * 3;
    const latest = Object.entries(d.latest || {});
    this.latest.replaceChildren(latest.length ? table([t("metric"), t("value"), t("time")], latest.map(([m, v]) => {
      const ts = v.ts ?? v[1] ?? null, value = v.value ?? v[0] ?? v;
      const stale = offline || (ts && Date.now() / 1000 - ts > keep);
      return el("tr", { class: stale ? "stale" : "", "data-testid": "latest-row" }, el("td", {}, m),
        el("td", { class: "num" }, `${typeof value === "number" ? Math.round(value * 100) / 100 : value} ${UNITS[m] || ""}`),
        el("td", {}, ts ? when(ts) : "", stale ? el("span", { class: "stale-mark", "data-testid": "stale" }, ` ${t("stale")}`) : ""));
    })) : el("p", { class: "quiet" }, t("none")));
    const des = d.config.desired;
    this.config.replaceChildren(el("dl", { class: "facts" },
      el("dt", {}, t("desired")), el("dd", {}, des ? `v${des.version} · ${t(des.state)}${des.error ? " · " + des.error : ""}` : t("none")),
      el("dt", {}, t("reported")), el("dd", {}, `v${d.config.reported_version}`)),
      des ? el("pre", {}, JSON.stringify(des.config, null, 1)) : "");
    const c = d.certificate;
    this.cert.replaceChildren(c ? el("dl", { class: "facts" }, el("dt", {}, t("serial")), el("dd", { class: "mono" }, c.serial),
      el("dt", {}, t("days_left")), el("dd", { class: c.state === "ok" ? "" : "warn" }, `${c.days_left} (${c.state})`)) : el("p", { class: "quiet" }, t("no_ca")));
    this.history.replaceChildren(table([t("time"), t("state"), t("reason")], d.history.map((h) =>
      el("tr", {}, el("td", {}, when(h.ts)), el("td", {}, stateBadge(h.online ? "online" : "offline")), el("td", {}, h.reason)))));
    this.events.replaceChildren(d.events.length ? table([t("time"), t("events"), t("reason")], d.events.map((e) =>
      el("tr", {}, el("td", {}, when(e.ts)), el("td", {}, `${e.kind} (${e.severity})`), el("td", {}, e.message)))) : el("p", { class: "quiet" }, t("none")));
    this.commands.replaceChildren(d.commands.length ? table([t("time"), t("command"), t("cmd_state"), t("result")], d.commands.map((c2) =>
      el("tr", { "data-testid": "command-row", "data-state": c2.state }, el("td", {}, when(c2.created)), el("td", {}, c2.name),
        el("td", {}, el("span", { class: `badge cmd-${c2.state}` }, t("s_" + c2.state))), el("td", {}, c2.error || (c2.result ? JSON.stringify(c2.result) : ""))))) :
      el("p", { class: "quiet" }, t("none")));
  },
  async drawCharts(d) {
    const spec = { hour: ["-1h", 60], day: ["-1d", 900], week: ["-7d", 3600] }[this.range];
    const metrics = Object.keys(d.latest || {}).slice(0, 6);
    this.chartBox.replaceChildren();
    await chartsReady();
    if (!metrics.length) { this.chartBox.append(el("p", { class: "quiet" }, t("no_data"))); return; }
    for (const m of metrics) {
      const box = el("div", { class: "chart", "data-testid": "chart", "data-metric": m });
      this.chartBox.append(box);
      const data = await api(`/devices/${encodeURIComponent(d.id)}/telemetry?metric=${encodeURIComponent(m)}&agg=mean&every=${spec[1]}&start=${spec[0]}`);
      if (!box.isConnected) return;  // another range or view was chosen meanwhile
      const points = data.items.map((p) => [(p.ts ?? p.start ?? p[0]) * 1000, p.value ?? p[1]]);
      box.dataset.points = String(points.length);
      chart(box).setOption({
        animation: false, title: { text: `${m}${UNITS[m] ? " (" + UNITS[m] + ")" : ""}`, textStyle: { fontSize: 13 } },
        tooltip: { trigger: "axis" }, grid: { left: 48, right: 12, top: 30, bottom: 24 },
        xAxis: { type: "time", axisLabel: { hideOverlap: true } }, yAxis: { type: "value", scale: true },
        series: [{ type: "line", showSymbol: points.length < 40, data: points }],
      });
    }
  },
  async rotate() {
    if (!await confirmAction(t("rotate"), t("confirm_rotate", { id: this.id }))) return;
    try { await api("/commands", "POST", { name: "rotate_certificate", args: {}, selector: { ids: [this.id] } }); scheduleRefresh(); }
    catch (err) { showError(err.message); }
  },
  async revoke() {
    if (!await confirmAction(t("revoke"), t("confirm_revoke", { id: this.id }))) return;
    try { await api(`/devices/${encodeURIComponent(this.id)}/certificate/revoke`, "POST", { reason: "key_compromise" }); scheduleRefresh(); }
    catch (err) { showError(err.message); }
  },
  configForm(box, d) {
    const cfg = el("textarea", { rows: 4, cols: 50 }, JSON.stringify((d.config.desired || {}).config || {}, null, 1));
    box.replaceChildren(el("div", { class: "form" }, el("label", {}, t("config_json"), cfg), el("button", { onclick: async () => {
      let config;
      try { config = JSON.parse(cfg.value); } catch (err) { showError(err.message); return; }
      if (!await confirmAction(t("set_config"), t("confirm_config", { id: this.id }))) return;
      try { await api(`/devices/${encodeURIComponent(this.id)}/config`, "PUT", { config }); scheduleRefresh(); }
      catch (err) { showError(err.message); }
    } }, t("send"))));
  },
};

// ---- rollouts ---------------------------------------------------------------------------
VIEWS.rollouts = {
  async show(root, _arg, query) {
    disposeCharts();
    this.root = root; this.focus = query.get("focus") || "";
    this.render(await api("/console/rollouts"));
  },
  async refresh() { if (current === this) this.render(await api("/console/rollouts")); },
  async render(data) {
    const rows = [];
    for (const ro of data.items) {
      const p = ro.progress, n = ro.target_count;
      const bar = el("div", { class: "bar", "data-testid": "rollout-bar", "data-done": String(ro.percent_done) },
        el("div", { class: "applied", style: `width:${100 * p.applied / n}%` }),
        el("div", { class: "failed", style: `width:${100 * p.failed / n}%` }),
        el("div", { class: "pending", style: `width:${100 * p.pending / n}%` }));
      const buttons = el("div", { class: "act-only" });
      if (ro.state === "running") buttons.append(el("button", { class: "danger", "data-testid": "halt", onclick: async () => {
        if (!await confirmAction(t("halt"), t("confirm_halt", { id: ro.id, n: devs(n) }))) return;
        try { await api(`/rollouts/${ro.id}/halt`, "POST", {}); this.refresh(); } catch (err) { showError(err.message); }
      } }, t("halt")));
      if (ro.state === "halted") {
        const limit = el("input", { type: "number", min: 0, value: String(Math.max(ro.max_failures, p.failed)), style: "width:5em", "aria-label": t("max_failures") });
        buttons.append(limit, el("button", { "data-testid": "resume", onclick: async () => {
          if (!await confirmAction(t("resume"), t("confirm_resume", { id: ro.id, n: devs(n), max: limit.value }))) return;
          try { await api(`/rollouts/${ro.id}/resume`, "POST", { max_failures: Number(limit.value) }); this.refresh(); } catch (err) { showError(err.message); }
        } }, t("resume")));
      }
      const failures = el("div", { class: "failures" });
      if (p.failed) {
        const list = await api(`/console/rollouts/${ro.id}/failures`);
        failures.append(el("details", { open: ro.id === this.focus }, el("summary", {}, `${t("failures")}: ${p.failed}`),
          el("ul", {}, ...list.items.slice(0, 50).map((f) => el("li", { "data-testid": "failure" }, `${f.device_id}: ${f.error}`)))));
      }
      rows.push(el("tr", { "data-testid": "rollout-row", "data-rollout": ro.id, "data-state": ro.state, class: ro.id === this.focus ? "focus" : "" },
        el("td", { class: "mono" }, ro.id, el("div", { class: "quiet" }, when(ro.created))),
        el("td", {}, `v${ro.version}`, el("div", { class: "quiet" }, `${t("steps")}: ${ro.steps.join(" / ")}`)),
        el("td", {}, el("span", { class: `badge ro-${ro.state}`, "data-testid": "rollout-state" }, t(ro.state)), ro.reason ? el("div", { class: "quiet" }, ro.reason) : ""),
        el("td", { class: "wide" }, bar, el("div", { class: "quiet", "data-testid": "rollout-counts" },
          `${t("applied")} ${p.applied} · ${t("failed")} ${p.failed} (≤ ${ro.max_failures}) · ${t("pending")} ${p.pending} · ${devs(n)}`), failures),
        el("td", {}, buttons)));
    }
    if (current !== this) return;  // another view was opened while the failures loaded
    this.root.replaceChildren(section(t("rollouts"), rows.length ? table(["ID", t("config_version"), t("state"), t("progress"), t("actions")], rows) :
      el("p", { class: "quiet" }, t("no_rollouts"))));
  },
};

// ---- audit log --------------------------------------------------------------------------
VIEWS.audit = {
  async show(root, _arg, query) {
    disposeCharts();
    this.root = root; this.query = query;
    try { role = (await whoami).role; } catch (err) { return; }
    if (role !== "admin") { root.replaceChildren(section(t("audit"), el("p", { class: "warn" }, t("admin_only")))); return; }
    const search = el("input", { type: "search", placeholder: t("audit_ph"), value: query.get("q") || "", "data-testid": "audit-q" });
    const actor = el("input", { type: "text", placeholder: t("who"), value: query.get("actor") || "", size: 14, "data-testid": "audit-actor" });
    const since = el("select", { "data-testid": "audit-since", "aria-label": t("time") },
      ...[["", t("all_time")], ["-1h", t("last_hour")], ["-1d", t("last_day")], ["-7d", t("last_week")]].map(([v, label]) => el("option", { value: v }, label)));
    since.value = query.get("since") || "";
    const go = () => {
      const q = new URLSearchParams();
      if (search.value.trim()) q.set("q", search.value.trim());
      if (actor.value.trim()) q.set("actor", actor.value.trim());
      if (since.value) q.set("since", since.value);
      location.hash = `#/audit?${q}`;
    };
    since.onchange = go;
    const form = el("form", { class: "filters", onsubmit: (ev) => { ev.preventDefault(); go(); } },
      search, actor, since, el("button", { type: "submit" }, t("search")));
    this.body = el("div", { class: "scroll tall" });
    root.replaceChildren(section(t("audit"), form, this.body));
    await this.refresh();
  },
  async refresh() {
    if (current !== this || role !== "admin") return;
    const q = new URLSearchParams({ limit: "200" });
    ["q", "actor", "since"].forEach((k) => { if (this.query.get(k)) q.set(k, this.query.get(k)); });
    const data = await api(`/audit?${q}`);
    this.body.replaceChildren(table([t("time"), t("who"), t("action"), t("targets"), t("status"), t("from")], data.items.map((a) => {
      const tg = a.targets || {};
      const what = [tg.command ? `${t("command")} ${tg.command}` : "", tg.count != null ? devs(tg.count) : "",
        (tg.ids || []).slice(0, 3).join(", ") + ((tg.ids || []).length > 3 ? " …" : "")].filter(Boolean).join(" · ");
      return el("tr", { "data-testid": "audit-row", class: a.status >= 400 ? "refused" : "" },
        el("td", {}, el("span", { title: ago(a.ts) }, absTime(a.ts))), el("td", {}, `${a.actor} (${a.role})`),
        el("td", { class: "mono" }, a.action), el("td", {}, what), el("td", {}, String(a.status), a.error ? el("div", { class: "quiet" }, a.error) : ""),
        el("td", { class: "mono" }, a.remote));
    })));
  },
};
