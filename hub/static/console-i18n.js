"use strict";
// The operator console's words in zh-CN and English; the language is kept in localStorage.
const WORDS = {
  title: ["设备运维控制台", "Operator console"],
  nav_overview: ["总览", "Overview"], nav_devices: ["设备", "Devices"],
  nav_rollouts: ["配置下发", "Rollouts"], nav_audit: ["审计日志", "Audit log"],
  switch_token: ["退出 / 换令牌", "Sign out"],
  sign_in_title: ["登录运维控制台", "Sign in to the operator console"],
  api_token: ["访问令牌", "API token"], sign_in: ["登录", "Sign in"],
  token_hint: ["令牌由管理员创建：govedge hub token create --role operator", "An admin creates tokens: govedge hub token create --role operator"],
  need_token: ["请使用访问令牌登录。", "Sign in with an API token."],
  bad_token: ["令牌无效或已吊销，请重新登录。", "That token is unknown or revoked. Sign in again."],
  wrong_role: ["此令牌的角色（{role}）不能使用运维控制台。请用运维员、管理员或查看者令牌登录。",
    "This token's role ({role}) cannot use the operator console. Sign in with an operator, admin or viewer token."],
  live: ["实时", "Live"], reconnecting: ["重连中", "Reconnecting"], connecting: ["连接中", "Connecting"],
  confirm: ["确认执行", "Confirm"], cancel: ["取消", "Cancel"],
  devices: ["设备", "Devices"], online: ["在线", "Online"], offline: ["离线", "Offline"],
  degraded: ["降级", "Degraded"], attention: ["待处理", "Need attention"], all: ["全部", "All"],
  by_site: ["按站点", "By site"], by_model: ["按型号", "By model"], site: ["站点", "Site"],
  model: ["型号", "Model"], state: ["状态", "State"], last_seen: ["最后在线", "Last seen"],
  drivers: ["驱动", "Drivers"], firmware: ["固件", "Firmware"], config_version: ["配置版本", "Config version"],
  label: ["标签", "Label"], search: ["搜索", "Search"], search_ph: ["设备号、站点、型号或标签", "id, site, model or label"],
  map: ["设备分布（无底图，经纬度坐标）", "Device positions (no map tiles: longitude / latitude)"],
  attention_first: ["优先处理的设备", "Devices that need attention first"],
  problem: ["问题", "Problem"], p_offline: ["离线", "Offline"], p_driver_faulted: ["驱动故障", "Driver faulted"],
  p_paper_out: ["缺纸", "Paper out"], p_certificate_expiring: ["证书将到期", "Certificate expiring"],
  p_config_not_applied: ["配置未生效", "Config not applied"],
  none_attention: ["没有需要处理的设备", "No device needs attention"],
  shown: ["显示 {a}–{b} / 共 {n} 台", "Showing {a}–{b} of {n}"], prev: ["上一页", "Previous"], next: ["下一页", "Next"],
  no_devices: ["没有符合条件的设备", "No device matches"],
  act_command: ["向这 {n}发送命令", "Send a command to these {n}"],
  act_rollout: ["向这 {n}下发配置", "Roll a config out to these {n}"],
  command: ["命令", "Command"], args: ["参数 (JSON)", "Arguments (JSON)"], send: ["发送", "Send"],
  confirm_command: ["将向 {n}发送命令“{name}”。", "Send the command \"{name}\" to {n}."],
  confirm_rollout: ["将向 {n}分阶段下发配置（{steps}%），失败超过 {max} 台即停止。",
    "Roll this config out to {n} in steps of {steps} %, halting when more than {max} fail."],
  confirm_halt: ["停止配置下发 {id}（共 {n}）？", "Halt rollout {id} ({n})?"],
  confirm_resume: ["恢复配置下发 {id}（共 {n}），失败上限 {max}？", "Resume rollout {id} ({n}) with a failure limit of {max}?"],
  confirm_rotate: ["将轮换 1 台设备（{id}）的证书。", "Rotate the certificate of 1 device ({id})."],
  confirm_revoke: ["将吊销 1 台设备（{id}）的全部证书。设备将无法再连接，直到重新注册。",
    "Revoke every certificate of 1 device ({id}). It cannot connect again until it enrolls anew."],
  confirm_config: ["将为 1 台设备（{id}）设置期望配置。", "Set the desired config of 1 device ({id})."],
  config_json: ["配置 (JSON)", "Config (JSON)"], steps: ["阶段 (%)", "Steps (%)"], max_failures: ["失败上限", "Failure limit"],
  start_rollout: ["开始下发", "Start rollout"],
  rollouts: ["配置下发", "Rollouts"], progress: ["进度", "Progress"], applied: ["已生效", "Applied"],
  failed: ["失败", "Failed"], pending: ["等待中", "Pending"], halt: ["停止", "Halt"], resume: ["恢复", "Resume"],
  running: ["进行中", "Running"], halted: ["已停止", "Halted"], done: ["已完成", "Done"],
  failures: ["失败的设备", "Failures"], reason: ["原因", "Reason"], created: ["创建时间", "Created"],
  no_rollouts: ["还没有配置下发", "No rollout yet"],
  detail_drivers: ["驱动健康", "Driver health"], detail_latest: ["最新读数", "Latest readings"],
  stale: ["过期", "stale"], metric: ["指标", "Metric"], value: ["数值", "Value"], time: ["时间", "Time"],
  charts: ["遥测曲线", "Telemetry"], hour: ["1 小时", "Hour"], day: ["1 天", "Day"], week: ["1 周", "Week"],
  history: ["状态历史", "State history"], events: ["最近事件", "Recent events"], commands: ["命令", "Commands"],
  config: ["配置", "Config"], desired: ["期望", "Desired"], reported: ["设备上报", "Reported"],
  certificate: ["证书", "Certificate"], serial: ["序列号", "Serial"], days_left: ["剩余天数", "Days left"],
  no_ca: ["此中心未配置设备证书机构", "This hub has no fleet CA"],
  rotate: ["轮换证书", "Rotate certificate"], revoke: ["吊销证书", "Revoke certificate"],
  set_config: ["设置配置", "Set config"], actions: ["操作", "Actions"], none: ["无", "None"],
  no_health: ["设备尚未上报驱动健康", "No driver health reported yet"],
  all_drivers_online: ["全部驱动正常", "All drivers online"],
  drivers_unknown: ["设备离线：驱动状态未知（最后上报如下）", "Device offline: driver state unknown (last report below)"],
  no_data: ["此时段无数据", "No data in this range"], audit: ["审计日志", "Audit log"],
  audit_ph: ["路径、操作、命令或设备号", "path, action, command or device id"],
  all_time: ["全部时间", "All time"], last_hour: ["最近 1 小时", "Last hour"],
  last_day: ["最近 24 小时", "Last 24 h"], last_week: ["最近 7 天", "Last 7 days"],
  who: ["操作人", "Who"], action: ["操作", "Action"], targets: ["对象", "Targets"], status: ["结果", "Result"],
  from: ["来源", "From"], admin_only: ["仅管理员可查看审计日志", "Only an admin can read the audit log"],
  cmd_state: ["状态", "State"], result: ["结果", "Result"], sent_ok: ["已发送到 {n}", "Sent to {n}"],
  rollout_started: ["配置下发已开始", "Rollout started"], reason_col: ["原因", "Reason"], never: ["从未", "never"],
  s_queued: ["排队", "queued"], s_sent: ["已发送", "sent"], s_acknowledged: ["已确认", "acknowledged"],
  s_failed: ["失败", "failed"], s_expired: ["已过期", "expired"],
};
let LANG = localStorage.getItem("govedge.lang") || (navigator.language.startsWith("zh") ? "zh" : "en");
function t(key, vars) {
  const pair = WORDS[key];
  let text = pair ? pair[LANG === "zh" ? 0 : 1] : key;
  Object.entries(vars || {}).forEach(([k, v]) => { text = text.split(`{${k}}`).join(String(v)); });
  return text;
}
function setLang(lang) {
  LANG = lang; localStorage.setItem("govedge.lang", lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-t]").forEach((n) => { n.textContent = t(n.dataset.t); });
  document.getElementById("lang").textContent = lang === "zh" ? "English" : "中文";
}
// "1 台设备" / "1 device", "50 devices": how many devices an action touches.
function devs(n) { return LANG === "zh" ? `${n} 台设备` : `${n} device${n === 1 ? "" : "s"}`; }
