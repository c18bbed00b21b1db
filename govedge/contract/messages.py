"""Message types of the wire contract, as typed msgspec structs.

Every message is one JSON object: the envelope (``v``, ``device_id``, ``boot_id``, ``seq``, ``ts``,
``type``) and ``data``, whose shape depends on ``type``. (device_id, boot_id, seq) identifies a
message: the hub drops duplicates by it and counts gaps in seq within a boot.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

from govedge.contract.limits import DEFAULT_LIMITS, DEVICE_ID_PATTERN, METRIC_NAME_RE
from govedge.contract.topics import Channel
from govedge.health import HealthState

PROTOCOL_VERSION = 1

_L = DEFAULT_LIMITS

DeviceId = Annotated[str, Meta(pattern=DEVICE_ID_PATTERN)]
BootId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Seq = Annotated[int, Meta(ge=0, le=2**63 - 1)]
Timestamp = Annotated[float, Meta(ge=0, le=32503680000.0)]  # Unix seconds, before year 3000
Name = Annotated[str, Meta(min_length=1, max_length=_L.max_name_len)]
Text = Annotated[str, Meta(max_length=_L.max_text_len)]
Scalar = str | float | bool | None
Attrs = Annotated[dict[Name, Scalar], Meta(max_length=_L.max_metrics)]
MetricName = Annotated[str, Meta(pattern=METRIC_NAME_RE.pattern)]
"""A quantity name: safe as a column, tag or query identifier in every store."""
Metrics = Annotated[dict[MetricName, float], Meta(min_length=1, max_length=_L.max_metrics)]
Severity = Literal["critical", "major", "minor", "warning", "info"]
"""How bad an event is; the one declaration of the severities (the hub's rules rank them)."""
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
"""Every severity, most severe first."""
DriverState = HealthState
"""A driver's state in a health message: govedge.health's enum, on the wire as its value."""


class Envelope(
    msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, tag_field="type"
):
    """The identity every message carries (govedge.contract.stamp fills it) and its version."""

    v: int = PROTOCOL_VERSION
    device_id: DeviceId
    boot_id: BootId
    seq: Seq
    ts: Timestamp


class Telemetry(Envelope, tag="telemetry", frozen=True):
    """Measurements taken at ``ts``: quantity name -> value in the unit of the device profile."""

    data: Metrics


class EventData(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Something that happened on a device, with its severity."""

    kind: Name
    severity: Severity = "info"
    message: Text = ""
    attrs: Attrs = {}


class Event(Envelope, tag="event", frozen=True):
    """Something happened on the device (card inserted, paper out, session ended)."""

    data: EventData


class DriverHealth(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One driver's state as the agent sees it."""

    state: HealthState
    detail: Text = ""
    errors: Annotated[int, Meta(ge=0)] = 0


class HealthData(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The drivers' health and the agent's counters."""

    drivers: Annotated[dict[Name, DriverHealth], Meta(max_length=_L.max_metrics)] = {}
    counters: Annotated[dict[Name, float], Meta(max_length=_L.max_metrics)] = {}
    uptime_s: Annotated[float, Meta(ge=0)] = 0.0


class Health(Envelope, tag="health", frozen=True):
    """The device's own view of its drivers and counters."""

    data: HealthData


class StatusData(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A device's presence: online, or why it is not."""

    online: bool
    keepalive: Annotated[int, Meta(ge=0, le=65535)] = 60
    model: Annotated[str, Meta(max_length=_L.max_name_len)] = ""
    firmware: Annotated[str, Meta(max_length=_L.max_name_len)] = ""
    reason: Text = ""


class Status(Envelope, tag="status", frozen=True):
    """Retained presence: birth (online) on connect, last will (offline) on loss.

    A connection's birth carries the ``ts`` of the will set at its connect, so that the boot id
    and ``ts`` tell a stale will (of an earlier boot, or of an earlier connection: stamped
    before the birth applied last) from the will of the connection that is live.
    """

    data: StatusData


class CommandData(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A command to a device; it is not run after ``expires_at``."""

    id: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    name: Name
    args: dict[Name, Any] = {}
    expires_at: Timestamp


class Command(Envelope, tag="cmd", frozen=True):
    """Hub -> device. ``device_id`` is the target; seq and boot id are the hub's."""

    data: CommandData


class CommandAckData(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A device's answer to a command."""

    id: Annotated[str, Meta(min_length=1, max_length=64)]
    ok: bool
    result: dict[Name, Any] = {}
    error: Text = ""


class CommandAck(Envelope, tag="cmd_ack", frozen=True):
    """Device -> hub: the result of one command, sent once per execution."""

    data: CommandAckData


class ConfigDesiredData(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The configuration the hub wants a device to run, signed."""

    version: Annotated[int, Meta(ge=0)]
    config: dict[Name, Any]
    signature: Annotated[str, Meta(max_length=256)] = ""


class ConfigDesired(Envelope, tag="config_desired", frozen=True):
    """Hub -> device, retained: the configuration the device should run."""

    data: ConfigDesiredData


class ConfigReportedData(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Whether a device applied a desired configuration."""

    version: Annotated[int, Meta(ge=0)]
    ok: bool
    error: Text = ""


class ConfigReported(Envelope, tag="config_reported", frozen=True):
    """Device -> hub: which config version runs, or why the desired one was refused."""

    data: ConfigReportedData


Message = (
    Telemetry | Event | Health | Status | Command | CommandAck | ConfigDesired | ConfigReported
)

_CHANNEL_OF: dict[type[Envelope], Channel] = {
    Telemetry: Channel.TELEMETRY,
    Event: Channel.EVENT,
    Health: Channel.HEALTH,
    Status: Channel.STATUS,
    Command: Channel.CMD,
    CommandAck: Channel.CMD_ACK,
    ConfigDesired: Channel.CONFIG_DESIRED,
    ConfigReported: Channel.CONFIG_REPORTED,
}


def channel_of(msg: Message) -> Channel:
    """The channel a message of this type travels on."""
    return _CHANNEL_OF[type(msg)]
