"""PySide6 screens of the inspector app, for a 720x1280 portrait touch screen.

Every control a finger uses is at least 96 px high; the header always shows the GNSS state and
what waits to sync, and a red banner says so when there is no fix (a photo taken then is marked
"no fix", never given an old position).
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.inspector.flow import SYNC, TASK, TASKS, InspectorFlow

WIDTH, HEIGHT = 720, 1280
TOUCH = 96
STATE_NAMES = {
    "assigned": "待接收",
    "accepted": "已接收",
    "in_progress": "进行中",
    "submitted": "已提交",
    "reviewed": "已审核",
    "closed": "已关闭",
}
STYLE = """
QWidget { font-family: 'Noto Sans CJK SC', 'Noto Serif CJK SC', sans-serif; font-size: 26px;
          color: #1b1f24; background: #f4f6f8; }
QPushButton { border-radius: 14px; background: #ffffff; border: 2px solid #c9d1d9;
              padding: 8px 18px; text-align: left; }
QPushButton:pressed { background: #dde6ee; }
QPushButton#primary { background: #0b5cad; color: white; border: none; text-align: center;
                      font-weight: bold; }
QPushButton#pass { background: #e6f4ea; border-color: #2e7d32; text-align: center; }
QPushButton#fail { background: #fdecea; border-color: #c62828; text-align: center; }
QPushButton#chosen_pass { background: #2e7d32; color: white; border: none; text-align: center;
                          font-weight: bold; }
QPushButton#chosen_fail { background: #c62828; color: white; border: none; text-align: center;
                          font-weight: bold; }
QLabel#title { font-size: 34px; font-weight: bold; }
QWidget#header { background: #102a43; }
QWidget#header QLabel#title { color: white; background: transparent; }
QFrame#card QLabel { background: transparent; }
QPushButton#back { text-align: center; }
QScrollBar:vertical { width: 10px; background: transparent; border: none; }
QScrollBar::handle:vertical { background: #c9d1d9; border-radius: 5px; min-height: 40px; }
QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical { height: 0; }
QLabel#chip_ok { background: #2e7d32; color: white; border-radius: 10px; padding: 8px 14px; }
QLabel#chip_warn { background: #b26a00; color: white; border-radius: 10px; padding: 8px 14px; }
QLabel#chip_bad { background: #c62828; color: white; border-radius: 10px; padding: 8px 14px; }
QLabel#banner { background: #c62828; color: white; font-size: 28px; font-weight: bold;
                padding: 16px; }
QLabel#message { background: #102a43; color: white; padding: 14px; }
QLabel#muted { color: #57606a; font-size: 22px; }
QFrame#card { background: #ffffff; border: 2px solid #d0d7de; border-radius: 16px; }
QLineEdit { min-height: 80px; font-size: 26px; border: 2px solid #c9d1d9; border-radius: 12px;
            background: white; padding: 0 12px; }
