"""MQTT topics: ``{root}/{device_id}/{channel}``."""

from __future__ import annotations

from enum import StrEnum

from govedge.contract.limits import DEVICE_ID_RE
from govedge.errors import GovedgeError

DEFAULT_ROOT = "gov/v1"


class TopicError(GovedgeError):
    """A topic, topic root or device id does not fit the contract."""

    reason = "bad_topic"


class Channel(StrEnum):
    """The channels under a device's topic, and who writes them."""

    TELEMETRY = "telemetry"  # device -> hub, QoS 1
    EVENT = "event"  # device -> hub, QoS 1
    HEALTH = "health"  # device -> hub
    STATUS = "status"  # device -> hub, retained: birth on connect, last will on loss
    CMD = "cmd"  # hub -> device
    CMD_ACK = "cmd/ack"  # device -> hub
    CONFIG_DESIRED = "config/desired"  # hub -> device, retained
    CONFIG_REPORTED = "config/reported"  # device -> hub


DEVICE_CHANNELS = frozenset(
    {
        Channel.TELEMETRY,
        Channel.EVENT,
        Channel.HEALTH,
        Channel.STATUS,
        Channel.CMD_ACK,
        Channel.CONFIG_REPORTED,
    }
)
"""Channels a device writes; the hub writes the others."""

_CHANNELS = {c.value: c for c in Channel}


def check_device_id(device_id: str) -> str:
    """Return ``device_id`` if it is a valid device id, else raise TopicError."""
    if not DEVICE_ID_RE.match(device_id):
        raise TopicError(
            f"invalid device id {device_id!r}: 1-64 characters of letters, digits, '_', '.', '-'"
        )
    return device_id


def check_root(root: str) -> str:
    """Return ``root`` if it can prefix topics (no wildcards, no empty levels)."""
    if not root or any(ch in root for ch in "+#\0") or "" in root.split("/"):
        raise TopicError(f"invalid topic root {root!r}")
    return root


def topic(device_id: str, channel: Channel | str, root: str = DEFAULT_ROOT) -> str:
    """The topic on which ``device_id`` uses ``channel``."""
    ch = _CHANNELS.get(str(channel))
    if ch is None:
        raise TopicError(f"unknown channel {channel!r}")
    return f"{root}/{check_device_id(device_id)}/{ch.value}"


def subscription(channel: Channel | str, root: str = DEFAULT_ROOT, device_id: str = "+") -> str:
    """A subscription filter for ``channel`` of one device or (by default) all devices."""
    if device_id != "+":
        check_device_id(device_id)
    return f"{root}/{device_id}/{Channel(channel).value}"


def parse_topic(name: str, root: str = DEFAULT_ROOT) -> tuple[str, Channel]:
    """Split a topic into (device id, channel), or raise TopicError saying what is wrong."""
    prefix = root + "/"
    if not name.startswith(prefix):
        raise TopicError(f"topic {name!r} is not under root {root!r}")
    rest = name[len(prefix) :]
    device_id, sep, channel = rest.partition("/")
    if not sep:
        raise TopicError(f"topic {name!r} has no channel")
    ch = _CHANNELS.get(channel)
    if ch is None:
        raise TopicError(f"topic {name!r} has unknown channel {channel!r}")
    return check_device_id(device_id), ch
