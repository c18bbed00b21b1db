"""Alarm rules as data: parsing and validation of one rule definition (JSON object).

A rule says which devices it watches (``scope``: ids, model, site, labels; empty = every
device), what condition it looks for (``kind``) and how bad that is (``severity`` or escalation
``levels``). Every refusal is a :class:`RuleError` whose message names the offending key.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from govedge.contract import SEVERITIES as CONTRACT_SEVERITIES
from govedge.errors import ConfigError
from hub.errors import ValidationError
from hub.registry import DeviceInfo, Selector

SEVERITIES: Final[tuple[str, ...]] = tuple(reversed(CONTRACT_SEVERITIES))  # least severe first
RANK: Final[dict[str, int]] = {name: i for i, name in enumerate(SEVERITIES)}
KINDS: Final = ("threshold", "rate", "absence", "stuck", "offline", "composite")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_COMMON = {"name", "description", "kind", "scope", "enabled", "update_step", "update_interval_s"}
_KIND_KEYS: Final = {
    "threshold": {"metric", "direction", "levels", "for_s"},
    "rate": {"metric", "direction", "levels", "window_s", "per_s"},
    "absence": {"metric", "silent_s", "severity"},
    "stuck": {"metric", "for_s", "tolerance", "severity"},
    "offline": {"for_s", "severity"},
    "composite": {"conditions", "window_s", "severity"},
}


class RuleError(ValidationError):
    """A rule definition is invalid; the message names the rule and the key."""


@dataclass(frozen=True, slots=True)
class Level:
    """One escalation step: raise past ``raise_at``, stay until back past ``clear_at``."""

    severity: str
    raise_at: float
    clear_at: float


@dataclass(frozen=True, slots=True)
class Condition:
    """One leg of a composite rule: ``metric`` above or below ``value``."""

    metric: str
    above: bool
    value: float

    def holds(self, v: float) -> bool:
        """Whether ``v`` is strictly beyond the threshold in this leg's direction."""
        return v > self.value if self.above else v < self.value


@dataclass(frozen=True, slots=True)
class Rule:
    """A validated rule. ``definition`` is the JSON as stored (without id and enabled)."""

    id: str
    kind: str
    name: str = ""
    scope: Selector = field(default_factory=Selector)
    enabled: bool = True
    metric: str = ""
    above: bool = True
    levels: tuple[Level, ...] = ()
    severity: str = "major"
    for_s: float = 0.0
    window_s: float = 60.0
    per_s: float = 60.0
    silent_s: float = 60.0
    tolerance: float = 0.0
    conditions: tuple[Condition, ...] = ()
    update_step: float = 0.0
    update_interval_s: float = 60.0
    definition: dict[str, Any] = field(default_factory=dict)

    def applies_to(self, dev: DeviceInfo) -> bool:
        """Whether the rule watches this device: every device when its scope is empty."""
        return self.scope.is_empty() or self.scope.matches(dev)

    def as_dict(self) -> dict[str, Any]:
        """The rule as the API shows it: the stored definition with its id and enabled flag."""
        return {"id": self.id, "enabled": self.enabled, **self.definition}


