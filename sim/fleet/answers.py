"""How a scale-mode device answers the hub, as the edge agent does (edge_agent.commands and
edge_agent.desired), without running anything.

Commands: a command id runs at most once (a redelivery is ignored); an expired command is
refused, an unknown one refused naming the known ones, and the others acknowledged with a
result. Desired configs: an older version, or one refused in this boot, is ignored; the running
version is reported once per boot (the retained copy a reconnect brings); a newer one is applied
and reported, or refused with an error. Which devices refuse or fail is chosen by the fleet's
``AnswerPolicy``: named devices, or a fraction picked by a stable hash, so a rollout's failure
limit and halt can be tested.
"""

from __future__ import annotations

import time
import zlib
from collections import deque
from dataclasses import dataclass, field

from govedge.contract import (
    Command,
    CommandAckData,
    ConfigDesired,
    ConfigReportedData,
    Message,
)

KNOWN_COMMANDS = (
    "ping",
    "self_test",
    "reload_config",
    "restart_driver",
    "print_test_receipt",
    "read_card",
    "rotate_certificate",
)
"""The commands the edge agent runs (edge_agent.commands.CommandService.handlers)."""
REMEMBERED_COMMANDS = 256

Answer = CommandAckData | ConfigReportedData


def _picked(key: str, fraction: float) -> bool:
    """True for about ``fraction`` of keys, the same ones in every run."""
    return fraction > 0 and zlib.crc32(key.encode()) / 2**32 < fraction


@dataclass(slots=True)
class AnswerPolicy:
    """Which devices refuse a config or fail a command: the ones named, and a fraction of the
    others (by a hash of the device id and the version or command id)."""

    config_failure_rate: float = 0.0
    command_failure_rate: float = 0.0
    refuse_configs: set[str] = field(default_factory=set)
    fail_commands: set[str] = field(default_factory=set)

    def refuses(self, device_id: str, version: int) -> bool:
        """Whether ``device_id`` refuses config ``version``; asked again, the answer is the same."""
        return device_id in self.refuse_configs or _picked(
            f"{device_id}:{version}", self.config_failure_rate
        )

    def fails(self, device_id: str, command_id: str) -> bool:
        """Whether ``device_id`` fails ``command_id``; asked again, the answer is the same."""
        return device_id in self.fail_commands or _picked(
            f"{device_id}:{command_id}", self.command_failure_rate
        )


@dataclass(slots=True)
class AnswerCounts:
    """What the fleet's devices did with the hub's messages."""

    commands: int = 0
    commands_failed: int = 0
    commands_duplicate: int = 0
    configs_applied: int = 0
    configs_refused: int = 0
    hub_messages_refused: int = 0


class DeviceAnswers:
    """One device's memory of what it ran: config version, refused versions, command ids."""

    def __init__(self, device_id: str, policy: AnswerPolicy, counts: AnswerCounts) -> None:
        self.device_id = device_id
        self.policy = policy
        self.counts = counts
        self.started = time.time()
        self.config_version = 0
        self._refused: set[int] = set()
        self._reported = False
        self._seen: set[str] = set()
        self._order: deque[str] = deque()
        self.ran: deque[str] = deque(maxlen=64)
        """The names of the commands this device ran, newest last."""

    def handle(self, msg: Message, boot_id: str) -> Answer | None:
        """The answer to one message from the hub, or None when there is none to send."""
        if isinstance(msg, Command):
            return self._command(msg, boot_id)
        if isinstance(msg, ConfigDesired):
            return self._config(msg)
        return None

    def _command(self, msg: Command, boot_id: str) -> CommandAckData | None:
        data, counts = msg.data, self.counts
        if data.id in self._seen:
            counts.commands_duplicate += 1
            return None
        self._seen.add(data.id)
        self._order.append(data.id)
        if len(self._order) > REMEMBERED_COMMANDS:
            self._seen.discard(self._order.popleft())
        counts.commands += 1
        if data.expires_at < time.time():
            counts.commands_failed += 1
            return CommandAckData(id=data.id, ok=False, error=f"expired at {data.expires_at:.3f}")
        if data.name not in KNOWN_COMMANDS:
            counts.commands_failed += 1
            known = ", ".join(sorted(KNOWN_COMMANDS))
            error = f"unknown command {data.name!r}; known: {known}"
            return CommandAckData(id=data.id, ok=False, error=error)
        self.ran.append(data.name)
        if self.policy.fails(self.device_id, data.id):
            counts.commands_failed += 1
            error = f"DriverError: simulated failure of {data.name}"
            return CommandAckData(id=data.id, ok=False, error=error)
        result: dict[str, object] = {"simulated": True}
        if data.name == "ping":
            uptime = round(time.time() - self.started, 3)
            result = {"pong": True, "boot_id": boot_id, "uptime_s": uptime, "queued": 0}
        return CommandAckData(id=data.id, ok=True, result=result)

    def _config(self, msg: ConfigDesired) -> ConfigReportedData | None:
        version = msg.data.version
        if version < self.config_version or version in self._refused:
            return None  # older than what runs, or already refused in this boot
        if version == self.config_version:
            if self._reported:
                return None
            self._reported = True  # once per boot: the hub learns what runs
            return ConfigReportedData(version=version, ok=True)
        if self.policy.refuses(self.device_id, version):
            self._refused.add(version)
            self.counts.configs_refused += 1
            error = f"simulated refusal of config v{version}: a driver did not start"
            return ConfigReportedData(version=version, ok=False, error=error)
        self.config_version = version
        self._reported = True
        self.counts.configs_applied += 1
        return ConfigReportedData(version=version, ok=True)
