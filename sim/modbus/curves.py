"""Scenario curves: how a simulated quantity moves over time.

``value(t) = baseline + drift * t + amplitude * sin(2π t / period) + spikes(t) + noise``,
frozen from ``stuck_at`` seconds on (a sensor stuck on one value). A curve is built from a
number (constant), a dict (the JSON scenario form) or directly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from govedge.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Spike:
    """A rectangular excursion of ``height`` from ``at`` for ``duration`` seconds."""

    at: float
    duration: float
    height: float

    def value(self, t: float) -> float:
        """``height`` while ``t`` is inside the spike, 0 outside it."""
        return self.height if self.at <= t < self.at + self.duration else 0.0


@dataclass(slots=True)
class Curve:
    """A quantity's course over time ``t`` (seconds since the simulator started)."""

    baseline: float
    noise: float = 0.0
    drift: float = 0.0
    amplitude: float = 0.0
    period: float = 86400.0
    spikes: tuple[Spike, ...] = ()
    stuck_at: float | None = None
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # noqa: S311 - reproducible simulated values, not security

    def clean(self, t: float) -> float:
        """The value at ``t`` without noise."""
        if self.stuck_at is not None and t >= self.stuck_at:
            t = self.stuck_at
        value = self.baseline + self.drift * t
        if self.amplitude and self.period > 0:
            value += self.amplitude * math.sin(2 * math.pi * t / self.period)
        return value + sum(spike.value(t) for spike in self.spikes)

    def value(self, t: float) -> float:
        """The value at ``t``: the clean course plus uniform noise (none once stuck)."""
        value = self.clean(t)
        if self.noise and not (self.stuck_at is not None and t >= self.stuck_at):
            value += self._rng.uniform(-self.noise, self.noise)
        return value


_CURVE_KEYS = {"baseline", "noise", "drift", "amplitude", "period", "spikes", "stuck_at", "seed"}


def curve_from(spec: Curve | float | int | Mapping[str, Any], where: str = "curve") -> Curve:
    """A Curve from a number, a Curve, or ``{"baseline": .., "noise": .., "spikes": [...]}``."""
    if isinstance(spec, Curve):
        return spec
    if isinstance(spec, bool):
        raise ConfigError(f"{where}: a number or an object is required")
    if isinstance(spec, int | float):
        return Curve(float(spec))
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: a number or an object is required")
    unknown = set(spec) - _CURVE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    if "baseline" not in spec:
        raise ConfigError(f"{where}: 'baseline' is required")
    try:
        spikes = tuple(
            Spike(float(s["at"]), float(s["duration"]), float(s["height"]))
            for s in spec.get("spikes", ())
        )
        stuck_at = spec.get("stuck_at")
        return Curve(
            baseline=float(spec["baseline"]),
            noise=float(spec.get("noise", 0.0)),
            drift=float(spec.get("drift", 0.0)),
            amplitude=float(spec.get("amplitude", 0.0)),
            period=float(spec.get("period", 86400.0)),
            spikes=spikes,
            stuck_at=None if stuck_at is None else float(stuck_at),
            seed=int(spec.get("seed", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: bad curve ({exc})") from None