"""


def _label(text: str, name: str = "", wrap: bool = True) -> QLabel:
    label = QLabel(text)
    if name:
        label.setObjectName(name)
    label.setWordWrap(wrap)
    return label


def _button(text: str, name: str = "") -> QPushButton:
    button = QPushButton(text)
    if name:
        button.setObjectName(name)
    button.setMinimumHeight(TOUCH)
    return button


class InspectorWindow(QWidget):
    """The whole app: header, no-fix banner, one of three screens, a message line."""

    def __init__(self, flow: InspectorFlow, poll_ms: int = 2000) -> None:
        super().__init__()
        self.flow = flow
        self.setWindowTitle("govedge inspector")
        self.setFixedSize(WIDTH, HEIGHT)
        self.setStyleSheet(STYLE)
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        header = QWidget()
        header.setObjectName("header")
        header.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        lines = QVBoxLayout(header)
        lines.setContentsMargins(20, 14, 20, 14)
        lines.setSpacing(10)
        self.title = _label("", "title", wrap=False)
        row = QHBoxLayout()
        self.gnss_chip = _label("", "chip_bad", wrap=False)
        self.sync_chip = _label("", "chip_warn", wrap=False)
        self.sync_chip.mousePressEvent = lambda _e: self._do(flow.show_sync)  # type: ignore[method-assign]
        for chip in (self.gnss_chip, self.sync_chip):  # half the width each: never clipped
            chip.setAlignment(Qt.AlignmentFlag.AlignCenter)
            row.addWidget(chip, 1)
        lines.addWidget(self.title)
        lines.addLayout(row)
        root.addWidget(header)
        self.banner = _label("⚠ 无卫星定位：此时拍照将如实标注“无定位”", "banner")
        root.addWidget(self.banner)
        self.stack = QStackedWidget()
        root.addWidget(self.stack, 1)
        self.message = _label("", "message")
        root.addWidget(self.message)
        self.pages: dict[str, QWidget] = {}
        self.notes: dict[str, QLineEdit] = {}
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        if poll_ms > 0:
            self.timer.start(poll_ms)
        flow.refresh()
        self.refresh_view()

    # -- actions ----------------------------------------------------------------------------

    def _do(self, action: Any, *args: Any) -> None:
        action(*args)
        self.refresh_view()

    def _tick(self) -> None:
        self.flow.poll()
        self.render_header()

    def _answer(self, item_id: str, answer: str) -> None:
        note = self.notes[item_id].text() if item_id in self.notes else ""
        self.flow.answer(item_id, answer, note)
        self.refresh_view()

    # -- rendering --------------------------------------------------------------------------

    def refresh_view(self) -> None:
        """Rebuild the current screen's page from the flow and show its message or error."""
        self.render_header()
        f = self.flow
        builders = {TASKS: self._tasks_page, TASK: self._task_page, SYNC: self._sync_page}
        old = self.stack.currentWidget()
        page = builders[f.screen]()
        self.stack.addWidget(page)
        self.stack.setCurrentWidget(page)
        if old is not None:
            self.stack.removeWidget(old)
            old.deleteLater()
        text = f.error or f.message
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def render_header(self) -> None:
        """Update the title, the GNSS and sync chips and the no-fix banner (on each timer tick)."""
        f = self.flow
        titles = {TASKS: "今日任务", SYNC: "同步"}
        task = f.task
        title = titles.get(f.screen) or (task["site"] if task else "")
        metrics = self.title.fontMetrics()
        self.title.setText(metrics.elidedText(title, Qt.TextElideMode.ElideRight, WIDTH - 40))
        if f.fix.get("fix"):
            self.gnss_chip.setText(f"GNSS 已定位 · {f.fix.get('satellites', 0)}星")
            self.gnss_chip.setObjectName("chip_ok")
        else:
            self.gnss_chip.setText("GNSS 无定位")
            self.gnss_chip.setObjectName("chip_bad")
        self.banner.setVisible(not f.fix.get("fix"))
        waiting = f.waiting()
        if waiting:
            self.sync_chip.setText(f"待同步 {waiting} 条")
            self.sync_chip.setObjectName("chip_warn")
        else:
            self.sync_chip.setText("已全部同步" if f.online() else "无待同步 · 未联系平台")
            self.sync_chip.setObjectName("chip_ok" if f.online() else "chip_warn")
        for chip in (self.gnss_chip, self.sync_chip):
            chip.style().unpolish(chip)
            chip.style().polish(chip)

    def _scroll(self, inner: QWidget) -> QScrollArea:
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setWidget(inner)
        return area

    def _tasks_page(self) -> QWidget:
        f = self.flow
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(20, 20, 20, 20)
        col.setSpacing(16)
        col.addWidget(_label(f"检查员 {f.inspector_id} · {time.strftime('%Y-%m-%d')}", "muted"))
        if not f.tasks:
            col.addWidget(_label("暂无任务。联网同步后，今日任务会显示在这里。"))
        for task in f.tasks:
            done, total = f.done_items(task), len(task["checklist"])
            state = STATE_NAMES.get(f.state_of(task), f.state_of(task))
            button = _button(
                f"{task['site']}\n{state} · 检查项 {done}/{total} · 截止 {task['due']}"
            )
            button.setMinimumHeight(130)
            button.setObjectName(f"task_{task['id']}")
            button.clicked.connect(lambda _=False, t=task["id"]: self._do(f.open_task, t))
            col.addWidget(button)
        col.addStretch(1)
        sync = _button("同步状态", "primary")
        sync.clicked.connect(lambda: self._do(f.show_sync))
        col.addWidget(sync)
        return self._scroll(inner)

    def _task_page(self) -> QWidget:
        f = self.flow
        task = f.task
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(0, 0, 0, 0)
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(20, 20, 20, 20)
        col.setSpacing(16)
        self.notes = {}
        if task is None:
            col.addWidget(_label("任务不存在"))
        else:
            state = STATE_NAMES.get(f.state_of(task), f.state_of(task))
            col.addWidget(
                _label(
                    f"{state} · 截止 {task['due']} · ({task['lat']:.5f}, {task['lon']:.5f})",
                    "muted",
                )
            )
            for item in task["checklist"]:
                col.addWidget(self._item_card(task, item))
        col.addStretch(1)
        outer.addWidget(self._scroll(inner), 1)
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(20, 12, 20, 20)
        back = _button("‹ 任务列表")
        back.setObjectName("back")
        back.clicked.connect(lambda: self._do(f.back))
        submit = _button("提交任务", "primary")
        submit.clicked.connect(lambda: self._do(f.submit))
        row.addWidget(back, 1)
        row.addWidget(submit, 1)
        outer.addWidget(bar)
        return page

    def _item_card(self, task: dict[str, Any], item: dict[str, Any]) -> QFrame:
        f = self.flow
        card = QFrame()
        card.setObjectName("card")
        col = QVBoxLayout(card)
        col.setContentsMargins(18, 16, 18, 16)
        col.addWidget(_label(item["text"]))
        got = f.answers.get((task["id"], item["id"]))
        note = QLineEdit(got.note if got else "")
        note.setPlaceholderText("备注（可选）")
        self.notes[item["id"]] = note
        col.addWidget(note)
        row = QHBoxLayout()
        for answer, text in (("pass", "✓ 合格 · 拍照"), ("fail", "✗ 不合格 · 拍照")):
            chosen = got is not None and got.answer == answer
            button = _button(text, f"chosen_{answer}" if chosen else answer)
            button.setProperty("item", item["id"])
            button.setProperty("answer", answer)
            button.clicked.connect(lambda _=False, i=item["id"], a=answer: self._answer(i, a))
            row.addWidget(button)
        col.addLayout(row)
        if got is not None:
            where = "有定位" if got.fix else "无定位（已如实标注）"
            col.addWidget(_label(f"记录 #{got.seq} · 已签名 · {where}", "muted"))
        return card

    def _sync_page(self) -> QWidget:
        f = self.flow
        s = f.status
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(20, 20, 20, 20)
        col.setSpacing(16)
        col.addWidget(_label(f"待同步记录：{s.get('pending_records', 0)}", "title"))
        col.addWidget(_label(f"待上传照片：{s.get('pending_photos', 0)}"))
        col.addWidget(_label(f"已被平台确认：{s.get('acked', 0)}"))
        last = s.get("last_sync") or {}
        if not last:
            col.addWidget(_label("尚未与平台联系", "muted"))
        elif last.get("ok"):
            col.addWidget(
                _label(f"上次同步成功：{time.strftime('%H:%M:%S', time.localtime(last['at']))}")
            )
        else:
            reason = last.get("error") or (last.get("refused") or {}).get("reason", "")
            col.addWidget(_label(f"上次同步未完成：{reason}", "muted"))
        col.addWidget(_label("记录保存在本机，断网、断电都不会丢失；联网后自动上传。", "muted"))
        col.addStretch(1)
        now = _button("立即同步", "primary")
        now.clicked.connect(lambda: self._do(f.sync_now))
        back = _button("‹ 任务列表")
        back.setObjectName("back")
        back.clicked.connect(lambda: self._do(f.back))
        col.addWidget(now)
        col.addWidget(back)
        return self._scroll(inner)
