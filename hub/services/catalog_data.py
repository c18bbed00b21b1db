"""The errands and proof types a hub starts with (an admin edits errands through the API).

Texts are given per language (zh-CN, en); the API picks one. ``kind`` says what the kiosk does:
print a proof, look up an application's progress, or show a guide.
"""

from __future__ import annotations

from typing import Any, Final

LANGS: Final = ("zh-CN", "en")

# Proof types: the GB/T 36904-style type code, validity, subject kind, whether the proof must
# carry the full ID number (a bank matches it), and the title in each language.
PROOF_TYPES: Final[dict[str, dict[str, Any]]] = {
    "residence_proof": {
        "code": "11100000000000101",
        "valid_days": 90,
        "full_id": False,
        "title": {"zh-CN": "居住证明", "en": "Proof of residence"},
    },
    "social_security_record": {
        "code": "11100000000000202",
        "valid_days": 30,
        "full_id": True,
        "title": {"zh-CN": "社会保险缴费证明", "en": "Social-security contribution record"},
    },
    "business_licence_extract": {
        "code": "11100000000000303",
        "valid_days": 30,
        "full_id": False,
        "title": {"zh-CN": "营业执照信息摘要", "en": "Business licence extract"},
    },
}

ERRANDS: Final[list[dict[str, Any]]] = [
    {
        "id": "residence-proof",
        "kind": "proof",
        "proof_type": "residence_proof",
        "name": {"zh-CN": "开具居住证明", "en": "Proof of residence"},
        "summary": {
            "zh-CN": "凭本人居民身份证，自助打印带防伪二维码的居住证明。",
            "en": "Print a proof of residence with a verifiable QR code, using your ID card.",
        },
        "materials": {"zh-CN": ["居民身份证"], "en": ["Resident ID card"]},
        "where": {
            "zh-CN": "自助终端，或一楼综合窗口",
            "en": "This kiosk, or the general desk (1F)",
        },
        "fees": {"zh-CN": "免费", "en": "Free"},
    },
    {
        "id": "social-security-record",
        "kind": "proof",
        "proof_type": "social_security_record",
        "name": {"zh-CN": "打印社保缴费证明", "en": "Social-security contribution record"},
        "summary": {
            "zh-CN": "打印本人社会保险缴费情况证明，可供银行、单位核验。",
            "en": "Print your social-security contribution record for a bank or an employer.",
        },
        "materials": {
            "zh-CN": ["居民身份证或社会保障卡"],
            "en": ["Resident ID card or social-security card"],
        },
        "where": {
            "zh-CN": "自助终端，或二楼社保窗口",
            "en": "This kiosk, or the social-security desk (2F)",
        },
        "fees": {"zh-CN": "免费", "en": "Free"},
    },
    {
        "id": "business-licence-extract",
        "kind": "proof",
        "proof_type": "business_licence_extract",
        "name": {"zh-CN": "打印营业执照信息摘要", "en": "Business licence extract"},
        "summary": {
            "zh-CN": "法定代表人凭身份证打印本企业营业执照信息摘要。",
            "en": "The legal representative prints the company's licence extract.",
        },
        "materials": {
            "zh-CN": ["法定代表人居民身份证", "统一社会信用代码"],
            "en": ["Legal representative's ID card", "Unified social credit code"],
        },
        "where": {
            "zh-CN": "自助终端，或三楼市场监管窗口",
            "en": "This kiosk, or the market regulation desk (3F)",
        },
        "fees": {"zh-CN": "免费", "en": "Free"},
    },
    {
        "id": "application-progress",
        "kind": "progress",
        "proof_type": None,
        "name": {"zh-CN": "办件进度查询", "en": "Where is my application?"},
        "summary": {
            "zh-CN": "输入或扫描受理编号，查看办件进度。",
            "en": "Enter or scan your application number to see where it stands.",
        },
        "materials": {"zh-CN": ["受理回执或受理编号"], "en": ["Receipt or application number"]},
        "where": {"zh-CN": "自助终端", "en": "This kiosk"},
        "fees": {"zh-CN": "免费", "en": "Free"},
    },
    {
        "id": "residence-permit-endorsement",
        "kind": "guide",
        "proof_type": None,
        "name": {"zh-CN": "居住证签注", "en": "Residence permit endorsement"},
        "summary": {
            "zh-CN": "居住证每年签注一次，请携带材料到窗口办理。",
            "en": "A residence permit is endorsed once a year at a desk; bring the materials.",
        },
        "materials": {
            "zh-CN": ["居住证", "居民身份证", "近六个月居住证明"],
            "en": ["Residence permit", "Resident ID card", "Proof of residence (last 6 months)"],
        },
        "where": {"zh-CN": "一楼 B12 号窗口", "en": "Desk B12 (1F)"},
        "fees": {"zh-CN": "免费", "en": "Free"},
    },
]

# 好差评: five levels and the reason tags, as the national rules name them.
RATING_LEVELS: Final[dict[int, dict[str, str]]] = {
    5: {"zh-CN": "非常满意", "en": "Very satisfied"},
    4: {"zh-CN": "满意", "en": "Satisfied"},
    3: {"zh-CN": "基本满意", "en": "Fairly satisfied"},
    2: {"zh-CN": "不满意", "en": "Dissatisfied"},
    1: {"zh-CN": "非常不满意", "en": "Very dissatisfied"},
}

RATING_TAGS: Final[dict[str, dict[str, str]]] = {
    "fast": {"zh-CN": "办理快捷", "en": "Quick"},
    "clear_guide": {"zh-CN": "指引清晰", "en": "Clear guidance"},
    "friendly": {"zh-CN": "服务热情", "en": "Friendly staff"},
    "easy_kiosk": {"zh-CN": "终端好用", "en": "Easy kiosk"},
    "long_wait": {"zh-CN": "等待时间长", "en": "Long wait"},
    "unclear_guide": {"zh-CN": "指引不清", "en": "Unclear guidance"},
    "device_fault": {"zh-CN": "设备故障", "en": "Device fault"},
    "too_many_materials": {"zh-CN": "材料繁琐", "en": "Too many materials"},
}
