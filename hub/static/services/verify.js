// Proof verification page: public, no token. The hub checks the signature with the issuers'
// public keys only (as any offline verifier would) and adds the online revocation status.
"use strict";

const REASONS = {
  ok: ["有效", "VALID", "签名有效，由受信的出具机关签发。", "Signed by a trusted issuer; not altered."],
  revoked: ["已撤销", "REVOKED", "此证明已被出具机关撤销，不可再使用。", "The issuer has revoked this proof; do not accept it."],
  bad_signature: ["无效", "NOT VALID", "签名不符：证明内容被改动或系伪造。", "The signature does not match: the proof was altered or forged."],
  unknown_key: ["无效", "NOT VALID", "不是受信的出具机关签发的证明。", "Not signed by a trusted issuer."],
  expired: ["已过期", "EXPIRED", "证明已超过有效期。", "The proof is past its validity."],
  not_yet_valid: ["无效", "NOT VALID", "出具时间在未来，请核实。", "Issued in the future; check it."],
  unknown_document: ["无效", "NOT VALID", "出具机关没有这份证明的记录。", "The issuer has no record of this document."],
  malformed: ["无法识别", "NOT READABLE", "这不是本系统出具的证明二维码。", "This is not the QR code of a proof from this system."],
};

const $ = (id) => document.getElementById(id);

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const local = d.toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
  return `${local}（北京时间 / Beijing time）`;
}

function text(id, value) { $(id).textContent = value || "—"; }

function show(answer) {
  const offline = answer.offline;
  let reason = offline.reason;
  if (offline.valid && answer.revoked) reason = "revoked";
  else if (offline.valid && !answer.valid) reason = offline.reason === "ok" ? "unknown_document" : offline.reason;
  const [zh, en, zhText, enText] = REASONS[reason] || REASONS.malformed;
  const banner = $("banner");
  banner.className = "banner " + (answer.valid ? "valid" : reason === "revoked" || reason === "expired" ? "warn" : "invalid");
  banner.dataset.reason = reason;
  $("verdict").textContent = `${answer.valid ? "✔" : "✘"} ${zh} ${en}`;
  $("reason").textContent = `${zhText} ${enText}`;
  const s = answer.summary;
  // A document whose signature failed is not shown: its content cannot be trusted.
  $("details").hidden = !s || !(offline.valid || reason === "expired");
  $("advice").hidden = answer.valid;
  if (s) {
    text("d-title", `${s.title["zh-CN"] || ""} · ${s.title.en || ""}`);
    text("d-subject", `${s.subject.name || ""}　${s.subject.id_number || ""}`);
    const facts = Object.entries(s.facts || {});
    $("r-facts").hidden = facts.length === 0;
    text("d-facts", facts.map(([k, v]) => `${k}: ${v}`).join("；"));
    text("d-issuer", `${s.issuer.name || ""}（${s.issuer.name_en || ""}）· ${s.issuer.hall || ""} · ${s.issuer.code || ""}`);
    text("d-issued", when(s.issued_at));
    text("d-expires", when(s.expires_at));
    text("d-id", s.proof_id);
  }
  if (answer.status && answer.status.revoked) {
    text("d-revocation", `已撤销 Revoked ${when(answer.status.revoked_at)}：${answer.status.revoke_reason || ""}`);
  } else if (answer.status) {
    text("d-revocation", "未撤销 Not revoked");
  } else {
    text("d-revocation", "出具机关无记录或无法查询 Unknown to this hub");
  }
  text("d-kid", offline.kid);
  text("d-checked", when(answer.checked_at));
  $("result").hidden = false;
}

async function check(qr) {
  $("error").hidden = true;
  try {
    const resp = await fetch("/api/v1/services/verify", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ qr_text: qr }),
    });
    const answer = await resp.json();
    if (!resp.ok) throw new Error(answer.error || resp.statusText);
    show(answer);
  } catch (err) {
    $("result").hidden = true;
    $("error").textContent = `核验失败 Verification failed: ${err.message}`;
    $("error").hidden = false;
  }
}

$("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const qr = $("qr").value.trim();
  if (qr) check(qr);
});
$("clear").addEventListener("click", () => {
  $("qr").value = ""; $("result").hidden = true; $("error").hidden = true; $("qr").focus();
});
// A scanner types the text and Enter: verify at once.
$("qr").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("form").requestSubmit(); }
});
if (location.hash.length > 1) {
  $("qr").value = decodeURIComponent(location.hash.slice(1));
  $("form").requestSubmit();
}
$("qr").focus();
