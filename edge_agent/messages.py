"""Building this device's wire messages (govedge.contract) for the outbox and the status topic.

Every message is stamped by the contract's EnvelopeStamper and held to the contract's
:func:`~govedge.contract.check` when it is made, so that a message the hub would refuse raises
ContractError here, at its source, and is never queued.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from edge_agent.outbox import Pending
from govedge.contract import (
    Channel,
    CommandAck,
    CommandAckData,
    ConfigReported,
    ConfigReportedData,
    EnvelopeStamper,
    Event,
    EventData,
    Health,
    HealthData,
    Message,
    Severity,
    Status,
    StatusData,
    Telemetry,
    channel_of,
    check,
    encode,
    new_boot_id,
    topic,
)
from govedge.contract.messages import DriverHealth
from govedge.health import HealthState


class MessageFactory:
    """Envelopes for one device and one boot: the seq comes from the outbox when committed."""

    def __init__(self, device_id: str, boot_id: str, root: str) -> None:
        self.device_id = device_id
        self.boot_id = boot_id
        self.root = root
        self.stamper = EnvelopeStamper(device_id, boot_id)
        self._topics = {ch: topic(device_id, ch, root) for ch in Channel}

    def topic(self, channel: Channel) -> str:
        """This device's topic on ``channel`` under the topic root (made once, at start)."""
        return self._topics[channel]

    def _pending(self, kind: Callable[..., Message], data: Any, ts: float | None = None) -> Pending:
        """A message checked now (with seq 0) and stamped again with its seq at commit."""
        stamp = time.time() if ts is None else ts
        stamper = self.stamper
        probe = stamper.stamp(kind, data, seq=0, ts=stamp)
        check(probe)
        channel = channel_of(probe)

        def build(seq: int) -> bytes:
            return encode(stamper.stamp(kind, data, seq=seq, ts=stamp))

        return Pending(self._topics[channel], build)

    def telemetry(self, data: Mapping[str, float], ts: float | None = None) -> Pending:
        """A telemetry message of these metrics, stamped ``ts`` (now by default); ContractError
        here if the contract refuses a name or value."""
        return self._pending(Telemetry, dict(data), ts)

    def event(
        self,
        kind: str,
        severity: Severity = "info",
        message: str = "",
        attrs: Mapping[str, str | float | bool | None] | None = None,
    ) -> Pending:
        """An event of ``kind``; ContractError here if the contract refuses it."""
        data = EventData(kind=kind, severity=severity, message=message, attrs=dict(attrs or {}))
        return self._pending(Event, data)

    def health(
        self,
        drivers: Mapping[str, tuple[HealthState, str, int]],
        counters: Mapping[str, float],
        uptime_s: float,
    ) -> Pending:
        """A Health message: each driver's (state, detail, errors), the counters and the
        uptime; details are cut to 1024 characters."""
        data = HealthData(
            drivers={
                name: DriverHealth(state=state, detail=detail[:1024], errors=errors)
                for name, (state, detail, errors) in drivers.items()
            },
            counters=dict(counters),
            uptime_s=uptime_s,
        )
        return self._pending(Health, data)

    def command_ack(
        self, command_id: str, ok: bool, result: Mapping[str, Any] | None = None, error: str = ""
    ) -> Pending:
        """The single acknowledgement of a command (error cut to 1024 characters); ContractError
        here if the result breaks the contract, so that the caller can acknowledge the failure
        instead."""
        data = CommandAckData(id=command_id, ok=ok, result=dict(result or {}), error=error[:1024])
        return self._pending(CommandAck, data)

    def config_reported(self, version: int, ok: bool, error: str = "") -> Pending:
        """The outcome of a desired config version, for config/reported (error cut to 1024
        characters)."""
        data = ConfigReportedData(version=version, ok=ok, error=error[:1024])
        return self._pending(ConfigReported, data)

    def status(
        self,
        seq: int,
        online: bool,
        keepalive: int,
        model: str,
        firmware: str,
        reason: str = "",
        ts: float | None = None,
    ) -> bytes:
        """A retained status. It carries the last committed seq and takes none of its own: the
        hub tracks presence by boot id, and seq gaps count only queued messages. ``ts``: the
        connection's stamp for its will and birth (contract ``Status``), else now."""
        data = StatusData(
            online=online, keepalive=keepalive, model=model, firmware=firmware, reason=reason
        )
        return encode(self.stamper.stamp(Status, data, seq=seq, ts=ts))


__all__ = ["MessageFactory", "new_boot_id"]
