"""pytest-qt drives the kiosk window offscreen, the way a citizen would: by touching buttons.

The flow runs on its own thread as in production; the devices and the hub are the in-process
stand-ins of the flow's protocols (tests/kiosk/conftest.py). The rig tests drive the same window
against the real agent, simulators and hub.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QFontInfo
from PySide6.QtWidgets import QLabel, QPushButton

from kiosk.hall.flow import Step


def test_happy_path_on_screen(
    start_kiosk: Callable[..., Any], backend: Any, devices: Any, citizen: dict[str, str]
) -> None:
    d = start_kiosk()
    d.touch("action_start")
    d.wait_step(Step.DOCUMENT)
    d.device("card_inserted")
    d.wait_step(Step.MENU)
    assert d.label("greeting").text() == "您好，测**"
    d.touch("errand_residence-proof")
    d.wait_step(Step.PROOF_CONFIRM)
    details = d.window._body.findChild(QLabel, "value_2")  # type: ignore[union-attr]
    assert details is not None and details.text() == "110101********1233"
    d.touch("action_print")
    d.wait_step(Step.RATE)
    d.qtbot.waitUntil(lambda: d.window.button("level_5") is not None)
    assert not d.button("action_submit").isEnabled()
    d.touch("level_5")
    d.touch("tag_fast")
    d.qtbot.waitUntil(lambda: d.button("tag_fast").text().startswith("✓"))  # not colour alone
    d.qtbot.waitUntil(lambda: d.button("action_submit").isEnabled())
    d.touch("action_submit")
    d.wait_step(Step.GOODBYE)
    d.touch("action_finish")
    d.wait_step(Step.ATTRACT)
    assert backend.ratings == [(5, ["fast"], "residence-proof")]
    assert len(devices.printed) == 1
    shown = " ".join(w.text() for w in d.window.findChildren(QLabel))
    assert citizen["id_number"] not in shown and citizen["name"] not in shown
    assert d.kiosk.runner.flow is not None and d.kiosk.runner.flow.session.empty


def test_face_fails_three_times_then_fingerprint(
    start_kiosk: Callable[..., Any], devices: Any
) -> None:
    devices.face_verdicts = ["mismatch", "no_face", "mismatch"]
    d = start_kiosk()
    d.device("card_inserted")
    d.wait_step(Step.FACE_FAILED)
    assert "与证件照片不一致" in d.label("message").text()
    assert "第 1 次，共 3 次" in " ".join(w.text() for w in d.window._body.findChildren(QLabel))  # type: ignore[union-attr]
    d.touch("action_retry")
    d.qtbot.waitUntil(
        lambda: (
            d.window.view is not None
            and d.window.view.attempt == 2
            and d.window.view.step is Step.FACE_FAILED
        )
    )
    assert "没有看到您的脸" in d.label("message").text()
    d.touch("action_retry")
    d.wait_step(Step.MENU)
    assert devices.finger_calls == 1 and devices.face_calls == 3


def test_still_photo_is_refused_on_screen(start_kiosk: Callable[..., Any], devices: Any) -> None:
    devices.face_verdicts = ["not_live"]
    d = start_kiosk()
    d.device("card_inserted")
    d.wait_step(Step.FACE_FAILED)
    text = d.label("message").text()
    assert text.startswith("⚠") and "不能使用照片" in text
    assert d.window.button("errand_residence-proof") is None


def test_card_removed_mid_visit(start_kiosk: Callable[..., Any]) -> None:
    d = start_kiosk()
    d.to_menu()
    d.touch("errand_progress")
    d.wait_step(Step.PROGRESS_ENTRY)
    d.touch("key_1")
    d.device("card_removed")
    d.wait_step(Step.ATTRACT)
    assert "证件已取走" in d.label("notice").text()
    assert d.window.view is not None and d.window.view.greeting == ""


def test_idle_timeout_shows_countdown_then_wipes(start_kiosk: Callable[..., Any]) -> None:
    d = start_kiosk(step_timeouts={"menu": 0.3}, countdown_s=1.5)
    d.to_menu()
    d.touch("action_more_time")  # the countdown's button
    d.qtbot.waitUntil(lambda: d.window.view is not None and d.window.view.countdown is None)
    d.button("action_more_time")
    assert "秒后将结束本次办理" in d.label("countdown_text").text()
    d.wait_step(Step.ATTRACT, timeout=6000)
    assert "长时间没有操作" in d.label("notice").text()


def test_paper_out_mid_print(start_kiosk: Callable[..., Any], devices: Any, backend: Any) -> None:
    devices.print_fails_with = "paper_out"
    d = start_kiosk()
    d.to_menu()
    d.touch("errand_residence-proof")
    d.touch("action_print")
    d.wait_step(Step.PRINT_FAILED)
    assert "打印机缺纸" in d.label("message").text()
    devices.printer_state = "ready"
    d.touch("action_retry")
    d.wait_step(Step.RATE)
    assert len(backend.proofs) == 1 and len(devices.printed) == 1


def test_backend_down(start_kiosk: Callable[..., Any], backend: Any) -> None:
    backend.down = True
    d = start_kiosk()
    d.device("card_inserted")
    d.wait_step(Step.ERROR)
    assert "服务暂时连接不上" in d.label("message").text()
    backend.down = False
    d.touch("action_retry")
    d.wait_step(Step.MENU)
    d.button("errand_residence-proof")


def test_elder_mode_sizes(start_kiosk: Callable[..., Any]) -> None:
    d = start_kiosk()
    d.touch("action_elder")
    d.qtbot.waitUntil(lambda: d.window.view is not None and d.window.view.elder)
    d.to_menu()
    d.qtbot.wait(50)
    prompt = d.label("prompt")
    assert QFontInfo(prompt.font()).pointSizeF() >= 30
    for button in d.window._body.findChildren(QPushButton):  # type: ignore[union-attr]
        if button.isVisible():
            assert button.height() >= 60, button.objectName()
    d.touch("action_elder")
    d.qtbot.waitUntil(lambda: d.window.view is not None and not d.window.view.elder)
    d.qtbot.wait(50)
    normal = QFontInfo(d.label("prompt").font()).pointSizeF()
    assert 18 <= normal < 30


def test_english_one_touch_away(start_kiosk: Callable[..., Any]) -> None:
    d = start_kiosk(orientation="landscape")
    assert d.label("title").text() == "欢迎使用自助服务"
    d.touch("action_lang")
    d.qtbot.waitUntil(lambda: d.label("title").text() == "Welcome to self-service")
    assert d.button("action_start").text() == "Start"
    d.to_menu()
    assert d.label("greeting").text() == "Hello, 测**"
    d.touch("action_lang")
    d.qtbot.waitUntil(lambda: d.label("title").text() == "请选择要办理的事项")


def test_progress_typed_on_the_keyboard(start_kiosk: Callable[..., Any]) -> None:
    d = start_kiosk()
    d.to_menu()
    d.touch("errand_progress")
    d.touch("page_ABC")
    d.touch("key_A")
    d.touch("page_123")
    for key in "20260001":
        d.touch(f"key_{key}")
    d.qtbot.waitUntil(lambda: d.label("typed").text() == "A20260001")
    d.touch("action_submit")
    d.wait_step(Step.PROGRESS_RESULT)
    assert "▶" in " ".join(w.text() for w in d.window._body.findChildren(QLabel))  # type: ignore[union-attr]


def test_maintenance_screen_shows_health(start_kiosk: Callable[..., Any]) -> None:
    import hashlib

    d = start_kiosk(staff_pin_sha256=hashlib.sha256(b"1357").hexdigest())
    d.touch("action_maintenance")
    d.wait_step(Step.MAINTENANCE_PIN)
    for key in "1357":
        d.touch(f"key_{key}")
    d.qtbot.waitUntil(lambda: d.label("typed").text() == "••••")
    d.touch("action_submit")
    d.wait_step(Step.MAINTENANCE)
    d.qtbot.waitUntil(lambda: d.window._body.findChild(QLabel, "value_2") is not None)  # type: ignore[union-attr]
    rows = " ".join(w.text() for w in d.window._body.findChildren(QLabel))  # type: ignore[union-attr]
    assert "printer (printer)" in rows and "正常" in rows
    assert "QtTextToSpeech" in rows or "test" in rows
