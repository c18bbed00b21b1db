"""The kiosk's one window: it renders a flow ``View`` and forwards taps, nothing more.

Every button carries an object name (``action_print``, ``errand_<id>``, ``key_7``) so tests find
it as a citizen would: by what it does. Each view rebuilds the content area, which keeps the
screens stateless: what shows is exactly what the view says. Words come from kiosk.hall.ui.texts
through Qt's translator; the screens never show an exception's text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QPointF, QRectF, QSize, Qt, QTranslator, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.hall.flow import Step, View
from kiosk.hall.models import Errand
from kiosk.hall.ui import theme as th
from kiosk.hall.ui.keyboard import Keyboard
from kiosk.hall.ui.speech import Speaker, make_speaker
from kiosk.hall.ui.texts import CONTEXT, source

I18N_DIR = Path(__file__).resolve().parent.parent / "i18n"
PORTRAIT = QSize(1080, 1920)
LANDSCAPE = QSize(1920, 1080)
PRIMARY_ACTIONS = {"start", "print", "retry", "done", "another", "submit", "submit_rating"}
STATE_WORDS = {
    "online": "● 正常 online",
    "degraded": "▲ 降级 degraded",
    "offline": "× 离线 offline",
    "no_device": "× 未连接 no device",
    "fault": "× 故障 fault",
}


def _pieces(text: str) -> list[str]:
    """Units a line may break between: each CJK character, or a word with its trailing space."""
    pieces: list[str] = []
    word = ""
    for ch in text:
        if ord(ch) >= 0x2E80:
            if word:
                pieces.append(word)
                word = ""
            pieces.append(ch)
        elif ch == " ":
            pieces.append(word + " ")
            word = ""
        else:
            word += ch
    if word:
        pieces.append(word)
    return pieces


def load_translator(lang: str) -> QTranslator | None:
    """The Qt translator for ``lang`` (None for zh-CN, the source language)."""
    if lang != "en":
        return None
    translator = QTranslator()
    if not translator.load(str(I18N_DIR / "hall_en.qm")):
        return None
    return translator


def _picture(kind: str, size: int) -> QPixmap:
    """A plain drawing (card on a reader, a face, a finger, a printer): a cue beside the words."""
    pix = QPixmap(size, size)
    pix.fill(QColor(th.BG))
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(QColor(th.PRIMARY))
    pen.setWidth(max(4, size // 40))
    p.setPen(pen)
    s = float(size)
    if kind == "card":
        p.drawRoundedRect(QRectF(s * 0.18, s * 0.18, s * 0.64, s * 0.40), 12, 12)
        p.drawEllipse(QRectF(s * 0.26, s * 0.26, s * 0.16, s * 0.20))
        for i in range(3):
            y = s * (0.28 + 0.08 * i)
            p.drawLine(QPointF(s * 0.50, y), QPointF(s * 0.74, y))
        p.drawRect(QRectF(s * 0.10, s * 0.68, s * 0.80, s * 0.14))
        p.drawLine(QPointF(s * 0.5, s * 0.60), QPointF(s * 0.5, s * 0.66))
    elif kind == "face":
        p.drawEllipse(QRectF(s * 0.25, s * 0.15, s * 0.5, s * 0.62))
        p.drawEllipse(QRectF(s * 0.36, s * 0.36, s * 0.06, s * 0.06))
        p.drawEllipse(QRectF(s * 0.58, s * 0.36, s * 0.06, s * 0.06))
        p.drawArc(QRectF(s * 0.38, s * 0.46, s * 0.24, s * 0.16), 200 * 16, 140 * 16)
        for corner in ((0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9)):
            x, y = s * corner[0], s * corner[1]
            dx = s * 0.1 * (1 if corner[0] < 0.5 else -1)
            dy = s * 0.1 * (1 if corner[1] < 0.5 else -1)
            p.drawLine(QPointF(x, y), QPointF(x + dx, y))
            p.drawLine(QPointF(x, y), QPointF(x, y + dy))
    elif kind == "finger":
        for i in range(5):
            inset = s * (0.2 + 0.05 * i)
            p.drawArc(QRectF(inset, inset, s - 2 * inset, s * 1.1 - 2 * inset), 0, 180 * 16)
        p.drawRect(QRectF(s * 0.15, s * 0.72, s * 0.7, s * 0.12))
    elif kind == "printer":
        p.drawRect(QRectF(s * 0.15, s * 0.35, s * 0.7, s * 0.3))
        p.drawRect(QRectF(s * 0.3, s * 0.15, s * 0.4, s * 0.2))
        p.drawRect(QRectF(s * 0.3, s * 0.55, s * 0.4, s * 0.3))
    elif kind == "qr":
        p.drawRect(QRectF(s * 0.2, s * 0.2, s * 0.6, s * 0.6))
        for x, y in ((0.25, 0.25), (0.6, 0.25), (0.25, 0.6)):
            p.drawRect(QRectF(s * x, s * y, s * 0.15, s * 0.15))
        p.drawRect(QRectF(s * 0.55, s * 0.55, s * 0.08, s * 0.08))
    p.end()
    return pix


class KioskWindow(QWidget):
    """Renders views; ``tapped(action, arg)`` is emitted for every touch on a control."""

    tapped = Signal(str, str)

    def __init__(
        self,
        hall_name: str = "政务服务中心",
        orientation: str = "portrait",
        speaker: Speaker | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("kiosk")
        self.hall_name = hall_name
        self.landscape = orientation == "landscape"
        self.setFixedSize(LANDSCAPE if self.landscape else PORTRAIT)
        self.setWindowTitle(hall_name)
        self.speaker: Speaker = speaker or make_speaker(False)
        self.view: View | None = None
        self._lang = "zh-CN"
        self._translator: QTranslator | None = None
        self._elder: bool | None = None
        self._spoken: tuple[str, str, str] = ("", "", "")
        self.rendered = 0
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(0)
        self._body: QWidget | None = None
        self._apply_theme(False)

    def button(self, name: str) -> QPushButton | None:
        """The button named ``name`` on the current screen (tests and scripted visits use it)."""
        if self._body is None:
            return None
        return self._body.findChild(QPushButton, name)

    # -- words --------------------------------------------------------------------------------

    def t(self, key: str, **values: Any) -> str:
        """The text of ``key`` in the citizen's language (zh-CN when untranslated), formatted."""
        text = QCoreApplication.translate(CONTEXT, source(key), key)
        return text.format(**values) if values else text

    def _set_lang(self, lang: str) -> None:
        if lang == self._lang:
            return
        app = QCoreApplication.instance()
        if self._translator is not None and app is not None:
            app.removeTranslator(self._translator)
        self._translator = load_translator(lang)
        if self._translator is not None and app is not None:
            app.installTranslator(self._translator)
        self._lang = lang

    def _apply_theme(self, elder: bool) -> None:
        if elder == self._elder:
            return
        self._elder = elder
        self.theme = th.theme(elder)
        self.setStyleSheet(th.stylesheet(self.theme))
        font = QFont(th.FONT_FAMILY)
        font.setPointSize(self.theme.body_pt)
        self.setFont(font)

    # -- rendering ----------------------------------------------------------------------------

    def show_view(self, view: View) -> None:
        """Show ``view``: rebuild the content for its step, speak its prompt if it is new.

        A view that differs from the shown one only in its progress (the face session's steps)
        moves the progress bar in place: no rebuild, so the GUI thread leaves the CPU to the
        face check."""
        old_view = self.view
        if (
            old_view is not None
            and self._body is not None
            and replace(old_view, progress=0.0, seq=0) == replace(view, progress=0.0, seq=0)
        ):
            bar = self._body.findChild(QProgressBar, "progress")
            if bar is not None and bar.maximum() > 0:
                bar.setValue(int(view.progress * 100))
                self.view = view
                return
        self.view = view
        self._set_lang(view.lang)
        self._apply_theme(view.elder)
        old = self._body
        body = QWidget()
        body.setObjectName(f"screen_{view.step.value}")
        outer = QVBoxLayout(body)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self._top_bar(view))
        content = QWidget()
        lay = QVBoxLayout(content)
        m = 48 if self.landscape else 56
        lay.setContentsMargins(m, 32, m, 24)
        lay.setSpacing(self.theme.spacing)
        self._side: QVBoxLayout | None = None
        if self.landscape:
            # Landscape: the screen's content on the left, its buttons in a column on the right.
            middle = QWidget()
            row = QHBoxLayout(middle)
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(content, 1)
            side = QWidget()
            side.setObjectName("side")
            side.setFixedWidth(600)
            self._side = QVBoxLayout(side)
            self._side.setContentsMargins(0, 32, 48, 24)
            self._side.setSpacing(self.theme.spacing)
            self._side.addStretch(1)
            row.addWidget(side)
            self._content(view, lay)
            outer.addWidget(middle, 1)
        else:
            self._content(view, lay)
            outer.addWidget(content, 1)
        if view.countdown is not None:
            outer.addWidget(self._countdown(view))
        outer.addWidget(self._footer(view))
        self._layout.addWidget(body)
        if old is not None:
            self._layout.removeWidget(old)
            old.hide()
            old.deleteLater()
        self._body = body
        self.rendered += 1
        self._speak(view)

    def _speak(self, view: View) -> None:
        key = (view.step.value, view.prompt, view.message)
        if key == self._spoken:
            return
        self._spoken = key
        words = [self.t(k) for k in (view.message, view.prompt) if k]
        if view.countdown is None and words:
            self.speaker.say(
                "。".join(words) if view.lang == "zh-CN" else ". ".join(words), view.lang
            )

    def _button(self, action: str, text: str = "", arg: str = "", role: str = "") -> QPushButton:
        on_detail = self.view is not None and self.view.step is Step.GUIDE_DETAIL
        if not text and action == "guide" and on_detail:
            text = self.t("action.guide_back")
        label = text or self.t(f"action.{action}")
        button = QPushButton(label)
        button.setObjectName(f"action_{action}" if not arg else f"{action}_{arg}")
        button.setProperty("role", role or ("primary" if action in PRIMARY_ACTIONS else ""))
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        button.clicked.connect(lambda: self.tapped.emit(action, arg))
        return button

    def _label(self, text: str, role: str = "", wrap: bool = True) -> QLabel:
        label = QLabel(text)
        if role:
            label.setProperty("role", role)
        label.setWordWrap(wrap)
        label.setTextFormat(Qt.TextFormat.PlainText)
        return label

    def _top_bar(self, view: View) -> QFrame:
        bar = QFrame()
        bar.setProperty("role", "bar")
        row = QHBoxLayout(bar)
        row.setContentsMargins(32, 16, 32, 16)
        name = self._label(self.hall_name, wrap=False)
        name.setObjectName("hall_name")
        name.setStyleSheet("font-weight: bold;")
        row.addWidget(name, 1)
        lang = QPushButton(self.t("action.lang"))
        lang.setObjectName("action_lang")
        lang.setProperty("role", "bar")
        lang.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        lang.clicked.connect(lambda: self.tapped.emit("lang", ""))
        row.addWidget(lang)
        elder = QPushButton(self.t("action.elder_off" if view.elder else "action.elder_on"))
        elder.setObjectName("action_elder")
        elder.setProperty("role", "bar")
        elder.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        elder.clicked.connect(lambda: self.tapped.emit("elder", ""))
        row.addWidget(elder)
        return bar

    def _countdown(self, view: View) -> QFrame:
        frame = QFrame()
        frame.setObjectName("countdown")
        frame.setProperty("role", "countdown")
        row = QHBoxLayout(frame) if self.landscape else QVBoxLayout(frame)
        row.setContentsMargins(40, 20, 40, 20)
        text = self._label("⚠ " + self.t("label.countdown", n=view.countdown))
        text.setObjectName("countdown_text")
        row.addWidget(text, 1)
        row.addWidget(self._button("more_time", role="primary"))
        return frame

    def _footer(self, view: View) -> QWidget:
        footer = QWidget()
        row = QHBoxLayout(footer)
        row.setContentsMargins(40, 8, 40, 16)
        row.addWidget(self._label(self.t("label.privacy"), role="muted"), 1)
        if view.step is Step.ATTRACT:
            staff = QPushButton(self.t("action.maintenance"))
            staff.setObjectName("action_maintenance")
            staff.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            staff.clicked.connect(lambda: self.tapped.emit("maintenance", ""))
            row.addWidget(staff)
        return footer

    def _actions(self, view: View, lay: QVBoxLayout, first: QPushButton | None = None) -> None:
        """The step's buttons: stacked full width under the content (portrait) or in the right
        column (landscape); ``first`` (the step's own main button) goes on top."""
        buttons = ([first] if first is not None else []) + [self._button(a) for a in view.actions]
        if not buttons:
            return
        if self._side is None and view.step is Step.RATE:
            # The rating screen is the tallest: its two buttons share a row.
            row = QHBoxLayout()
            row.setSpacing(self.theme.spacing)
            for button in buttons:
                row.addWidget(button)
            lay.addLayout(row)
            return
        target = self._side if self._side is not None else lay
        for button in buttons:
            target.addWidget(button)

    def _message(self, view: View, lay: QVBoxLayout) -> None:
        if view.message:
            role = "danger"
            label = self._label("⚠ " + self.t(view.message), role=role)
            label.setObjectName("message")
            lay.addWidget(label)

    def _head(self, view: View, lay: QVBoxLayout, title_key: str = "") -> None:
        title = self._label(self.t(title_key or f"title.{view.step.value}"), role="title")
        title.setObjectName("title")
        lay.addWidget(title)
        if view.greeting and view.step not in (Step.GOODBYE, Step.RATE):
            hello = self._label(self.t("label.hello", name=view.greeting), role="muted")
            hello.setObjectName("greeting")
            lay.addWidget(hello)
        self._message(view, lay)
        if view.prompt:
            # What to do with the camera or the finger is the one thing to read: title-sized.
            big = view.step in (Step.FACE, Step.FINGERPRINT)
            prompt = self._label(self.t(view.prompt), role="title" if big else "prompt")
            prompt.setObjectName("prompt")
            lay.addWidget(prompt)

    def _picture(self, kind: str, lay: QVBoxLayout) -> None:
        size = 300 if self.landscape else 520
        pic = QLabel()
        pic.setPixmap(_picture(kind, size))
        pic.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(pic)

    def _busy(self, lay: QVBoxLayout, value: float | None = None) -> None:
        bar = QProgressBar()
        bar.setObjectName("progress")
        if value is None:
            bar.setRange(0, 0)
        else:
            bar.setRange(0, 100)
            bar.setValue(int(value * 100))
        bar.setTextVisible(False)
        lay.addWidget(bar)

    def _content(self, view: View, lay: QVBoxLayout) -> None:
        step = view.step
        draw: Callable[[View, QVBoxLayout], None] = getattr(
            self, f"_draw_{step.value}", self._draw_plain
        )
        draw(view, lay)

    # -- one method per step ------------------------------------------------------------------

    def _draw_plain(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        lay.addStretch(1)
        self._actions(view, lay)

    def _draw_attract(self, view: View, lay: QVBoxLayout) -> None:
        title = self._label(self.t("title.attract"), role="title")
        title.setObjectName("title")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(title)
        if view.notice:
            notice = self._label("◆ " + self.t(view.notice), role="warn")
            notice.setObjectName("notice")
            lay.addWidget(notice)
        if not view.devices_ok:
            down = self._label("⚠ " + self.t("notice.devices_down"), role="danger")
            down.setObjectName("devices_down")
            lay.addWidget(down)
        self._picture("card", lay)
        prompt = self._label(self.t("prompt.start"), role="prompt")
        prompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        prompt.setObjectName("prompt")
        lay.addWidget(prompt)
        lay.addStretch(1)
        self._actions(view, lay, self._button("start"))

    def _draw_document(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        self._picture("card", lay)
        lay.addStretch(1)
        self._actions(view, lay)

    def _draw_reading(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        self._picture("card", lay)
        self._busy(lay)
        lay.addStretch(1)

    def _draw_face(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        attempt = self._label(
            self.t("label.attempt", n=view.attempt, m=view.attempts_max), role="muted"
        )
        attempt.setObjectName("attempt")
        lay.addWidget(attempt)
        self._picture("face", lay)
        self._busy(lay, view.progress)
        lay.addStretch(1)
        self._actions(view, lay)

    def _draw_face_failed(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        lay.addWidget(
            self._label(self.t("label.attempt", n=view.attempt, m=view.attempts_max), "muted")
        )
        self._picture("face", lay)
        lay.addStretch(1)
        self._actions(view, lay)

    def _draw_fingerprint(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        self._picture("finger", lay)
        if not view.message:
            self._busy(lay)
        lay.addStretch(1)
        self._actions(view, lay)

    def _draw_busy(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        self._busy(lay)
        lay.addStretch(1)
        self._actions(view, lay)

    def _draw_printing(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        self._picture("printer", lay)
        self._busy(lay)
        lay.addStretch(1)

    def _draw_print_failed(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        self._picture("printer", lay)
        lay.addStretch(1)
        self._actions(view, lay)

    def _draw_progress_scan(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        self._picture("qr", lay)
        self._busy(lay)
        lay.addStretch(1)
        self._actions(view, lay)

    def _content_width(self) -> int:
        """Room for a full-width control in the content column (margins, scroll bar, padding)."""
        side = 600 if self.landscape else 0
        margins = 2 * (48 if self.landscape else 56)
        return self.width() - side - margins - 28 - 2 * 28 - 24

    def _wrap(self, text: str, pt: int, width: int) -> list[str]:
        """``text`` broken into lines that fit ``width`` px at ``pt`` points (CJK anywhere,
        other scripts at spaces)."""
        font = QFont(th.FONT_FAMILY)
        font.setPointSize(pt)
        metrics = QFontMetrics(font)
        lines: list[str] = []
        line = ""
        for word in _pieces(text):
            candidate = line + word
            if line and metrics.horizontalAdvance(candidate.rstrip()) > width:
                lines.append(line.rstrip())
                line = word.lstrip()
            else:
                line = candidate
        if line.strip():
            lines.append(line.rstrip())
        return lines or [""]

    def _errand_button(self, errand: Errand, action: str) -> QPushButton:
        pt = self.theme.button_pt
        width = self._content_width()
        lines = self._wrap(errand.name, pt, width)
        if action == "errand" and errand.summary:
            lines += self._wrap(errand.summary, pt, width)[:2]
        button = self._button(action, text="\n".join(lines), arg=errand.id, role="choice")
        font = QFont(th.FONT_FAMILY)
        font.setPointSize(pt)
        height = QFontMetrics(font).lineSpacing() * len(lines) + 2 * 16 + 8
        button.setMinimumHeight(max(self.theme.target_px, height))
        # The text is wrapped to the column already: never let it widen the column.
        button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        return button

    def _draw_menu(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        grid_box = QWidget()
        grid = QGridLayout(grid_box)
        grid.setSpacing(self.theme.spacing)
        columns = 1
        shown = [e for e in view.errands if e.kind != "guide"]
        for i, errand in enumerate(shown):
            grid.addWidget(self._errand_button(errand, "errand"), i // columns, i % columns)
        grid.setRowStretch(len(shown) // columns + 1, 1)
        grid.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self._scroll(grid_box, len(shown)), 1)
        self._actions(view, lay)

    def _scroll(self, inner: QWidget, items: int = 99) -> QWidget:
        """``inner`` in a scroll area when it holds more than fits (else as it is: a scroll bar
        a citizen does not need is only a distraction)."""
        if items <= (2 if self.landscape else 3 if self.view and self.view.elder else 5):
            return inner
        area = QScrollArea()
        area.setWidget(inner)
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        return area

    def _card(self, rows: list[tuple[str, str]], name: str = "details") -> QFrame:
        frame = QFrame()
        frame.setObjectName(name)
        frame.setProperty("role", "card")
        grid = QGridLayout(frame)
        grid.setContentsMargins(28, 24, 28, 24)
        grid.setHorizontalSpacing(28)
        grid.setVerticalSpacing(14)
        for i, (key, value) in enumerate(rows):
            k = self._label(key, role="muted")
            v = self._label(value)
            v.setObjectName(f"value_{i}")
            grid.addWidget(k, i, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(v, i, 1)
        grid.setColumnStretch(1, 1)
        return frame

    def _draw_proof_confirm(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        rows = [
            (self.t("label.proof"), view.errand.name if view.errand else ""),
            (self.t("label.name"), view.greeting),
            (self.t("label.id_number"), view.subject_id),
        ]
        lay.addWidget(self._card(rows))
        lay.addWidget(self._label("◆ " + self.t("label.qr_hint"), role="muted"))
        lay.addStretch(1)
        self._actions(view, lay)

    def _draw_progress_entry(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        field = self._label(view.typed or " ", role="field")
        field.setObjectName("typed")
        field.setMinimumHeight(self.theme.target_px)
        keyboard = Keyboard(lambda a, v: self.tapped.emit(a, v), self.t, columns=7)
        keyboard.setObjectName("keyboard")
        if self.landscape:
            row = QHBoxLayout()
            left = QVBoxLayout()
            left.addWidget(field)
            left.addStretch(1)
            row.addLayout(left, 1)
            row.addWidget(keyboard, 1)
            lay.addLayout(row, 1)
        else:
            lay.addWidget(field)
            lay.addWidget(keyboard)
            lay.addStretch(1)
        self._actions(view, lay, self._button("submit"))

    def _draw_progress_result(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        app = view.application
        if app is not None:
            current = next((e.label for e in app.timeline if e.status == app.status), app.status)
            rows = [
                (self.t("label.number"), app.number),
                (self.t("label.errand"), app.errand_name),
                (self.t("label.status"), f"▶ {current}"),
            ]
            lay.addWidget(self._card(rows))
            steps = QWidget()
            col = QVBoxLayout(steps)
            for entry in app.timeline:
                when = entry.at.replace("T", " ")[:16]
                mark = "✓" if entry.status != app.status else "▶"
                text = f"{mark} {entry.label}   {when}" + (
                    f"\n    {entry.note}" if entry.note else ""
                )
                col.addWidget(self._label(text))
            col.addStretch(1)
            lay.addWidget(self._scroll(steps), 1)
        else:
            lay.addStretch(1)
        self._actions(view, lay)

    def _draw_guide_list(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        box = QWidget()
        col = QVBoxLayout(box)
        col.setSpacing(self.theme.spacing)
        for errand in view.errands:
            if errand.kind != "progress":
                col.addWidget(self._errand_button(errand, "open"))
        col.addStretch(1)
        lay.addWidget(self._scroll(box, sum(1 for e in view.errands if e.kind != "progress")), 1)
        self._actions(view, lay)

    def _draw_guide_detail(self, view: View, lay: QVBoxLayout) -> None:
        errand = view.errand
        self._head(view, lay)
        if errand is not None:
            name = self._label(errand.name, role="title")
            name.setObjectName("errand_name")
            lay.addWidget(name)
            lay.addWidget(self._label(errand.summary))
            materials = "\n".join(f"• {m}" for m in errand.materials) or "—"
            rows = [
                (self.t("label.materials"), materials),
                (self.t("label.where"), errand.where or "—"),
                (self.t("label.fees"), errand.fees or "—"),
            ]
            lay.addWidget(self._card(rows))
        lay.addStretch(1)
        self._actions(view, lay)

    def _draw_rate(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        levels = view.rating.levels if view.rating else tuple((n, "") for n in range(1, 6))
        box = QWidget()
        row = QHBoxLayout(box) if self.landscape else QVBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(self.theme.spacing)
        for level, text in levels:
            chosen = level == view.rating_level
            words = text or self.t("label.level", n=level)
            mark = "✓ " if chosen else ""
            if self.landscape:
                # Side by side: the stars' number on one line, the words on the next.
                label = f"{mark}{level} ★\n{words}"
            else:
                label = f"{mark}{'★' * level}{'☆' * (5 - level)}  {words}"
            button = self._button(
                "level", text=label, arg=str(level), role="chosen" if chosen else "choice"
            )
            if self.landscape:
                button.setStyleSheet("padding: 8px 4px; text-align: center;")
                button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
                button.setMinimumHeight(self.theme.target_px * 2)
            row.addWidget(button)
        lay.addWidget(box)
        if view.rating and view.rating.tags:
            tags = QWidget()
            grid = QGridLayout(tags)
            grid.setSpacing(self.theme.spacing)
            columns = 4 if self.landscape else 2
            for i, (tag_id, text) in enumerate(view.rating.tags):
                on = tag_id in view.rating_tags
                grid.addWidget(
                    self._button(
                        "tag",
                        text=("✓ " if on else "") + text,
                        arg=tag_id,
                        role="chosen" if on else "",
                    ),
                    i // columns,
                    i % columns,
                )
            lay.addWidget(tags)
        lay.addStretch(1)
        submit = self._button("submit", text=self.t("action.submit_rating"))
        submit.setEnabled(view.rating_level > 0)
        self._actions(view, lay, submit)

    def _draw_goodbye(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        self._picture("card", lay)
        lay.addStretch(1)
        self._actions(view, lay)

    def _draw_maintenance_pin(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        field = self._label(view.typed or " ", role="field")
        field.setObjectName("typed")
        lay.addWidget(field)
        keyboard = Keyboard(lambda a, v: self.tapped.emit(a, v), self.t, letters=False)
        keyboard.setFixedWidth(3 * self.theme.key_px + 300)
        lay.addWidget(keyboard, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(1)
        self._actions(view, lay, self._button("submit"))

    def _draw_maintenance(self, view: View, lay: QVBoxLayout) -> None:
        self._head(view, lay)
        health = view.health or {}
        rows: list[tuple[str, str]] = []
        if health:
            rows.append(("device", str(health.get("device_id", ""))))
            link = self.t("label.yes") if health.get("connected") else self.t("label.no")
            rows.append(("hub", ("● " if health.get("connected") else "× ") + link))
            for name, d in sorted((health.get("drivers") or {}).items()):
                state = str(d.get("state", ""))
                detail = str(d.get("detail", ""))[:80]
                words = STATE_WORDS.get(state, state)
                rows.append(
                    (f"{name} ({d.get('kind', '')})", words + (f" — {detail}" if detail else ""))
                )
        rows.append(
            (
                "speech",
                "● on"
                if self.speaker.available
                else f"× {self.t('label.speech_off')}: {self.speaker.reason}",
            )
        )
        lay.addWidget(self._card(rows, name="health"))
        lay.addStretch(1)
        self._actions(view, lay)


def ensure_app() -> QApplication:
    """The running QApplication, created if there is none."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    return QApplication([])
