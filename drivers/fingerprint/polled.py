"""The edge agent's view of a fingerprint module: a polled driver with the fingerprint capability.

``create(url, options)`` builds it from a device config. Options (all optional): ``password``
(int, or a string such as "0x1234ABCD"), ``address``, ``baudrate``, ``timeout``,
``finger_timeout``, ``poll_interval``, ``quiet_gap``, ``retries``, ``high_speed_search``.
An unknown key or a bad value is a ConfigError naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields as dataclass_fields
from typing import Any

from drivers.base import HealthReport
from drivers.errors import DriverError
from drivers.fingerprint.module import FingerprintModule, ModuleSettings
from govedge.errors import ConfigError
from govedge.health import HealthState

_INT_OPTIONS = {"password", "address", "baudrate", "retries"}
_FLOAT_OPTIONS = {"timeout", "finger_timeout", "poll_interval", "quiet_gap"}
_BOOL_OPTIONS = {"high_speed_search"}


def settings_from_options(options: Mapping[str, Any]) -> ModuleSettings:
    """ModuleSettings from a config mapping; ConfigError names any unknown key or bad value."""
    known = {f.name for f in dataclass_fields(ModuleSettings)}
    values: dict[str, Any] = {}
    for key, value in options.items():
        if key not in known:
            raise ConfigError(
                f"fingerprint: unknown option {key!r}; known: {', '.join(sorted(known))}"
            )
        values[key] = _convert(key, value)
    return ModuleSettings(**values)


def _convert(key: str, value: Any) -> Any:
    try:
        if key in _BOOL_OPTIONS:
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if isinstance(value, bool):
            raise ValueError(value)
        if key in _INT_OPTIONS:
            number = int(value, 0) if isinstance(value, str) else int(value)
            if number != value and not isinstance(value, str):
                raise ValueError(value)
            limit = 0xFFFFFFFF if key in ("password", "address") else 10_000_000
            if not 0 <= number <= limit:
                raise ValueError(value)
            return number
        if key in _FLOAT_OPTIONS:
            seconds = float(value)
            if not 0 <= seconds <= 3600:
                raise ValueError(value)
            return seconds
    except (TypeError, ValueError):
        raise ConfigError(f"fingerprint: bad value {value!r} for option {key!r}") from None
    return value  # pragma: no cover - every known key is in one of the sets


class FingerprintPolledDriver:
    """Polls the template count; verifies and searches fingers for the kiosk's sessions."""

    kind = "fingerprint"

    def __init__(self, url: str, settings: ModuleSettings) -> None:
        self.url = url
        self.module = FingerprintModule(url, settings)
        self._last_error: DriverError | None = None

    def open(self) -> None:
        self.module.open()

    def close(self) -> None:
        self.module.close()

    def poll(self) -> Mapping[str, float]:
        """{"templates": N}: how many templates the module's library holds."""
        return {"templates": float(self.module.template_count())}

    def health(self) -> HealthReport:
        return self.module.health()

    def verify_finger(self, template_id: int) -> dict[str, Any]:
        """1:1 against the template at ``template_id``: {"match": bool, "score": int}."""
        result = self.module.verify(template_id)
        return {"match": result["match"], "score": result["score"]}

    def search_finger(self) -> dict[str, Any]:
        """1:N over the library: {"found": bool, "id": int (-1 if not found), "score": int}."""
        result = self.module.identify()
        return {"found": result["found"], "id": result["id"], "score": result["score"]}

    def enroll_finger(self, template_id: int) -> dict[str, Any]:
        """Two captures stored at ``template_id``."""
        return self.module.enroll(template_id)

    def delete_finger(self, template_id: int) -> dict[str, Any]:
        return self.module.delete(template_id)

    @property
    def online(self) -> bool:
        return self.module.health().state is HealthState.ONLINE


def create(url: str, options: Mapping[str, Any]) -> FingerprintPolledDriver:
    """Build (not open) the polled driver for the module at ``url``."""
    return FingerprintPolledDriver(url, settings_from_options(options))
