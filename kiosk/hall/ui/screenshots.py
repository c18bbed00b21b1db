"""Render every screen in both modes, both orientations and both languages to PNG files.

``python -m kiosk.hall.ui.screenshots docs/kiosk`` (offscreen). The views are built from the
synthetic sample below, the same ``View`` objects the flow publishes; every citizen field in them
is masked as the flow masks it.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk.hall.flow import Step, View
from kiosk.hall.models import Application, Errand, Proof, RatingChoices, TimelineEntry

ERRANDS = (
    Errand(
        "residence-proof",
        "居住证明",
        "证明您在本市居住",
        "proof",
        ("居民身份证",),
        "一楼 3 号窗口",
        "免费",
        "residence",
    ),
    Errand(
        "no-record-proof",
        "无犯罪记录证明",
        "出国、就业等需要",
        "proof",
        ("居民身份证",),
        "一楼 5 号窗口",
        "免费",
        "no_record",
    ),
    Errand("progress", "办理进度查询", "输入受理编号或扫码查询", "progress"),
    Errand(
        "passport-guide",
        "护照办理",
        "首次申领或换发护照",
        "guide",
        ("居民身份证", "近期免冠照片一张", "户口簿（首次申领）"),
        "二楼 出入境窗口",
        "120 元（首次）",
    ),
)
APPLICATION = Application(
    "A20260001",
    "居住证签注",
    "under_review",
    (
        TimelineEntry("received", "已受理", "2026-12-01T09:12:00+08:00"),
        TimelineEntry("prechecked", "预审通过", "2026-12-01T15:40:00+08:00"),
        TimelineEntry("under_review", "审核中", "2026-12-02T10:05:00+08:00", "预计 3 个工作日"),
    ),
)
PROOF = Proof(
    "P-2026-000123",
    "HC1:NCFOXN%TS3DH",
    "居住证明",
    "2026-12-06T10:00:00+08:00",
    "2027-03-06T10:00:00+08:00",
    "110101********1233",
    "测**",
)
RATING = RatingChoices(
    ((1, "非常不满意"), (2, "不满意"), (3, "基本满意"), (4, "满意"), (5, "非常满意")),
    (("fast", "办理快"), ("clear", "指引清楚"), ("easy", "操作简单"), ("kind", "服务热情")),
)
HEALTH = {
    "device_id": "kiosk-hall1-01",
    "connected": True,
    "drivers": {
        "idcard": {"kind": "idcard", "state": "online", "detail": ""},
        "fingerprint": {"kind": "fingerprint", "state": "online", "detail": ""},
        "camera": {"kind": "camera", "state": "online", "detail": ""},
        "printer": {"kind": "printer", "state": "degraded", "detail": "paper low"},
    },
}
V = dict(greeting="测**", subject_id="110101********1233", document="resident_id", errands=ERRANDS)

ERRANDS_EN = (
    Errand(
        "residence-proof",
        "Proof of residence",
        "Shows that you live in the city",
        "proof",
        ("Resident ID card",),
        "Window 3, ground floor",
        "Free",
        "residence",
    ),
    Errand(
        "no-record-proof",
        "No-criminal-record certificate",
        "For work or travel abroad",
        "proof",
        ("Resident ID card",),
        "Window 5, ground floor",
        "Free",
        "no_record",
    ),
    Errand("progress", "Application progress", "Type the number or scan the QR code", "progress"),
    Errand(
        "passport-guide",
        "Passport",
        "First passport or a new one",
        "guide",
        ("Resident ID card", "One recent photo", "Household register (first passport)"),
        "Exit-entry desk, 1st floor",
        "CNY 120 (first passport)",
    ),
)
APPLICATION_EN = Application(
    "A20260001",
    "Residence permit endorsement",
    "under_review",
    (
        TimelineEntry("received", "Received", "2026-12-01T09:12:00+08:00"),
        TimelineEntry("prechecked", "Pre-check passed", "2026-12-01T15:40:00+08:00"),
        TimelineEntry(
            "under_review", "Under review", "2026-12-02T10:05:00+08:00", "About 3 working days"
        ),
    ),
)
RATING_EN = RatingChoices(
    ((1, "Very poor"), (2, "Poor"), (3, "Fair"), (4, "Good"), (5, "Very good")),
    (
        ("fast", "Quick"),
        ("clear", "Clear guidance"),
        ("easy", "Easy to use"),
        ("kind", "Friendly staff"),
    ),
)


def in_english(view: View) -> View:
    """The sample as the hub would send it in English (errand names, timeline, rating words)."""
    by_id = {e.id: e for e in ERRANDS_EN}
    return replace(
        view,
        lang="en",
        errands=ERRANDS_EN if view.errands else (),
        errand=by_id.get(view.errand.id) if view.errand else None,
        application=APPLICATION_EN if view.application else None,
        rating=RATING_EN if view.rating else None,
    )


def sample_views() -> dict[str, View]:
    """One view per screen (and a few variants), keyed by file stem."""
    base = View(step=Step.ATTRACT, lang="zh-CN", elder=False, attempts_max=3)

    def c(step: Step, **kw: Any) -> View:
        return replace(base, step=step, **kw)

    return {
        "01-attract": c(Step.ATTRACT),
        "02-attract-card-removed": c(Step.ATTRACT, notice="notice.card_removed"),
        "02b-attract-devices-down": c(Step.ATTRACT, devices_ok=False),
        "03-document": c(
            Step.DOCUMENT, prompt="prompt.place_card", actions=("use_ss_card", "finish")
        ),
        "04-reading": c(Step.READING, prompt="prompt.reading"),
        "05-face-challenge": c(
            Step.FACE, prompt="face.blink", progress=0.4, attempt=1, actions=("finish",), **V
        ),
        "06-face-not-live": c(
            Step.FACE_FAILED,
            message="face.fail.not_live",
            prompt="prompt.face_retry",
            attempt=1,
            actions=("retry", "finish"),
            **V,
        ),
        "07-fingerprint": c(
            Step.FINGERPRINT, prompt="prompt.place_finger", actions=("finish",), **V
        ),
        "08-menu": c(Step.MENU, prompt="prompt.pick_errand", actions=("guide", "finish"), **V),
        "09-proof-confirm": c(
            Step.PROOF_CONFIRM,
            prompt="prompt.confirm_proof",
            errand=ERRANDS[0],
            actions=("print", "menu", "finish"),
            **V,
        ),
        "10-printing": c(Step.PRINTING, prompt="prompt.printing", **V),
        "11-print-paper-out": c(
            Step.PRINT_FAILED,
            message="printer.paper_out",
            prompt="prompt.print_failed",
            actions=("retry", "menu", "finish"),
            **V,
        ),
        "12-progress-entry": c(
            Step.PROGRESS_ENTRY,
            prompt="prompt.type_number",
            typed="A2026",
            actions=("scan", "menu", "finish"),
            **V,
        ),
        "13-progress-scan": c(
            Step.PROGRESS_SCAN, prompt="prompt.show_qr", actions=("cancel_scan", "menu"), **V
        ),
        "14-progress-result": c(
            Step.PROGRESS_RESULT, application=APPLICATION, actions=("done", "menu"), **V
        ),
        "15-guide-list": c(
            Step.GUIDE_LIST, prompt="prompt.pick_guide", actions=("menu", "finish"), **V
        ),
        "16-guide-detail": c(
            Step.GUIDE_DETAIL, errand=ERRANDS[3], actions=("done", "guide", "menu"), **V
        ),
        "17-rate": c(
            Step.RATE,
            prompt="prompt.rate",
            rating=RATING,
            rating_level=4,
            rating_tags=("fast",),
            actions=("skip",),
            **V,
        ),
        "18-goodbye": c(
            Step.GOODBYE,
            prompt="prompt.take_card_receipt",
            proof=PROOF,
            actions=("another", "finish"),
            **V,
        ),
        "19-backend-down": c(
            Step.ERROR, message="error.backend_down", actions=("retry", "finish"), **V
        ),
        "20-countdown": c(
            Step.MENU, prompt="prompt.pick_errand", countdown=17, actions=("guide", "finish"), **V
        ),
        "21-maintenance-pin": c(
            Step.MAINTENANCE_PIN, prompt="prompt.staff_pin", typed="••", actions=("close",)
        ),
        "22-maintenance": c(Step.MAINTENANCE, health=HEALTH, actions=("refresh", "close")),
    }


def render_all(
    out: Path,
    only: list[str] | None = None,
    langs: tuple[str, ...] = ("zh-CN", "en"),
    orientations: tuple[str, ...] = ("portrait", "landscape"),
    scale: float = 1.0,
) -> list[Path]:
    """Render every screen (or ``only`` these) in each language and orientation to ``out``."""
    from PySide6.QtCore import Qt

    from kiosk.hall.ui.window import KioskWindow, ensure_app

    app = ensure_app()
    written: list[Path] = []
    out.mkdir(parents=True, exist_ok=True)
    views = sample_views()
    for orientation in orientations:
        window = KioskWindow(orientation=orientation)
        window.show()
        for lang in langs:
            for elder in (False, True):
                for stem, view in views.items():
                    if only and not any(o in stem for o in only):
                        continue
                    shown = in_english(view) if lang == "en" else view
                    window.show_view(replace(shown, lang=lang, elder=elder))
                    app.processEvents()
                    mode = "elder" if elder else "normal"
                    path = out / f"{orientation}-{lang}-{mode}-{stem}.png"
                    image = window.grab().toImage()
                    if scale != 1.0:
                        image = image.scaledToWidth(
                            int(image.width() * scale), Qt.TransformationMode.SmoothTransformation
                        )
                    image.save(str(path))
                    _shrink(path)
                    written.append(path)
        window.close()
    return written


def _shrink(path: Path) -> None:
    """Re-save with a 64-colour palette (no dithering): the screens are flat colours and text,
    and the files stay small. Left as they are where Pillow is not installed."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=64, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    """Command line: render the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--only", nargs="*", help="screens whose file stem contains one of these")
    parser.add_argument("--langs", nargs="*", default=["zh-CN", "en"])
    parser.add_argument("--orientations", nargs="*", default=["portrait", "landscape"])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    paths = render_all(args.out, args.only, tuple(args.langs), tuple(args.orientations), args.scale)
    print(f"wrote {len(paths)} screenshots to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
