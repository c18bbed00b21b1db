"""The parts under the screens: translations, contrast, speech that degrades, the config."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication

from govedge.errors import ConfigError
from kiosk.hall.config import KioskConfig, load_config, parse_config
from kiosk.hall.i18n.build import QM, TS, make_ts
from kiosk.hall.ui import theme
from kiosk.hall.ui.speech import QtSpeaker, SilentSpeaker, make_speaker
from kiosk.hall.ui.texts import CONTEXT, TEXTS
from kiosk.hall.ui.window import KioskWindow, load_translator


def test_ts_source_matches_the_text_table() -> None:
    assert TS.read_bytes() == make_ts(), "run: python -m kiosk.hall.i18n.build"


def test_compiled_english_covers_every_text(qapp: Any) -> None:
    translator = load_translator("en")
    assert translator is not None and QM.stat().st_size > 0
    for key, (zh, en) in TEXTS.items():
        assert translator.translate(CONTEXT, zh, key) == en, key


def test_window_switches_language(qapp: Any) -> None:
    window = KioskWindow()
    assert window.t("action.print") == "打印"
    window._set_lang("en")
    assert window.t("action.print") == "Print"
    assert window.t("label.attempt", n=2, m=3) == "Try 2 of 3"
    window._set_lang("zh-CN")
    assert QCoreApplication.translate(CONTEXT, "打印", "action.print") == "打印"


def test_qm_is_package_data() -> None:
    text = (Path(__file__).resolve().parents[2] / "setup.cfg").read_text()
    assert "kiosk.hall.i18n = *.qm" in text


@pytest.mark.parametrize("name", sorted(theme.PAIRS))
def test_contrast_at_least_4_5(name: str) -> None:
    fg, bg = theme.PAIRS[name]
    assert theme.contrast(fg, bg) >= 4.5, (name, theme.contrast(fg, bg))


def test_contrast_formula() -> None:
    assert round(theme.contrast("#000000", "#FFFFFF"), 1) == 21.0
    assert theme.contrast("#777777", "#FFFFFF") < 4.5


def test_elder_and_normal_sizes_follow_the_rules() -> None:
    assert theme.ELDER.body_pt >= 30 and theme.ELDER.target_px >= 60
    assert theme.NORMAL.body_pt >= 18 and theme.NORMAL.target_px >= 44
    assert theme.ELDER.small_pt >= 30  # even secondary text is large in elder mode


def test_speech_degrades_without_the_module() -> None:
    speaker = make_speaker(True, module_name="PySide6.QtTextToSpeechIsNotHere")
    assert isinstance(speaker, SilentSpeaker) and not speaker.available
    assert "not installed" in speaker.reason
    speaker.say("请正对摄像头", "zh-CN")  # never raises
    assert speaker.spoken == ["请正对摄像头"]


def test_speech_on_this_machine_never_raises(qapp: Any) -> None:
    speaker = make_speaker(True)
    try:
        importlib.import_module("PySide6.QtTextToSpeech")
    except ImportError:
        assert isinstance(speaker, SilentSpeaker)
    else:
        assert isinstance(speaker, QtSpeaker | SilentSpeaker)
    speaker.say("请眨眨眼", "zh-CN")
    speaker.stop()


def test_window_speaks_new_prompts_only(qapp: Any) -> None:
    from kiosk.hall.flow import Step, View

    speaker = SilentSpeaker("test")
    window = KioskWindow(speaker=speaker)
    view = View(step=Step.FACE, lang="zh-CN", elder=False, prompt="face.blink")
    window.show_view(view)
    window.show_view(view)
    assert speaker.spoken == ["请眨眨眼"]


def test_config_defaults_and_errors(tmp_path: Path) -> None:
    config = KioskConfig()
    assert config.face_attempts == 3 and config.countdown_s == 20
    assert config.step_timeout("menu") == 60
    path = tmp_path / "kiosk.json"
    path.write_text(json.dumps({"face_attempts": 2, "step_timeouts": {"menu": 30}}))
    assert load_config(path).face_attempts == 2
    with pytest.raises(ConfigError, match=r"\$.face_attempts"):
        parse_config(b'{"face_attempts": 0}')
    with pytest.raises(ConfigError, match="unknown step"):
        parse_config(b'{"step_timeouts": {"lunch": 5}}')
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.json")


def test_windowed_scale_fits_the_screen() -> None:
    from kiosk.hall.app import _fit_scale, pick_orientation

    # The offscreen platform reports an 800x600 screen: a 1080x1920 window must shrink.
    scale = _fit_scale(KioskConfig(orientation="portrait"), None)
    assert 0.3 <= scale < 0.5
    assert pick_orientation(KioskConfig(), None, 1920, 1080) == "landscape"
    assert pick_orientation(KioskConfig(), None, 1080, 1920) == "portrait"
    assert pick_orientation(KioskConfig(orientation="portrait"), None, 1920, 1080) == "portrait"
    assert pick_orientation(KioskConfig(), "landscape", 1080, 1920) == "landscape"


def test_progress_moves_in_place(qapp: Any) -> None:
    from PySide6.QtWidgets import QProgressBar

    from kiosk.hall.flow import Step, View

    window = KioskWindow()
    view = View(step=Step.FACE, lang="zh-CN", elder=False, prompt="face.blink", progress=0.2)
    window.show_view(view)
    body = window._body
    window.show_view(
        View(step=Step.FACE, lang="zh-CN", elder=False, prompt="face.blink", progress=0.7, seq=5)
    )
    assert window._body is body  # not rebuilt
    bar = body.findChild(QProgressBar, "progress") if body else None
    assert bar is not None and bar.value() == 70
    window.show_view(View(step=Step.FACE, lang="zh-CN", elder=False, prompt="face.turn_left"))
    assert window._body is not body  # a new prompt: a new screen
