"""The edge agent's view of a fingerprint module: a polled driver with the fingerprint capability.

``create(url, options)`` builds it from a device config. Options:
drivers.fingerprint.spec.FingerprintOptions. An unknown key or a bad value is a ConfigError
naming it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from drivers.base import HealthReport
from drivers.fingerprint.errors import FingerprintBusyError
from drivers.fingerprint.module import FingerprintModule, ModuleSettings
from drivers.fingerprint.spec import FingerprintOptions
from drivers.options import options_of, same_named
from govedge.errors import ConfigError
from govedge.health import HealthState


def settings_from_options(options: FingerprintOptions | Mapping[str, Any]) -> ModuleSettings:
    """ModuleSettings from the driver's options; ConfigError names any unknown key or bad value."""
    opts = options_of(FingerprintOptions, options)
    settings = same_named(opts, ModuleSettings)
    return ModuleSettings(
        **{**settings, "password": _word(opts.password), "address": _word(opts.address)}
    )


def _word(value: int | str) -> int:
    """A 32-bit word given as a number or as text (``0x1234ABCD``, already pattern-checked)."""
    number = int(value, 0) if isinstance(value, str) else value
    if not 0 <= number <= 0xFFFFFFFF:
        raise ConfigError(f"fingerprint: {value!r} does not fit in 32 bits")
    return number


class FingerprintPolledDriver:
    """Polls the template count; verifies and searches fingers for the kiosk's sessions.

    One operation at a time: the module has one image buffer. A poll that comes while a
    person's finger is awaited does not wait for them; it raises FingerprintBusyError
    (health ``busy``) after ``POLL_WAIT`` seconds.
    """

    kind = "fingerprint"
    POLL_WAIT = 0.2

    def __init__(self, url: str, settings: ModuleSettings) -> None:
        self.url = url
        self.module = FingerprintModule(url, settings)
        self._lock = threading.Lock()
        # A session waits at most for the one in progress: its finger wait and its commands.
        self._session_wait = settings.finger_timeout * 2 + settings.timeout * 8

    @contextmanager
    def _using(self, wait: float, what: str) -> Iterator[None]:
        if not self._lock.acquire(timeout=wait):
            raise FingerprintBusyError(f"fingerprint module at {self.url} is busy; {what} refused")
        try:
            yield
        finally:
            self._lock.release()

    def _session(self, what: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._using(self._session_wait, what):
            return call()

    def open(self) -> None:
        """Open the module (password, system parameters), waiting for a session in progress."""
        with self._using(self._session_wait, "open"):
            self.module.open()

    def close(self) -> None:
        """Close the line once a session in progress has finished; safe to call twice."""
        with self._using(self._session_wait, "close"):
            self.module.close()

    def poll(self) -> Mapping[str, float]:
        """{"templates": N}: how many templates the module's library holds."""
        with self._using(self.POLL_WAIT, "poll"):
            return {"templates": float(self.module.template_count())}

    def health(self) -> HealthReport:
        """The module's health, reported busy while an operation holds the module."""
        report = self.module.health()
        if self._lock.locked():
            report.state = HealthState.BUSY
        return report

    def verify_finger(self, template_id: int) -> dict[str, Any]:
        """1:1 against the template at ``template_id``: {"match": bool, "score": int}."""
        result = self._session("verify", lambda: self.module.verify(template_id))
        return {"match": result["match"], "score": result["score"]}

    def search_finger(self) -> dict[str, Any]:
        """1:N over the library: {"found": bool, "id": int (-1 if not found), "score": int}."""
        result = self._session("search", self.module.identify)
        return {"found": result["found"], "id": result["id"], "score": result["score"]}

    def match_features(self, features: list[bytearray]) -> dict[str, Any]:
        """1:1 of a live finger against host-held features (an ID card's):
        {"match": bool, "score": int}. NoFingerError when no finger comes in time."""
        result = self._session("match card", lambda: self.module.match_features(features))
        return {"match": result["match"], "score": result["score"]}

    def enroll_finger(self, template_id: int) -> dict[str, Any]:
        """Two captures stored at ``template_id``."""
        return self._session("enroll", lambda: self.module.enroll(template_id))

    def delete_finger(self, template_id: int) -> dict[str, Any]:
        """Delete the template at ``template_id``: {"deleted": 1, "id": template_id}."""
        return self._session("delete", lambda: self.module.delete(template_id))

    @property
    def online(self) -> bool:
        """True if the last operation left the module online (cheap: sends no command)."""
        return self.module.health().state is HealthState.ONLINE


def create(url: str, options: FingerprintOptions | Mapping[str, Any]) -> FingerprintPolledDriver:
    """Build (not open) the polled driver for the module at ``url``."""
    return FingerprintPolledDriver(url, settings_from_options(options))
