"""Size and rate limits that are part of the contract: a message past them is invalid."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""A device id: 1-64 letters, digits, '_', '.', '-'; never an MQTT wildcard or '/'."""

DEVICE_ID_PATTERN = DEVICE_ID_RE.pattern

METRIC_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")
"""A telemetry quantity name: safe as a column, tag or query identifier in every store."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Contract limits; both ends use the same values."""

    max_payload_bytes: int = 64 * 1024
    max_metrics: int = 64
    max_name_len: int = 64
    max_text_len: int = 1024
    max_config_bytes: int = 48 * 1024
    max_rate_per_device_hz: float = 50.0


DEFAULT_LIMITS = Limits()
