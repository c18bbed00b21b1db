"use strict";
// The operator console's inspection tasks: a filtered list, a new task (confirmed first), a
// task's case (its records and photos, whether the evidence the hub holds verifies, the case
// bundle), and the operator's moves (reassign, review, close). Action controls carry "act-only"
// and show only to operators and admins; the hub refuses the others anyway.
Object.assign(WORDS, {
  nav_tasks: ["巡检任务", "Inspections"], tasks: ["巡检任务", "Inspection tasks"],
  assigned: ["已指派", "Assigned"], accepted: ["已接收", "Accepted"], in_progress: ["进行中", "In progress"],
  submitted: ["已提交", "Submitted"], reviewed: ["已审核", "Reviewed"], closed: ["已关闭", "Closed"],
  task_id: ["任务编号", "Task"], due: ["截止日期", "Due"], inspector: ["巡检员", "Inspector"],
  terminal: ["终端", "Terminal"], assignee: ["巡检员或终端", "Inspector or terminal"],
  evidence: ["证据", "Evidence"], updated: ["更新时间", "Updated"],
  tasks_ph: ["任务编号或站点", "task id or site"], no_tasks: ["没有符合条件的任务", "No task matches"],
  tasks_shown: ["显示 {a}–{b} / 共 {n} 项", "Showing {a}–{b} of {n}"],
  n_records: ["{n} 条记录 · {p} 张照片", "{n} records · {p} photos"],
  new_task: ["新建任务", "New task"], create: ["创建", "Create"], lat: ["纬度", "Latitude"], lon: ["经度", "Longitude"],
  checklist: ["检查项（每行一项）", "Checklist (one item a line)"], photo_each: ["每项须拍照", "A photo for every item"],
  id_optional: ["编号（可留空）", "Id (optional)"],
  confirm_create: ["将创建巡检任务“{site}”（{n} 项检查，截止 {due}），指派给巡检员 {inspector} 的终端 {device}。",
    "Create the inspection task \"{site}\" ({n} checks, due {due}) for inspector {inspector} on terminal {device}."],
  created_ok: ["任务 {id} 已创建", "Task {id} created"],
  need_field: ["请填写：{f}", "Please fill in: {f}"],
  bad_position: ["纬度须在 -90 至 90 之间，经度须在 -180 至 180 之间", "Latitude must be within -90..90 and longitude within -180..180"],
  reassign: ["改派", "Reassign"], confirm_assign: ["将任务 {id} 从终端 {from} 改派给终端 {device}（巡检员 {inspector}），任务回到“已指派”。",
    "Move task {id} from terminal {from} to terminal {device} (inspector {inspector}); it starts again at Assigned."],
  review_accept: ["审核通过", "Accept"], review_reject: ["退回重做", "Send back"], review_note: ["审核意见", "Review note"],
  confirm_accept: ["审核通过任务 {id}？", "Accept task {id} as reviewed?"],
  confirm_reject: ["将任务 {id} 退回巡检员重做？", "Send task {id} back to the inspector?"],
  close_task: ["关闭任务", "Close task"], confirm_close: ["关闭任务 {id}？关闭后终端不再显示此任务。", "Close task {id}? Its terminal no longer shows it."],
  bundle: ["下载案卷证据包", "Download case bundle"], position: ["位置", "Position"], answer: ["结论", "Answer"],
  note: ["备注", "Note"], photo: ["照片", "Photo"], item: ["检查项", "Item"], device_time: ["设备时间", "Device time"],
  received: ["接收时间", "Received"], pass: ["合格", "Pass"], fail: ["不合格", "Fail"],
  no_fix: ["无定位（未借用旧位置）", "No fix (no stale position borrowed)"],
  fix_q: ["定位质量 {q} · {s} 颗卫星 · HDOP {h}", "fix quality {q} · {s} satellites · HDOP {h}"],
  since_contact: ["距上次联网 {d}", "{d} since hub contact"],
  no_records: ["中心尚未收到此任务的证据", "The hub holds no evidence of this task yet"],
  verified: ["证据完整：{r} 条记录的签名与哈希链有效，{p} 张照片与签名的哈希一致", "Evidence holds: {r} records signed and chained, {p} photos match their signed hashes"],
  first_bad: ["第一条问题记录：{problem}", "First bad record: {problem}"],
  refusal: ["终端 {device} 的记录 seq {seq} 被中心拒收（任务 {task}）：{reason}。其后的记录仍在终端等待。",
    "The hub refused record seq {seq} of terminal {device} (task {task}): {reason}. The records after it wait on the terminal."],
  no_preview: ["无预览", "No preview"], back: ["返回任务列表", "Back to the tasks"], records: ["证据记录", "Evidence records"],
  verification: ["核验", "Verification"], review_note_shown: ["审核意见：{n}", "Review note: {n}"],
  checklist_title: ["检查项", "Checklist"], photo_required: ["须拍照", "photo required"],
  refused_chip: ["有记录被拒收", "a record refused"], by: ["记录人", "By"],
  from_site: ["距任务地点 {d}", "{d} from the site"],
});

