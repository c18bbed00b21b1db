"""The hub's check of a runtime config (config/desired), against the committed JSON Schema.

firmware_configs/runtime-config.schema.json is generated from the drivers' specs
(firmware_configs.schema, ``python -m firmware_configs.schema``); a test keeps it current. The hub
checks configs here before any device sees them, without importing any driver code: an unknown
option, a wrong type or an out-of-range value is an InvalidConfig naming the JSON path
(``$.drivers[0].options.timeout``), and the drivers are then checked together as the agent does
(firmware_configs.crosscheck).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from firmware_configs.crosscheck import DriverFacts, InvalidConfig, check_together

SCHEMA_FILE = Path(__file__).with_name("runtime-config.schema.json")


class _Schema:
    """The runtime config's schema, split so that each driver is checked against its own kind."""

    def __init__(self, schema: dict[str, Any]) -> None:
        defs: dict[str, Any] = schema["$defs"]
        root = json.loads(json.dumps(defs["RuntimeConfig"]))
        items = root["properties"]["drivers"]["items"]
        self.kinds: dict[str, str] = dict(items["discriminator"]["mapping"])
        root["properties"]["drivers"]["items"] = {"type": "object", "required": ["kind"]}
        self.root = jsonschema_rs.validator_for({**root, "$defs": defs})
        self.drivers = {
            kind: jsonschema_rs.validator_for({"$ref": ref, "$defs": defs})
            for kind, ref in self.kinds.items()
        }
        modbus = defs[self.kinds["modbus"].rsplit("/", 1)[1]]
        options = defs[modbus["properties"]["options"]["$ref"].rsplit("/", 1)[1]]
        self.default_unit = int(options["properties"]["unit"]["default"])


@cache
def _schema() -> _Schema:
    return _Schema(json.loads(SCHEMA_FILE.read_bytes()))


def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _check(validator: Any, instance: Any, where: str, prefix: str = "$") -> None:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.instance_path)))
    if errors:
        error = errors[0]
        raise InvalidConfig(where, prefix + _path(error.instance_path)[1:], error.message)


def check_runtime_config(config: Mapping[str, Any], where: str) -> None:
    """Raise InvalidConfig (``where``, the JSON path, the reason) unless every device takes it."""
    schema = _schema()
    data = dict(config)
    _check(schema.root, data, where)
    drivers = data.get("drivers", [])
    for i, driver in enumerate(drivers):
        kind = driver["kind"]
        validator = schema.drivers.get(kind) if isinstance(kind, str) else None
        if validator is None:
            known = ", ".join(sorted(schema.kinds))
            raise InvalidConfig(
                where, f"$.drivers[{i}].kind", f"unknown driver kind {kind!r} (known: {known})"
            )
        _check(validator, driver, where, f"$.drivers[{i}]")
    facts = [
        DriverFacts(
            name=d["name"],
            kind=d["kind"],
            url=d["url"],
            metric_prefix=d.get("metric_prefix", ""),
            unit=d.get("options", {}).get("unit", schema.default_unit)
            if d["kind"] == "modbus"
            else None,
        )
        for d in drivers
    ]
    check_together(facts, where)
