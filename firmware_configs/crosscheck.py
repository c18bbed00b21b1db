"""The final pass over a device's drivers together, as esphome does after each component's schema.

Unique driver names, no serial port used twice (Modbus devices may share one RS-485 bus when their
unit ids differ and their line settings agree), distinct metric prefixes for drivers of one kind.
It reads only the facts below, so the agent (from typed configs, firmware_configs.schema) and the
hub (from JSON-Schema-checked data, firmware_configs.validate) run the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from govedge.errors import ConfigError


class InvalidConfig(ConfigError):
    """A config refused at a JSON path; the message reads ``where: path: reason``."""

    def __init__(self, where: str, path: str, reason: str) -> None:
        super().__init__(f"{where}: {path}: {reason}")
        self.path = path


@dataclass(frozen=True, slots=True)
class DriverFacts:
    """What the cross-check needs of one driver entry."""

    name: str
    kind: str
    url: str
    metric_prefix: str
    unit: int | None  # a Modbus device's unit id; None for other kinds


def serial_port(url: str) -> tuple[str, dict[str, str]] | None:
    """The local serial port a driver URL names (None for network and PC/SC transports)."""
    rest = url[len("serial://") :] if url.startswith("serial://") else url
    if "://" in rest or not rest.startswith("/"):
        return None
    path, _, query = rest.partition("?")
    settings = {("baudrate" if k == "baud" else k): v for k, v in parse_qsl(query)}
    return path, settings


def check_together(drivers: Sequence[DriverFacts], where: str) -> None:
    """Check the drivers together; raise InvalidConfig naming ``where`` and the key."""
    names: dict[str, int] = {}
    ports: dict[str, int] = {}
    prefixes: dict[tuple[str, str], int] = {}
    for i, drv in enumerate(drivers):
        key = f"$.drivers[{i}]"
        if drv.name in names:
            raise InvalidConfig(
                where,
                f"{key}.name",
                f"driver name {drv.name!r} is already used by $.drivers[{names[drv.name]}]",
            )
        names[drv.name] = i
        pkey = (drv.kind, drv.metric_prefix)
        if pkey in prefixes:
            raise InvalidConfig(
                where,
                f"{key}.metric_prefix",
                f"{drv.metric_prefix!r} is also the prefix of $.drivers[{prefixes[pkey]}] of the "
                "same kind; their metrics would clash",
            )
        prefixes[pkey] = i
        port = serial_port(drv.url)
        if port is None:
            continue
        path = port[0]
        if path not in ports:
            ports[path] = i
            continue
        _check_shared_bus(drv, drivers[ports[path]], i, ports[path], path, where)


def _check_shared_bus(
    drv: DriverFacts, other: DriverFacts, i: int, j: int, path: str, where: str
) -> None:
    key = f"$.drivers[{i}]"
    if drv.kind != "modbus" or other.kind != "modbus":
        raise InvalidConfig(
            where,
            f"{key}.url",
            f"serial port {path} is already used by $.drivers[{j}] ({other.name}); only Modbus "
            "devices may share a bus",
        )
    if drv.unit is None or other.unit is None or drv.unit == other.unit:
        raise InvalidConfig(
            where,
            f"{key}.options.unit",
            f"Modbus devices sharing {path} need distinct unit ids "
            f"(this one {drv.unit!r}, $.drivers[{j}] {other.unit!r})",
        )
    a, b = serial_port(drv.url), serial_port(other.url)
    if a is not None and b is not None and a[1] != b[1]:
        raise InvalidConfig(
            where,
            f"{key}.url",
            f"line settings {a[1]} differ from $.drivers[{j}]'s {b[1]} on the shared bus {path}",
        )