const TASK_STATES = ["assigned", "accepted", "in_progress", "submitted", "reviewed", "closed"];
const TASK_FILTERS = ["state", "site", "assignee", "q"];
const blobUrls = [];
function taskBadge(state) { return el("span", { class: `badge task-${state}`, "data-state": state, "data-testid": "task-state" }, t(state)); }
function dateOnly(iso) { return (iso || "").slice(0, 10); }
function duration(s) {
  if (s === null || s === undefined) return "—";
  if (s < 3600) return LANG === "zh" ? `${Math.round(s / 60)} 分钟` : `${Math.round(s / 60)} min`;
  if (s < 86400) return LANG === "zh" ? `${(s / 3600).toFixed(1)} 小时` : `${(s / 3600).toFixed(1)} h`;
  return LANG === "zh" ? `${(s / 86400).toFixed(1)} 天` : `${(s / 86400).toFixed(1)} d`;
}
// How far a record was made from the task's place (haversine; metres, or km past 1 km).
function distance(task, p) {
  const rad = Math.PI / 180, dLat = (p.lat - task.lat) * rad, dLon = (p.lon - task.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(task.lat * rad) * Math.cos(p.lat * rad) * Math.sin(dLon / 2) ** 2;
  const m = 2 * 6371000 * Math.asin(Math.sqrt(h));
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
}
// Photos and bundles come with the token in a header (never in a URL, so no log holds it).
async function apiBlob(path) {
  const resp = await fetch("/api/v1" + path, { headers: { Authorization: "Bearer " + token } });
  if (!resp.ok) {
    let message = resp.statusText;
    try { message = (await resp.json()).error || message; } catch (err) { /* not JSON */ }
    throw new ApiError(resp.status, message);
  }
  return resp.blob();
}
function freeBlobs() { while (blobUrls.length) URL.revokeObjectURL(blobUrls.pop()); }
function showPhoto(sha) {
  const box = el("div", { class: "overlay photo-view", "data-testid": "photo-view", onclick: () => box.remove() },
    el("div", { class: "quiet" }, "…"));
  document.body.append(box);
  apiBlob(`/inspection/photos/${sha}?size=full`).then((blob) => {
    const url = URL.createObjectURL(blob); blobUrls.push(url);
    box.replaceChildren(el("img", { src: url, alt: sha }), el("div", { class: "mono" }, `SHA-256 ${sha}`));
  }).catch((err) => { box.replaceChildren(el("div", { class: "warn" }, err.message)); });
}
function thumb(sha) {
  const box = el("button", { class: "thumb", type: "button", title: `SHA-256 ${sha}`, "data-testid": "thumb", onclick: () => showPhoto(sha) });
  apiBlob(`/inspection/photos/${sha}`).then((blob) => {
    const url = URL.createObjectURL(blob); blobUrls.push(url);
    box.replaceChildren(el("img", { src: url, alt: t("photo"), "data-testid": "thumb-img" }));
  }).catch(() => { box.replaceChildren(el("span", { class: "quiet" }, t("no_preview"))); });
  return box;
}

VIEWS.tasks = {
  async show(root, arg, query) {
    disposeCharts(); freeBlobs();
    this.root = root; this.query = query; this.id = arg; this.offset = Number(query.get("offset") || 0);
    this.seen = null; this.facts = null; this.body = null;
    clearInterval(this.timer);
    // tasks move without a fleet event (a terminal's sync): look again every 15 s while shown
    this.timer = setInterval(() => { if (current === this) this.refresh().catch(() => null); else clearInterval(this.timer); }, 15000);
    if (arg) { this.renderCase(await api(`/inspection/console/tasks/${encodeURIComponent(arg)}`)); return; }
    this.renderList(await api("/inspection/console/tasks?" + this.apiQuery()));
  },
  async refresh() {
    if (current !== this) return;
    if (this.id) this.fillCase(await api(`/inspection/console/tasks/${encodeURIComponent(this.id)}`));
    else this.fillRows(await api("/inspection/console/tasks?" + this.apiQuery()));
  },
  apiQuery() {
    const q = new URLSearchParams();
    TASK_FILTERS.forEach((f) => { if (this.query.get(f)) q.set(f, this.query.get(f)); });
    q.set("offset", String(this.offset)); q.set("limit", "50");
    return q.toString();
  },
  go(changes) {
    const q = new URLSearchParams(this.query);
    Object.entries(changes).forEach(([k, v]) => { if (v === "" || v == null) q.delete(k); else q.set(k, v); });
    if (!("offset" in changes)) q.delete("offset");
    location.hash = "#/tasks?" + q.toString();
  },

  // ---- the list ------------------------------------------------------------------------
  renderList(data) {
    const f = data.facets;
    const select = (name, label, options) => {
      const s = el("select", { "data-testid": `task-filter-${name}`, "aria-label": label, onchange: () => this.go({ [name]: s.value }) },
        el("option", { value: "" }, `${label}: ${t("all")}`), ...options);
      s.value = this.query.get(name) || "";
      return s;
    };
    const opt = (value, text) => el("option", { value }, text);
    const search = el("input", { type: "search", placeholder: t("tasks_ph"), "data-testid": "task-filter-q", value: this.query.get("q") || "" });
    const form = el("form", { class: "filters", onsubmit: (ev) => { ev.preventDefault(); this.go({ q: search.value.trim() }); } },
      search,
      select("state", t("state"), TASK_STATES.map((s) => opt(s, `${t(s)} (${f.states[s] || 0})`))),
      select("site", t("site"), f.sites.map((s) => opt(s, s))),
      select("assignee", t("assignee"), [
        el("optgroup", { label: t("inspector") }, ...f.inspectors.map((i) => opt(i, i))),
        el("optgroup", { label: t("terminal") }, ...f.devices.map((d) => opt(d, d)))]),
      el("button", { type: "submit" }, t("search")));
    this.formBox = el("div", { class: "act-only" });
    const actions = el("div", { class: "actions act-only" },
      el("button", { "data-testid": "task-new", onclick: () => this.newTaskForm(f) }, t("new_task")));
    this.body = el("div", {});
    this.root.replaceChildren(section(t("tasks"), form, actions, this.formBox, this.body));
    this.fillRows(data);
  },
  fillRows(data) {
    if (!this.body) return;
    const rows = data.items.map((task) => el("tr", { "data-testid": "task-row", "data-task": task.id },
      el("td", { class: "mono" }, el("a", { href: `#/tasks/${encodeURIComponent(task.id)}` }, task.id)),
      el("td", {}, task.site), el("td", { class: "nowrap" }, dateOnly(task.due)),
      el("td", {}, task.inspector_id), el("td", { class: "mono" }, task.device_id), el("td", {}, taskBadge(task.state)),
      el("td", { "data-testid": "task-evidence" }, task.records ? t("n_records", { n: task.records, p: task.photos }) : "—",
        task.refused ? el("span", { class: "chip refused-chip", "data-testid": "task-refused" }, "⚠ " + t("refused_chip")) : ""),
      el("td", {}, when(task.updated))));
    const a = data.total ? this.offset + 1 : 0, b = this.offset + data.items.length;
    const pager = el("div", { class: "pager" },
      el("span", { "data-testid": "tasks-shown" }, t("tasks_shown", { a, b, n: data.total })),
      el("button", { class: "plain", disabled: this.offset <= 0, onclick: () => this.go({ offset: Math.max(0, this.offset - 50) }) }, t("prev")),
      el("button", { class: "plain", disabled: b >= data.total, onclick: () => this.go({ offset: this.offset + 50 }) }, t("next")));
    this.body.replaceChildren(data.items.length ? el("div", { class: "scroll tall" }, table(
      [t("task_id"), t("site"), t("due"), t("inspector"), t("terminal"), t("state"), t("evidence"), t("updated")], rows)) :
      el("p", { class: "quiet" }, t("no_tasks")), pager);
  },
  newTaskForm(facets) {
    const field = (key, input) => el("label", {}, t(key), input);
    const tomorrow = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
    const site = el("input", { "data-testid": "new-site", size: 22, required: true });
    const lat = el("input", { type: "number", step: "any", min: -90, max: 90, "data-testid": "new-lat", style: "width:8em" });
    const lon = el("input", { type: "number", step: "any", min: -180, max: 180, "data-testid": "new-lon", style: "width:8em" });
    const due = el("input", { type: "date", value: tomorrow, "data-testid": "new-due" });
    const inspector = el("input", { "data-testid": "new-inspector", size: 12, list: "known-inspectors" });
    const device = el("input", { "data-testid": "new-device", size: 16, list: "known-terminals" });
    const id = el("input", { "data-testid": "new-id", size: 10 });
    const checklist = el("textarea", { rows: 4, cols: 34, "data-testid": "new-checklist" });
    const photoEach = el("input", { type: "checkbox", checked: true, "data-testid": "new-photo-each" });
    const lists = [el("datalist", { id: "known-inspectors" }, ...facets.inspectors.map((i) => el("option", { value: i }))),
      el("datalist", { id: "known-terminals" }, ...facets.terminals.map((d) => el("option", { value: d })))];
    const submit = el("button", { type: "submit", "data-testid": "new-create" }, t("create"));
    const form = el("form", { class: "form task-form", "data-testid": "new-task-form", onsubmit: async (ev) => {
      ev.preventDefault();
      const items = checklist.value.split("\n").map((s) => s.trim()).filter(Boolean);
      const missing = [[site, "site"], [inspector, "inspector"], [device, "terminal"], [due, "due"], [lat, "lat"], [lon, "lon"]]
        .filter(([input]) => !input.value.trim()).map(([, key]) => t(key));
      if (!items.length) missing.push(t("checklist_title"));
      if (missing.length) { showError(t("need_field", { f: missing.join(LANG === "zh" ? "、" : ", ") })); return; }
      const la = Number(lat.value), lo = Number(lon.value);
      if (!(Math.abs(la) <= 90 && Math.abs(lo) <= 180)) { showError(t("bad_position")); return; }
      showError("");
      const body = { site: site.value.trim(), lat: la, lon: lo, due: due.value, inspector_id: inspector.value.trim(),
        device_id: device.value.trim(), checklist: items.map((text, i) => ({ id: `q${i + 1}`, text, photo_required: photoEach.checked })) };
      if (id.value.trim()) body.id = id.value.trim();
      if (!await confirmAction(t("new_task"), t("confirm_create", { site: body.site, n: items.length, due: body.due, inspector: body.inspector_id, device: body.device_id }))) return;
      try {
        const task = await api("/inspection/tasks", "POST", body);
        location.hash = `#/tasks/${encodeURIComponent(task.id)}`;
      } catch (err) { showError(err.message); }
    } },
    el("div", { class: "form-title" }, t("new_task")),
    field("site", site), field("lat", lat), field("lon", lon), field("due", due), field("inspector", inspector),
    field("terminal", device), field("id_optional", id), field("checklist", checklist),
    el("label", { class: "check" }, el("span", {}, photoEach, " ", t("photo_each"))), submit,
    el("button", { type: "button", class: "plain", "data-testid": "new-cancel", onclick: () => { this.formBox.replaceChildren(); showError(""); } }, t("cancel")), ...lists);
    this.formBox.replaceChildren(form);
    site.focus();
  },

  // ---- one task's case -----------------------------------------------------------------
  renderCase(data) {
    const task = data.task;
    this.facts = el("dl", { class: "facts inline", "data-testid": "task-facts" });
    this.verify = el("div", { "data-testid": "verification" });
    this.moves = el("div", { class: "actions act-only" });
    this.moveBox = el("div", { class: "act-only" });
    this.recordsBox = el("div", {});
    this.checklistBox = el("ol", { class: "checklist" });
    const bundle = el("button", { class: "plain", "data-testid": "bundle", onclick: () => this.download(task.id) }, t("bundle"));
    this.bundleButton = bundle;
    this.root.replaceChildren(
      el("p", {}, el("a", { href: "#/tasks" }, "← " + t("back"))),
      el("section", { class: "panel" }, el("h2", {}, el("span", { class: "mono" }, task.id), " ", task.site, " ", el("span", { "data-testid": "case-state" })),
        this.facts, this.moves, this.moveBox),
      el("div", { class: "grid-case" },
        section(t("verification"), this.verify, bundle),
        section(t("checklist_title"), this.checklistBox)),
      section(t("records"), this.recordsBox));
    this.fillCase(data);
  },
  fillCase(data) {
    if (!this.facts) return;
    const seen = JSON.stringify(data);
    if (seen === this.seen) return;  // a refresh that changed nothing keeps the page (and photos) still
    this.seen = seen;
    const task = data.task;
    this.task = task;
    this.root.querySelector('[data-testid="case-state"]').replaceChildren(taskBadge(task.state));
    const fact = (k, v) => [el("dt", {}, t(k)), el("dd", {}, v)];
    this.facts.replaceChildren(
      ...fact("position", `${task.lat.toFixed(5)}, ${task.lon.toFixed(5)}`),
      ...fact("due", dateOnly(task.due)), ...fact("inspector", task.inspector_id),
      ...fact("terminal", el("span", { class: "mono", "data-testid": "task-terminal" }, task.device_id)),
      ...fact("created", absTime(task.created)), ...fact("updated", when(task.updated)),
      ...(task.review_note ? fact("review_note", task.review_note) : []));
    this.fillMoves(task, data.records.length);
    const v = data.verification;
    const lines = [];
    if (!data.records.length) lines.push(el("p", { class: "quiet", "data-testid": "no-evidence" }, t("no_records")));
    else if (v.ok) lines.push(el("p", { class: "verdict ok", "data-testid": "verdict", "data-ok": "true" }, "✔ " + t("verified", { r: v.records, p: v.photos })));
    else lines.push(el("p", { class: "verdict bad", "data-testid": "verdict", "data-ok": "false", "data-bad-seq": String(v.bad_seq) }, "✘ " + t("first_bad", { problem: v.problem })));
    if (data.refusal) {
      const r = data.refusal;
      lines.push(el("p", { class: "verdict refused", "data-testid": "refusal" }, "⚠ " + t("refusal", { device: task.device_id, seq: r.seq ?? "?", task: r.task_id || "?", reason: r.reason.replace(/^record seq \d+: /, "") })));
    }
    this.verify.replaceChildren(...lines);
    this.bundleButton.disabled = !data.records.length;
    const itemText = Object.fromEntries(task.checklist.map((c) => [c.id, c.text]));
    const answered = new Set(data.records.map((r) => r.item_id));
    this.checklistBox.replaceChildren(...task.checklist.map((c) => el("li", { class: answered.has(c.id) ? "done" : "" },
      c.text, c.photo_required ? el("span", { class: "quiet" }, ` · ${t("photo_required")}`) : "", answered.has(c.id) ? " ✔" : "")));
    freeBlobs();
    const rows = data.records.map((r) => el("tr", { "data-testid": "record-row", "data-seq": String(r.seq), class: v.bad_seq === r.seq ? "refused" : "" },
      el("td", { class: "num" }, String(r.seq)),
      el("td", {}, itemText[r.item_id] || r.item_id || "?"),
      el("td", {}, el("span", { class: `badge answer-${r.answer}` }, t(r.answer) || r.answer), r.note ? el("div", { class: "note" }, r.note) : ""),
      el("td", {}, r.photo_sha256 ? thumb(r.photo_sha256) : "—"),
      el("td", { "data-testid": "record-position" }, r.position ? [el("div", {}, `${r.position.lat.toFixed(5)}, ${r.position.lon.toFixed(5)}`,
        el("span", { class: "quiet" }, " · " + t("from_site", { d: distance(task, r.position) }))),
        el("div", { class: "quiet" }, t("fix_q", { q: r.position.quality, s: r.position.satellites, h: r.position.hdop ?? "—" }))] :
        el("span", { class: "warn" }, t("no_fix"))),
      el("td", {}, absTime(r.device_time), el("div", { class: "quiet" }, t("since_contact", { d: duration(r.since_contact_s) }))),
      el("td", {}, r.inspector_id || ""),
      el("td", {}, absTime(r.received))));
    this.recordsBox.replaceChildren(rows.length ? el("div", { class: "scroll tall" },
      table(["seq", t("item"), t("answer"), t("photo"), t("position"), t("device_time"), t("by"), t("received")], rows, { class: "records" })) :
      el("p", { class: "quiet" }, t("no_records")));
  },
  fillMoves(task, held) {
    const buttons = [];
    const id = task.id;
    if (!held && ["assigned", "accepted", "in_progress"].includes(task.state)) {
      buttons.push(el("button", { "data-testid": "task-reassign", onclick: () => this.reassignForm(task) }, t("reassign")));
    }
    if (task.state === "submitted") {
      const note = el("input", { placeholder: t("review_note"), size: 30, "data-testid": "review-note" });
      const review = (verdict) => async () => {
        if (!await confirmAction(t(verdict === "accept" ? "review_accept" : "review_reject"), t(verdict === "accept" ? "confirm_accept" : "confirm_reject", { id }))) return;
        try { await api(`/inspection/tasks/${encodeURIComponent(id)}/review`, "POST", { verdict, note: note.value }); await this.refresh(); }
        catch (err) { showError(err.message); }
      };
      buttons.push(note, el("button", { "data-testid": "review-accept", onclick: review("accept") }, t("review_accept")),
        el("button", { class: "danger", "data-testid": "review-reject", onclick: review("reject") }, t("review_reject")));
    }
    if (task.state === "reviewed") {
      buttons.push(el("button", { "data-testid": "task-close", onclick: async () => {
        if (!await confirmAction(t("close_task"), t("confirm_close", { id }))) return;
        try { await api(`/inspection/tasks/${encodeURIComponent(id)}/close`, "POST"); await this.refresh(); }
        catch (err) { showError(err.message); }
      } }, t("close_task")));
    }
    this.moves.replaceChildren(...buttons);
  },
  async reassignForm(task) {
    const facets = (await api("/inspection/console/tasks?limit=1")).facets;
    const device = el("input", { "data-testid": "assign-device", size: 16, list: "assign-terminals" });
    const inspector = el("input", { "data-testid": "assign-inspector", size: 12, value: task.inspector_id });
    const go = el("button", { type: "submit", "data-testid": "assign-send" }, t("reassign"));
    this.moveBox.replaceChildren(el("form", { class: "form", onsubmit: async (ev) => {
      ev.preventDefault();
      if (!device.value.trim()) { showError(t("need_field", { f: t("terminal") })); return; }
      if (!await confirmAction(t("reassign"), t("confirm_assign", { id: task.id, from: task.device_id, device: device.value.trim(), inspector: inspector.value.trim() || task.inspector_id }))) return;
      try {
        await api(`/inspection/tasks/${encodeURIComponent(task.id)}/assign`, "POST", { device_id: device.value.trim(), inspector_id: inspector.value.trim() });
        this.moveBox.replaceChildren(); showError(""); await this.refresh();
      } catch (err) { showError(err.message); }
    } }, el("label", {}, t("terminal"), device), el("label", {}, t("inspector"), inspector), go,
    el("datalist", { id: "assign-terminals" }, ...facets.terminals.filter((d) => d !== task.device_id).map((d) => el("option", { value: d })))));
    device.focus();
  },
  async download(id) {
    try {
      const blob = await apiBlob(`/inspection/tasks/${encodeURIComponent(id)}/bundle`);
      const url = URL.createObjectURL(blob);
      const a = el("a", { href: url, download: `evidence-${id}.zip` });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (err) { showError(err.message); }
  },
};
