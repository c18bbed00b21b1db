"""Building this device's wire messages (govedge.contract) for the outbox and the status topic."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from edge_agent.outbox import Pending
from govedge.contract import (
    Channel,
    CommandAck,
    CommandAckData,
    ConfigReported,
    ConfigReportedData,
    Event,
    EventData,
    Health,
    HealthData,
    Severity,
    Status,
    StatusData,
    Telemetry,
    encode,
    topic,
)
from govedge.contract.messages import DriverHealth
from govedge.health import HealthState


def new_boot_id() -> str:
    """A fresh boot id for each start of the agent."""
    return uuid.uuid4().hex


class MessageFactory:
    """Envelopes for one device and one boot: the seq comes from the outbox when committed."""

    def __init__(self, device_id: str, boot_id: str, root: str) -> None:
        self.device_id = device_id
        self.boot_id = boot_id
        self.root = root
        self._topics = {ch: topic(device_id, ch, root) for ch in Channel}

    def topic(self, channel: Channel) -> str:
        return self._topics[channel]

    def telemetry(self, data: Mapping[str, float], ts: float | None = None) -> Pending:
        stamp = time.time() if ts is None else ts
        values = dict(data)

        def build(seq: int) -> bytes:
            return encode(
                Telemetry(
                    device_id=self.device_id, boot_id=self.boot_id, seq=seq, ts=stamp, data=values
                )
            )

        return Pending(self._topics[Channel.TELEMETRY], build)

    def event(
        self,
        kind: str,
        severity: Severity = "info",
        message: str = "",
        attrs: Mapping[str, str | float | bool | None] | None = None,
    ) -> Pending:
        stamp = time.time()
        data = EventData(
            kind=kind,
            severity=severity,
            message=message,
            attrs=dict(attrs or {}),
        )

        def build(seq: int) -> bytes:
            return encode(
                Event(device_id=self.device_id, boot_id=self.boot_id, seq=seq, ts=stamp, data=data)
            )

        return Pending(self._topics[Channel.EVENT], build)

    def health(
        self,
        drivers: Mapping[str, tuple[HealthState, str, int]],
        counters: Mapping[str, float],
        uptime_s: float,
    ) -> Pending:
        stamp = time.time()
        data = HealthData(
            drivers={
                name: DriverHealth(state=state, detail=detail[:1024], errors=errors)
                for name, (state, detail, errors) in drivers.items()
            },
            counters=dict(counters),
            uptime_s=uptime_s,
        )

        def build(seq: int) -> bytes:
            return encode(
                Health(device_id=self.device_id, boot_id=self.boot_id, seq=seq, ts=stamp, data=data)
            )

        return Pending(self._topics[Channel.HEALTH], build)

    def command_ack(
        self, command_id: str, ok: bool, result: Mapping[str, Any] | None = None, error: str = ""
    ) -> Pending:
        stamp = time.time()
        data = CommandAckData(id=command_id, ok=ok, result=dict(result or {}), error=error[:1024])

        def build(seq: int) -> bytes:
            return encode(
                CommandAck(
                    device_id=self.device_id, boot_id=self.boot_id, seq=seq, ts=stamp, data=data
                )
            )

        return Pending(self._topics[Channel.CMD_ACK], build)

    def config_reported(self, version: int, ok: bool, error: str = "") -> Pending:
        stamp = time.time()
        data = ConfigReportedData(version=version, ok=ok, error=error[:1024])

        def build(seq: int) -> bytes:
            return encode(
                ConfigReported(
                    device_id=self.device_id, boot_id=self.boot_id, seq=seq, ts=stamp, data=data
                )
            )

        return Pending(self._topics[Channel.CONFIG_REPORTED], build)

    def status(
        self, seq: int, online: bool, keepalive: int, model: str, firmware: str, reason: str = ""
    ) -> bytes:
        """A retained status. It carries the last committed seq and takes none of its own: the
        hub tracks presence by boot id, and seq gaps count only queued messages."""
        return encode(
            Status(
                device_id=self.device_id,
                boot_id=self.boot_id,
                seq=seq,
                ts=time.time(),
                data=StatusData(
                    online=online,
                    keepalive=keepalive,
                    model=model,
                    firmware=firmware,
                    reason=reason,
                ),
            )
        )