def _num(rid: str, key: str, value: Any, *, lo: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RuleError(f"rule {rid!r}: {key} must be a finite number")
    if lo is not None and value < lo:
        raise RuleError(f"rule {rid!r}: {key} must be at least {lo:g}")
    return float(value)


def _str(rid: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 128:
        raise RuleError(f"rule {rid!r}: {key} must be a non-empty string (at most 128 chars)")
    return value


def _severity(rid: str, key: str, value: Any) -> str:
    if value not in SEVERITIES:
        raise RuleError(f"rule {rid!r}: {key} must be one of {', '.join(SEVERITIES)}")
    return str(value)


def _scope(rid: str, data: Any) -> Selector:
    if data is None:
        return Selector()
    if not isinstance(data, dict):
        raise RuleError(f"rule {rid!r}: scope must be an object")
    unknown = set(data) - {"ids", "model", "site", "labels"}
    if unknown:
        raise RuleError(f"rule {rid!r}: scope: unknown key {sorted(unknown)[0]!r}")
    ids = data.get("ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise RuleError(f"rule {rid!r}: scope.ids must be a list of device ids")
    labels = data.get("labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise RuleError(f"rule {rid!r}: scope.labels must be an object of strings")
    for key in ("model", "site"):
        if not isinstance(data.get(key, ""), str):
            raise RuleError(f"rule {rid!r}: scope.{key} must be a string")
    return Selector(
        tuple(ids),
        str(data.get("model") or ""),
        str(data.get("site") or ""),
        tuple(sorted((str(k), str(v)) for k, v in labels.items())),
    )


def _direction(rid: str, value: Any) -> bool:
    if value not in ("above", "below"):
        raise RuleError(f"rule {rid!r}: direction must be 'above' or 'below'")
    return bool(value == "above")


def _levels(rid: str, data: Any, above: bool) -> tuple[Level, ...]:
    if not isinstance(data, list) or not data or len(data) > len(SEVERITIES):
        raise RuleError(f"rule {rid!r}: levels must be a list of 1 to 5 levels")
    out: list[Level] = []
    for i, item in enumerate(data):
        key = f"levels[{i}]"
        if not isinstance(item, dict):
            raise RuleError(f"rule {rid!r}: {key} must be an object")
        unknown = set(item) - {"severity", "raise", "clear"}
        if unknown:
            raise RuleError(f"rule {rid!r}: {key}: unknown key {sorted(unknown)[0]!r}")
        if "raise" not in item:
            raise RuleError(f"rule {rid!r}: {key}.raise is required")
        sev = _severity(rid, f"{key}.severity", item.get("severity"))
        raise_at = _num(rid, f"{key}.raise", item["raise"])
        clear_at = _num(rid, f"{key}.clear", item.get("clear", raise_at))
        if (above and clear_at > raise_at) or (not above and clear_at < raise_at):
            side = "above" if above else "below"
            raise RuleError(
                f"rule {rid!r}: {key}.clear must not be {side} {key}.raise (hysteresis)"
            )
        if out:
            prev = out[-1]
            if RANK[sev] <= RANK[prev.severity]:
                raise RuleError(f"rule {rid!r}: {key}.severity must be worse than the level before")
            if (above and raise_at <= prev.raise_at) or (not above and raise_at >= prev.raise_at):
                word = "higher" if above else "lower"
                raise RuleError(f"rule {rid!r}: {key}.raise must be {word} than the level before")
        out.append(Level(sev, raise_at, clear_at))
    return tuple(out)


def _conditions(rid: str, data: Any) -> tuple[Condition, ...]:
    if not isinstance(data, list) or len(data) < 2 or len(data) > 8:
        raise RuleError(f"rule {rid!r}: conditions must be a list of 2 to 8 conditions")
    out = []
    for i, item in enumerate(data):
        key = f"conditions[{i}]"
        if not isinstance(item, dict):
            raise RuleError(f"rule {rid!r}: {key} must be an object")
        unknown = set(item) - {"metric", "above", "below"}
        if unknown:
            raise RuleError(f"rule {rid!r}: {key}: unknown key {sorted(unknown)[0]!r}")
        metric = _str(rid, f"{key}.metric", item.get("metric"))
        if ("above" in item) == ("below" in item):
            raise RuleError(f"rule {rid!r}: {key} needs exactly one of 'above' or 'below'")
        side = "above" if "above" in item else "below"
        out.append(Condition(metric, side == "above", _num(rid, f"{key}.{side}", item[side])))
    return tuple(out)


def parse_rule(data: Any, rule_id: str | None = None) -> Rule:
    """Validate one definition. ``rule_id`` (from the URL) wins over an ``id`` in the body."""
    if not isinstance(data, dict):
        raise RuleError("a rule must be a JSON object")
    rid = rule_id if rule_id is not None else data.get("id")
    if not isinstance(rid, str) or not _ID.match(rid):
        raise RuleError(f"rule id {rid!r} must be 1-64 letters, digits, '.', '_' or '-' (key 'id')")
    if "id" in data and data["id"] != rid:
        raise RuleError(f"rule {rid!r}: id in the body ({data['id']!r}) differs from the URL")
    kind = data.get("kind")
    if kind not in KINDS:
        raise RuleError(f"rule {rid!r}: kind must be one of {', '.join(KINDS)}")
    allowed = _COMMON | _KIND_KEYS[kind] | {"id"}
    unknown = set(data) - allowed
    if unknown:
        raise RuleError(f"rule {rid!r}: unknown key {sorted(unknown)[0]!r} for kind {kind!r}")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError(f"rule {rid!r}: enabled must be true or false")
    name = data.get("name", rid)
    if not isinstance(name, str) or len(name) > 200:
        raise RuleError(f"rule {rid!r}: name must be a string (at most 200 chars)")
    kw: dict[str, Any] = {
        "id": rid,
        "kind": kind,
        "name": name,
        "scope": _scope(rid, data.get("scope")),
        "enabled": enabled,
        "update_step": _num(rid, "update_step", data.get("update_step", 0.0), lo=0),
        "update_interval_s": _num(
            rid, "update_interval_s", data.get("update_interval_s", 60.0), lo=0
        ),
    }
    if kind in ("threshold", "rate"):
        if "metric" not in data:
            raise RuleError(f"rule {rid!r}: metric is required for kind {kind!r}")
        kw["metric"] = _str(rid, "metric", data["metric"])
        kw["above"] = _direction(rid, data.get("direction", "above"))
        if "levels" not in data:
            raise RuleError(f"rule {rid!r}: levels is required for kind {kind!r}")
        kw["levels"] = _levels(rid, data["levels"], kw["above"])
        if kind == "threshold":
            kw["for_s"] = _num(rid, "for_s", data.get("for_s", 0.0), lo=0)
        else:
            kw["window_s"] = _num(rid, "window_s", data.get("window_s", 60.0), lo=0.001)
            kw["per_s"] = _num(rid, "per_s", data.get("per_s", 60.0), lo=0.001)
    elif kind == "absence":
        if "metric" in data:
            kw["metric"] = _str(rid, "metric", data["metric"])
        if "silent_s" not in data:
            raise RuleError(f"rule {rid!r}: silent_s is required for kind 'absence'")
        kw["silent_s"] = _num(rid, "silent_s", data["silent_s"], lo=0.001)
    elif kind == "stuck":
        # A flat line: the value has not moved by more than ``tolerance`` for ``for_s``.
        if "metric" not in data:
            raise RuleError(f"rule {rid!r}: metric is required for kind 'stuck'")
        kw["metric"] = _str(rid, "metric", data["metric"])
        if "for_s" not in data:
            raise RuleError(f"rule {rid!r}: for_s is required for kind 'stuck'")
        kw["for_s"] = _num(rid, "for_s", data["for_s"], lo=0.001)
        kw["tolerance"] = _num(rid, "tolerance", data.get("tolerance", 0.0), lo=0)
    elif kind == "offline":
        kw["for_s"] = _num(rid, "for_s", data.get("for_s", 0.0), lo=0)
    else:
        if "conditions" not in data:
            raise RuleError(f"rule {rid!r}: conditions is required for kind 'composite'")
        kw["conditions"] = _conditions(rid, data["conditions"])
        if "window_s" not in data:
            raise RuleError(f"rule {rid!r}: window_s is required for kind 'composite'")
        kw["window_s"] = _num(rid, "window_s", data["window_s"], lo=0.001)
    if kind in ("absence", "stuck", "offline", "composite"):
        kw["severity"] = _severity(rid, "severity", data.get("severity", "major"))
    kw["definition"] = {k: v for k, v in data.items() if k not in ("id", "enabled")}
    return Rule(**kw)


def load_rule_files(path: str | Path) -> list[Rule]:
    """Rules from a JSON file or every ``*.json`` of a directory (sorted by name).

    A file holds one rule object, a list of them, or ``{"rules": [...]}``. A bad file is a
    ConfigError naming the file and the key.
    """
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    out: list[Rule] = []
    seen: dict[str, Path] = {}
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{file}: cannot read rules: {exc}") from None
        if isinstance(data, Mapping) and "rules" in data:
            data = data["rules"]
        items = data if isinstance(data, list) else [data]
        for item in items:
            try:
                rule = parse_rule(item)
            except RuleError as exc:
                raise ConfigError(f"{file}: {exc}") from None
            if rule.id in seen:
                raise ConfigError(f"{file}: rule {rule.id!r} is also defined in {seen[rule.id]}")
            seen[rule.id] = file
            out.append(rule)
    return out
