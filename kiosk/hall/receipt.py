"""The printed proof: a drivers.printer receipt layout built from an issued proof.

Only what the hub returned goes on paper: the masked subject, the dates, the proof id and the QR
anyone can scan to check the proof. The full name and ID number never reach the printer.
"""

from __future__ import annotations

from typing import Any

from kiosk.hall.models import Proof

_LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "name": "姓名",
        "id": "证件号码",
        "issued": "签发时间",
        "expires": "有效期至",
        "proof": "证明编号",
        "qr": "扫码核验真伪",
        "footer": "本证明可在任意地点扫码核验",
    },
    "en": {
        "name": "Name",
        "id": "ID number",
        "issued": "Issued",
        "expires": "Valid until",
        "proof": "Proof no.",
        "qr": "Scan to verify",
        "footer": "Anyone can verify this proof by scanning the code",
    },
}


def _short_time(iso: str) -> str:
    return iso.replace("T", " ")[:16] if iso else ""


def proof_receipt(proof: Proof, hall_name: str, lang: str) -> dict[str, Any]:
    """The receipt mapping for ``print_receipt`` (see drivers.printer.receipt)."""
    t = _LABELS.get(lang, _LABELS["zh-CN"])
    return {
        "paper": 80,
        "header": [hall_name, proof.title],
        "lines": [
            {"key": t["name"], "value": proof.subject_name_masked},
            {"key": t["id"], "value": proof.subject_id_masked},
            {"rule": "-"},
            {"key": t["issued"], "value": _short_time(proof.issued_at)},
            {"key": t["expires"], "value": _short_time(proof.expires_at)},
            {"key": t["proof"], "value": proof.proof_id[:24]},
        ],
        "qr": {"data": proof.qr_text, "size": 5, "ec": "M", "caption": t["qr"]},
        "footer": [t["footer"]],
        "cut": True,
    }
