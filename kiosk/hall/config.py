"""The kiosk app's configuration: where the agent and the hub are, and kiosk-sized timeouts.

A JSON file decoded with msgspec, so a bad value is an error naming its JSON path. Timeouts are
seconds of no touch in one step before the countdown shows; the countdown (with a "more time"
button) then ends in a wipe. VotingWorks VxSuite uses 5 minutes + 60 s for a voting session; a
kiosk errand step is short, so the defaults here are 60 s + 20 s, and elder mode multiplies the
idle time (older citizens read and act more slowly).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from govedge.errors import ConfigError

Seconds = Annotated[float, Meta(gt=0, le=3600)]

DEFAULT_STEP_TIMEOUTS: dict[str, float] = {
    "document": 60.0,
    "reading": 30.0,
    "face": 60.0,
    "face_failed": 45.0,
    "fingerprint": 60.0,
    "menu": 60.0,
    "proof_confirm": 60.0,
    "printing": 60.0,
    "print_failed": 60.0,
    "progress_entry": 90.0,
    "progress_scan": 45.0,
    "progress_result": 90.0,
    "guide_list": 90.0,
    "guide_detail": 120.0,
    "rate": 45.0,
    "goodbye": 15.0,
    "error": 45.0,
    "busy": 45.0,
    "maintenance": 120.0,
}


class AgentSettings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The edge agent's local device API: base URL (or ``unix:/path``) and its token file."""

    url: str = "http://127.0.0.1:8701"
    token_file: str = "var/agent/api.token"  # noqa: S105 - the path of the token file, not a secret
    request_timeout_s: Seconds = 10.0


class HubSettings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The hub's services API: base URL, the kiosk-role token (file), and how long to wait."""

    url: str = "http://127.0.0.1:8080"
    token_file: str = ""
    token: str = ""
    timeout_s: Seconds = 6.0


class KioskConfig(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The whole kiosk config. Every field has a default, so ``{}`` is a valid file."""

    hall: str = "service-hall-1"
    hall_name: str = "政务服务中心"
    agent: AgentSettings = msgspec.field(default_factory=AgentSettings)
    hub: HubSettings = msgspec.field(default_factory=HubSettings)
    lang: Annotated[str, Meta(pattern="^(zh-CN|en)$")] = "zh-CN"
    orientation: Annotated[str, Meta(pattern="^(portrait|landscape|auto)$")] = "auto"
    face_attempts: Annotated[int, Meta(ge=1, le=10)] = 3
    step_timeouts: dict[str, Seconds] = msgspec.field(default_factory=dict)
    countdown_s: Annotated[float, Meta(gt=0, le=600)] = 20.0
    elder_time_factor: Annotated[float, Meta(ge=1, le=5)] = 1.5
    card_read_retries: Annotated[int, Meta(ge=0, le=5)] = 1
    qr_scan_timeout_s: Seconds = 20.0
    removed_notice_s: Annotated[float, Meta(ge=0, le=60)] = 5.0
    staff_pin_sha256: str = ""
    speech: bool = True

    def step_timeout(self, step: str, elder: bool = False) -> float:
        """Seconds of no touch in ``step`` before the countdown starts."""
        base = self.step_timeouts.get(step, DEFAULT_STEP_TIMEOUTS.get(step, 60.0))
        return base * (self.elder_time_factor if elder else 1.0)


_decoder = msgspec.json.Decoder(KioskConfig)


def parse_config(data: bytes, where: str = "kiosk config") -> KioskConfig:
    """Decode and check a kiosk config; errors name the file and the JSON path."""
    try:
        config = _decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{where}: not valid JSON: {exc}") from None
    unknown = set(config.step_timeouts) - set(DEFAULT_STEP_TIMEOUTS)
    if unknown:
        raise ConfigError(
            f"{where}: $.step_timeouts: unknown step(s) {sorted(unknown)}; "
            f"known: {sorted(DEFAULT_STEP_TIMEOUTS)}"
        )
    return config


def load_config(path: str | Path) -> KioskConfig:
    """Read and check the kiosk config at ``path``."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from None
    return parse_config(data, str(p))


def read_token(path: str, base: Path | None = None) -> str:
    """The bearer token in ``path`` (relative paths against ``base``), stripped."""
    p = Path(path).expanduser()
    if not p.is_absolute() and base is not None:
        p = base / p
    try:
        return p.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the token file: {exc.strerror or exc}") from None
