"""Spoken prompts through QtTextToSpeech, degrading to silence when it cannot speak.

PySide6-Essentials ships no QtTextToSpeech, and a machine may have the module but no speech
engine. ``make_speaker`` returns a ``QtSpeaker`` only when both are there; otherwise a
``SilentSpeaker`` whose ``reason`` says why (shown on the maintenance screen, logged once). The
screens then rely on text alone, which they always show anyway.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from typing_extensions import override

from govedge.logs import fields, get_logger

log = get_logger(__name__)

LOCALES = {"zh-CN": "zh_CN", "en": "en_US"}


class Speaker(Protocol):
    """What speaks prompts aloud, or says why it cannot."""

    available: bool
    reason: str

    def say(self, text: str, lang: str) -> None:
        """Speak ``text`` in ``lang`` (``zh-CN`` or ``en``), cutting off what is still spoken."""
        ...

    def stop(self) -> None:
        """Stop speaking at once (the visit ended or the screen changed)."""
        ...


class SilentSpeaker(Speaker):
    """Says nothing; ``spoken`` keeps the last texts for the tests of the silent path."""

    available = False

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.spoken: list[str] = []

    @override
    def say(self, text: str, lang: str) -> None:
        self.spoken = [*self.spoken[-9:], text]

    @override
    def stop(self) -> None:
        return None


class QtSpeaker(Speaker):
    """QTextToSpeech with its default engine, switching locale with the citizen's language."""

    available = True
    reason = ""

    def __init__(self, engine: Any, module: Any) -> None:
        self._tts = engine
        self._module = module
        self._lang = ""

    @override
    def say(self, text: str, lang: str) -> None:
        if lang != self._lang:
            from PySide6.QtCore import QLocale

            self._tts.setLocale(QLocale(LOCALES.get(lang, "zh_CN")))
            self._lang = lang
        self._tts.stop()
        self._tts.say(text)

    @override
    def stop(self) -> None:
        self._tts.stop()


def make_speaker(enabled: bool = True, module_name: str = "PySide6.QtTextToSpeech") -> Speaker:
    """The best speaker this machine has; never raises."""
    if not enabled:
        return SilentSpeaker("speech is turned off in the config")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        reason = "QtTextToSpeech is not installed (PySide6-Essentials has no speech module)"
        log.info("speech_unavailable", extra=fields(reason=reason))
        return SilentSpeaker(reason)
    try:
        engines = list(module.QTextToSpeech.availableEngines())
        if not engines:
            raise RuntimeError("no speech engine is installed")
        engine = module.QTextToSpeech()
        if engine.state() == module.QTextToSpeech.State.Error:
            raise RuntimeError(f"speech engine error: {engine.errorString()}")
    except Exception as exc:  # noqa: BLE001 - the Qt speech module fails many ways; the kiosk then speaks none
        reason = f"no usable speech engine: {exc}"
        log.info("speech_unavailable", extra=fields(reason=reason))
        return SilentSpeaker(reason)
    return QtSpeaker(engine, module)
