"""Sensor profiles: which register holds which quantity, and how to turn words into a value.

A profile is a JSON file in ``drivers/modbus/profiles/`` (or any path ending in ``.json``)::

    {"name": "sht20", "description": "...",
     "quantities": {
        "temperature": {"register": 1, "function": 4, "scale": 0.1, "signed": true, "unit": "°C"},
        "level": {"register": 0, "function": 3, "scale": 0.001, "words": 2,
                  "word_order": "high_first", "unit": "m"}}}

``value = raw * scale + offset``; ``signed`` reads the raw integer as two's complement;
``words`` is 1 (16 bit) or 2 (32 bit, ``word_order`` high_first or low_first);
``stuck_check`` false exempts a quantity (an alarm flag) from the stuck-value check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from drivers.modbus.errors import ModbusConfigError
from drivers.modbus.rtu import MAX_READ_COUNT, READ_FUNCTIONS

PROFILE_DIR = Path(__file__).parent / "profiles"
_QUANTITY_KEYS = {
    "register",
    "function",
    "scale",
    "offset",
    "signed",
    "words",
    "word_order",
    "unit",
    "stuck_check",
    "description",
}


@dataclass(frozen=True, slots=True)
class Quantity:
    """One measured quantity of a sensor and where it lives."""

    name: str
    register: int
    function: int = 4
    scale: float = 1.0
    offset: float = 0.0
    signed: bool = False
    words: int = 1
    word_order: str = "high_first"
    unit: str = ""
    stuck_check: bool = True

    @property
    def bits(self) -> int:
        """The raw value's width: 16 bits per register."""
        return 16 * self.words

    def decode(self, words: list[int]) -> float:
        """The value carried by this quantity's ``words`` registers."""
        if self.words == 2 and self.word_order == "low_first":
            raw = words[1] << 16 | words[0]
        else:
            raw = 0
            for word in words[: self.words]:
                raw = raw << 16 | word
        if self.signed and raw >= 1 << (self.bits - 1):
            raw -= 1 << self.bits
        value = raw * self.scale + self.offset
        return round(value, _decimals(self.scale))

    def encode(self, value: float) -> list[int]:
        """The registers a device would hold for ``value`` (saturated to the register range)."""
        raw = round((value - self.offset) / self.scale)
        low, high = (-(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1)
        if not self.signed:
            low, high = 0, (1 << self.bits) - 1
        raw = max(low, min(high, raw)) & ((1 << self.bits) - 1)
        if self.words == 1:
            return [raw]
        hi_word, lo_word = raw >> 16, raw & 0xFFFF
        return [lo_word, hi_word] if self.word_order == "low_first" else [hi_word, lo_word]


@dataclass(frozen=True, slots=True)
class Block:
    """Contiguous registers of one function read in one request."""

    function: int
    address: int
    count: int
    quantities: tuple[Quantity, ...]


@dataclass(frozen=True, slots=True)
class Profile:
    """A sensor model: its quantities and the requests that read them."""

    name: str
    description: str
    quantities: tuple[Quantity, ...]

    def quantity(self, name: str) -> Quantity:
        """The quantity called ``name``; ModbusConfigError if the profile has none."""
        for quantity in self.quantities:
            if quantity.name == name:
                return quantity
        raise ModbusConfigError(f"profile {self.name!r} has no quantity {name!r}")

    def blocks(self) -> list[Block]:
        """Group quantities into as few reads as possible (contiguous registers only)."""
        blocks: list[Block] = []
        ordered = sorted(self.quantities, key=lambda q: (q.function, q.register))
        for quantity in ordered:
            last = blocks[-1] if blocks else None
            if (
                last is not None
                and last.function == quantity.function
                and last.address + last.count == quantity.register
                and last.count + quantity.words <= MAX_READ_COUNT
            ):
                blocks[-1] = Block(
                    last.function,
                    last.address,
                    last.count + quantity.words,
                    (*last.quantities, quantity),
                )
            else:
                blocks.append(
                    Block(quantity.function, quantity.register, quantity.words, (quantity,))
                )
        return blocks

    def decode_block(self, block: Block, registers: list[int]) -> dict[str, float]:
        """The values of the block's quantities from the registers one read of ``block``
        returned."""
        values: dict[str, float] = {}
        for quantity in block.quantities:
            start = quantity.register - block.address
            values[quantity.name] = quantity.decode(registers[start : start + quantity.words])
        return values


def _decimals(scale: float) -> int:
    text = f"{scale:.10f}".rstrip("0")
    return max(0, len(text.split(".")[1])) if "." in text else 0


def available_profiles() -> list[str]:
    """Names of the profiles shipped with the driver."""
    return sorted(path.stem for path in PROFILE_DIR.glob("*.json"))


def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name (``sht20``) or a profile file by path."""
    if name_or_path.endswith(".json") or "/" in name_or_path:
        path = Path(name_or_path)
    else:
        path = PROFILE_DIR / f"{name_or_path}.json"
        if not path.is_file():
            known = ", ".join(available_profiles())
            raise ModbusConfigError(f"unknown Modbus profile {name_or_path!r}; known: {known}")
    return _load_path(str(path.resolve()))


@cache
def _load_path(path: str) -> Profile:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModbusConfigError(f"no profile file {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModbusConfigError(f"cannot read profile {path}: {exc}") from None
    return parse_profile(data, source=path)


def parse_profile(data: Any, source: str = "<profile>") -> Profile:
    """Validate a profile document; every error names the file and key."""
    if not isinstance(data, dict):
        raise ModbusConfigError(f"{source}: a profile is a JSON object")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ModbusConfigError(f"{source}: 'name' must be a non-empty string")
    raw_quantities = data.get("quantities")
    if not isinstance(raw_quantities, dict) or not raw_quantities:
        raise ModbusConfigError(f"{source}: 'quantities' must be a non-empty object")
    quantities = tuple(
        _parse_quantity(qname, spec, f"{source}: quantities.{qname}")
        for qname, spec in raw_quantities.items()
    )
    _check_overlaps(quantities, source)
    return Profile(name, str(data.get("description", "")), quantities)


def _parse_quantity(name: str, spec: Any, where: str) -> Quantity:
    if not isinstance(spec, dict):
        raise ModbusConfigError(f"{where}: must be an object")
    unknown = set(spec) - _QUANTITY_KEYS
    if unknown:
        raise ModbusConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    register = spec.get("register")
    if not isinstance(register, int) or isinstance(register, bool) or not 0 <= register <= 0xFFFF:
        raise ModbusConfigError(f"{where}.register: an integer 0..65535 is required")
    function = spec.get("function", 4)
    if function not in READ_FUNCTIONS:
        raise ModbusConfigError(f"{where}.function: 3 (holding) or 4 (input), not {function!r}")
    words = spec.get("words", 1)
    if words not in (1, 2):
        raise ModbusConfigError(f"{where}.words: 1 or 2, not {words!r}")
    word_order = spec.get("word_order", "high_first")
    if word_order not in ("high_first", "low_first"):
        raise ModbusConfigError(f"{where}.word_order: high_first or low_first")
    scale = spec.get("scale", 1.0)
    offset = spec.get("offset", 0.0)
    for key, value in (("scale", scale), ("offset", offset)):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ModbusConfigError(f"{where}.{key}: a number is required")
    if scale == 0:
        raise ModbusConfigError(f"{where}.scale: must not be 0")
    if register + words - 1 > 0xFFFF:
        raise ModbusConfigError(f"{where}.register: runs past register 65535")
    return Quantity(
        name=name,
        register=register,
        function=function,
        scale=float(scale),
        offset=float(offset),
        signed=bool(spec.get("signed", False)),
        words=words,
        word_order=word_order,
        unit=str(spec.get("unit", "")),
        stuck_check=bool(spec.get("stuck_check", True)),
    )


def _check_overlaps(quantities: tuple[Quantity, ...], source: str) -> None:
    owner: dict[tuple[int, int], str] = {}
    for quantity in quantities:
        for register in range(quantity.register, quantity.register + quantity.words):
            key = (quantity.function, register)
            if key in owner:
                raise ModbusConfigError(
                    f"{source}: {quantity.name} and {owner[key]} share register {register} "
                    f"of function {quantity.function}"
                )
            owner[key] = quantity.name
