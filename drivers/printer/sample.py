"""The sample receipt ``govedge device printer test`` prints (and the docs show)."""

from __future__ import annotations

from typing import Any


def sample_receipt(paper: int = 80) -> dict[str, Any]:
    """A Chinese service-hall receipt with key-value rows, a QR code and a cut."""
    return {
        "paper": paper,
        "header": ["政务服务中心", "办事回执 / Service receipt"],
        "lines": [
            {"rule": "="},
            {"key": "办理事项", "value": "居住证签注"},
            {"key": "受理编号", "value": "GZ-2026-000123"},
            {"key": "办理窗口", "value": "B12 号窗口"},
            {"key": "受理时间", "value": "2026-11-25 09:30"},
            {"rule": "-"},
            "温馨提示：请凭本回执和身份证于三个工作日后领取结果，逾期请到咨询台查询。",
            "，。：",
        ],
        "qr": {
            "data": "https://zwfw.example.gov.cn/q/GZ-2026-000123",
            "size": 6,
            "ec": "M",
            "caption": "扫码查询办理进度",
        },
        "footer": ["感谢您的耐心等待！", "Printer self-test"],
        "cut": True,
    }
