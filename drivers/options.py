"""Options of a driver from a device config or from a plain mapping (tools, tests)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from drivers.spec import DriverOptions
from govedge.errors import ConfigError

T = TypeVar("T", bound=DriverOptions)


def options_of(
    spec: type[T], options: T | Mapping[str, Any], error: type[ConfigError] = ConfigError
) -> T:
    """``options`` as the driver's spec; ``error`` names the kind and the option at fault."""
    if isinstance(options, DriverOptions):
        if not isinstance(options, spec):
            raise error(f"{spec.KIND}: options are {type(options).__name__}, not {spec.__name__}")
        return options
    try:
        return msgspec.convert(dict(options), spec)
    except msgspec.ValidationError as exc:
        text, sep, at = str(exc).rpartition(" - at ")
        where = "options" + at.strip("`").removeprefix("$") if sep else "options"
        raise error(f"{spec.KIND}: {where}: {text if sep else exc}") from None


def same_named(options: DriverOptions, settings: type) -> dict[str, Any]:
    """The options that a settings dataclass of the driver's library takes under the same name."""
    return {
        f.name: getattr(options, f.name)
        for f in dataclasses.fields(settings)
        if f.name in options.__struct_fields__
    }
