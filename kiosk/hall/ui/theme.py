"""Sizes and colours of the kiosk, normal and elder mode (适老化).

The 工信部 2021 rules for elder-friendly apps ask for large main text, large touch targets and
strong contrast, with colour never the only cue. Normal mode: main text 22 pt (rule: >= 18 pt),
touch targets 72 px tall (>= 44 px). Elder mode: main text 32 pt (>= 30 pt), targets 104 px
(>= 60 px). Every text/background pair below is checked at >= 4.5:1 by a test (WCAG 2 formula);
status is always said in words and with a symbol beside its colour.
"""

from __future__ import annotations

from dataclasses import dataclass

FONT_FAMILY = "Noto Sans CJK SC"


@dataclass(frozen=True, slots=True)
class Theme:
    """Sizes and colours of the kiosk's screens."""

    elder: bool
    body_pt: int  # main text
    title_pt: int
    small_pt: int  # secondary text (hints, privacy line)
    button_pt: int
    target_px: int  # minimum height (and width) of a touch target
    key_px: int  # on-screen keyboard keys
    spacing: int


NORMAL = Theme(
    elder=False,
    body_pt=22,
    title_pt=32,
    small_pt=18,
    button_pt=24,
    target_px=72,
    key_px=84,
    spacing=20,
)
ELDER = Theme(
    elder=True,
    body_pt=32,
    title_pt=42,
    small_pt=30,
    button_pt=32,
    target_px=104,
    key_px=110,
    spacing=28,
)

# Colours: (foreground, background) pairs actually used.
BG = "#FFFFFF"
TEXT = "#1A1A1A"
MUTED = "#4A4A4A"
PRIMARY = "#0B4EA2"  # button background (white text)
PRIMARY_TEXT = "#FFFFFF"
SECONDARY_BG = "#E8EEF7"  # secondary buttons (dark text)
SECONDARY_TEXT = "#0B2E5C"
DANGER_BG = "#FCE8E6"
DANGER_TEXT = "#8A1C12"
OK_BG = "#E6F4EA"
OK_TEXT = "#14532D"
BAR_BG = "#0B2E5C"  # top bar (white text)
BAR_TEXT = "#FFFFFF"
WARN_BG = "#FFF4CE"
WARN_TEXT = "#5C3B00"

PAIRS: dict[str, tuple[str, str]] = {
    "text": (TEXT, BG),
    "muted": (MUTED, BG),
    "primary": (PRIMARY_TEXT, PRIMARY),
    "secondary": (SECONDARY_TEXT, SECONDARY_BG),
    "danger": (DANGER_TEXT, DANGER_BG),
    "ok": (OK_TEXT, OK_BG),
    "bar": (BAR_TEXT, BAR_BG),
    "warn": (WARN_TEXT, WARN_BG),
}


def theme(elder: bool) -> Theme:
    """The elder theme (larger text) or the normal one."""
    return ELDER if elder else NORMAL


def _luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio of two ``#RRGGBB`` colours (1 to 21)."""
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def stylesheet(t: Theme) -> str:
    """The Qt style sheet for one mode; widgets pick a look by their ``role`` property."""
    return f"""
QWidget {{ background: {BG}; color: {TEXT}; font-family: "{FONT_FAMILY}";
          font-size: {t.body_pt}pt; }}
QLabel[role="title"] {{ font-size: {t.title_pt}pt; font-weight: bold; }}
QLabel[role="prompt"] {{ font-size: {t.body_pt}pt; color: {TEXT}; }}
QLabel[role="muted"] {{ font-size: {t.small_pt}pt; color: {MUTED}; }}
QLabel[role="danger"] {{ background: {DANGER_BG}; color: {DANGER_TEXT};
          border: 3px solid {DANGER_TEXT}; border-radius: 12px; padding: 16px; }}
QLabel[role="ok"] {{ background: {OK_BG}; color: {OK_TEXT}; border-radius: 12px; padding: 16px; }}
QLabel[role="warn"] {{ background: {WARN_BG}; color: {WARN_TEXT}; border: 3px solid {WARN_TEXT};
          border-radius: 12px; padding: 16px; }}
QLabel[role="field"] {{ background: {SECONDARY_BG}; color: {SECONDARY_TEXT};
          border: 3px solid {SECONDARY_TEXT}; border-radius: 10px; padding: 12px;
          font-size: {t.title_pt}pt; }}
QFrame[role="bar"], QFrame[role="bar"] QLabel {{ background: {BAR_BG}; color: {BAR_TEXT}; }}
QFrame[role="countdown"], QFrame[role="countdown"] QLabel {{ background: {WARN_BG};
          color: {WARN_TEXT}; }}
QFrame[role="countdown"] {{ border-top: 4px solid {WARN_TEXT}; }}
QFrame[role="card"] {{ background: {BG}; border: 3px solid {MUTED}; border-radius: 14px; }}
QFrame[role="card"] QLabel {{ background: {BG}; }}
QPushButton {{ min-height: {t.target_px}px; min-width: {t.target_px}px;
          font-size: {t.button_pt}pt; border-radius: 14px; padding: 8px 24px;
          background: {SECONDARY_BG}; color: {SECONDARY_TEXT};
          border: 3px solid {SECONDARY_TEXT}; }}
QPushButton[role="primary"] {{ background: {PRIMARY}; color: {PRIMARY_TEXT};
          border: 3px solid {PRIMARY}; font-weight: bold; }}
QPushButton[role="bar"] {{ background: {BAR_BG}; color: {BAR_TEXT}; border: 3px solid {BAR_TEXT}; }}
QPushButton[role="key"] {{ min-height: {t.key_px}px; min-width: {t.key_px}px;
          font-size: {t.title_pt}pt; padding: 0; }}
QPushButton[role="choice"] {{ text-align: left; padding: 16px 28px; }}
QPushButton[role="chosen"] {{ background: {PRIMARY}; color: {PRIMARY_TEXT};
          border: 3px solid {TEXT}; font-weight: bold; }}
QScrollBar:vertical {{ width: 28px; background: {SECONDARY_BG}; }}
QScrollBar::handle:vertical {{ background: {SECONDARY_TEXT}; min-height: 80px;
          border-radius: 8px; }}
QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical {{ height: 0; }}
QProgressBar {{ min-height: 28px; border: 2px solid {TEXT}; border-radius: 8px;
          text-align: center; color: {TEXT}; }}
QProgressBar::chunk {{ background: {PRIMARY}; }}
"""
