"""The on-screen keyboard: digits, and letters one touch away (application numbers such as
``A20260001``). It only emits the keys; the flow keeps what was typed."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QPushButton, QStackedWidget, QVBoxLayout, QWidget

DIGITS = ("1", "2", "3", "4", "5", "6", "7", "8", "9")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class Keyboard(QWidget):
    """Two pages (123 / ABC) of big keys plus delete and clear.

    ``on_key(action, arg)`` gets ("key", "7"), ("backspace", ""), ("clear", "").
    """

    def __init__(
        self,
        on_key: Callable[[str, str], None],
        label: Callable[[str], str],
        letters: bool = True,
        columns: int = 7,
    ) -> None:
        super().__init__()
        self.on_key = on_key
        self.pages = QStackedWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        digits = QWidget()
        grid = QGridLayout(digits)
        for i, d in enumerate(DIGITS):
            grid.addWidget(self._key(d), i // 3, i % 3)
        grid.addWidget(self._key("backspace", label("action.backspace"), "backspace"), 3, 0)
        grid.addWidget(self._key("0"), 3, 1)
        if letters:
            grid.addWidget(self._page_key("ABC", 1), 3, 2)
        else:
            grid.addWidget(self._key("clear", label("action.clear"), "clear"), 3, 2)
        self.pages.addWidget(digits)

        if letters:
            page = QWidget()
            grid = QGridLayout(page)
            for i, c in enumerate(LETTERS):
                grid.addWidget(self._key(c), i // columns, i % columns)
            row = len(LETTERS) // columns + 1
            grid.addWidget(self._page_key("123", 0), row, 0, 1, 2)
            grid.addWidget(
                self._key("backspace", label("action.backspace"), "backspace"), row, 2, 1, 2
            )
            grid.addWidget(self._key("clear", label("action.clear"), "clear"), row, 4, 1, 3)
            self.pages.addWidget(page)

    def _key(self, value: str, text: str = "", action: str = "key") -> QPushButton:
        button = QPushButton(text or value)
        button.setProperty("role", "key")
        button.setObjectName(f"key_{value}" if action == "key" else f"action_{action}")
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        arg = value if action == "key" else ""
        button.clicked.connect(lambda: self.on_key(action, arg))
        return button

    def _page_key(self, text: str, page: int) -> QPushButton:
        button = QPushButton(text)
        button.setProperty("role", "key")
        button.setObjectName(f"page_{text}")
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(lambda: self.pages.setCurrentIndex(page))
        return button
