"""Health states shared by drivers, the agent and the hub."""

from __future__ import annotations

from enum import StrEnum


class HealthState(StrEnum):
    """The state of one device or driver, as the operator sees it."""

    ONLINE = "online"
    OFFLINE = "offline"  # known but not answering (timeouts, link down)
    NO_DEVICE = "no_device"  # nothing at the configured port or reader
    HARDWARE_ERROR = "hardware_error"  # the device answers but reports a fault
    USER_ERROR = "user_error"  # a person must act: no card, paper out, cover open
    BUSY = "busy"  # in use by a session or command
