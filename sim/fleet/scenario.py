"""Scenarios as data: tracks that move values over scenario time and timed network events.

A scenario file (sim/scenarios/<name>.json)::

    {"name": "flood", "description": "...", "duration_s": 1800,
     "tracks": [{"select": {"kind": "river_gauge"}, "quantity": "water_level_m",
                 "points": [[0, 2.35], [600, 5.2]], "lag_per_device_s": 15}],
     "events": [{"at": 60, "action": "link_down", "select": {"district": "d1"}}],
     "expect": [{"select": {"kind": "river_gauge"}, "quantity": "water_level_m",
                 "above": 4.5, "by_s": 900}]}

A track's value at scenario time t for the k-th selected device is the piecewise-linear course
of ``points`` at ``t - k * lag_per_device_s`` (a flood wave travelling downstream). ``expect``
names what the scenario must make happen; tests check it against the values, and the hub's rules
turn it into alarms. Scenario time runs ``speed`` times faster than the wall clock.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from govedge.errors import GovedgeError
from sim.fleet.layout import SELECTOR_KEYS, FleetLayout, SimDeviceSpec

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
ACTIONS = frozenset(
    {"link_down", "link_up", "stick", "unstick", "event", "broker_restart", "reconnect_storm"}
)
SEVERITIES = frozenset({"critical", "major", "minor", "warning", "info"})


class ScenarioError(GovedgeError):
    """A scenario file is missing or does not fit the scenario format."""


class FleetTarget(Protocol):
    """What a scenario drives: a scale fleet, or fidelity-mode agents over simulators."""

    def specs(self) -> Sequence[SimDeviceSpec]:
        """The devices the scenario's selectors choose from."""
        ...

    def set_value(self, device_id: str, quantity: str, value: float) -> None:
        """Make the device read ``value`` for ``quantity`` until the next value, unless stuck."""
        ...

    def stick(self, device_id: str, quantity: str, stuck: bool) -> None:
        """Freeze ``quantity`` at its current reading (a stuck sensor), or let it move again."""
        ...

    def set_link(self, device_ids: Iterable[str], up: bool) -> None:
        """Cut the devices' link to the broker (their connections drop), or restore it."""
        ...

    def send_event(self, device_id: str, kind: str, severity: str, message: str) -> None:
        """Have the device raise an event; a target that cannot counts it as unsupported."""
        ...

    def reconnect_storm(self) -> None:
        """Drop every device's connection at the same instant; they reconnect on their own."""
        ...

    async def restart_broker(self, down_s: float) -> None:
        """Kill the broker, keep it down ``down_s`` seconds, then start it on the same port.

        Raises FleetError when the target did not start the broker itself.
        """
        ...


@dataclass(frozen=True, slots=True)
class Track:
    """A quantity's course over scenario time for the selected devices."""

    select: Mapping[str, Any]
    quantity: str
    points: tuple[tuple[float, float], ...]
    lag_per_device_s: float = 0.0

    def value(self, t: float, k: int = 0) -> float:
        """The course at scenario time ``t`` for the ``k``-th selected device."""
        t -= k * self.lag_per_device_s
        times = [p[0] for p in self.points]
        i = bisect.bisect_right(times, t)
        if i == 0:
            return self.points[0][1]
        if i == len(self.points):
            return self.points[-1][1]
        (t0, v0), (t1, v1) = self.points[i - 1], self.points[i]
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0)


@dataclass(frozen=True, slots=True)
class ScenarioEvent:
    """An action at a scenario time on the selected devices."""

    at: float
    action: str
    select: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the hub must see by a scenario time: a value out of bounds, or an alarm."""

    select: Mapping[str, Any]
    quantity: str
    above: float | None
    below: float | None
    by_s: float
    alarm: str = ""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named scenario: tracks, events and expectations."""

    name: str
    description: str
    duration_s: float
    tracks: tuple[Track, ...]
    events: tuple[ScenarioEvent, ...]
    expect: tuple[Expectation, ...]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "scenario") -> Scenario:
        """Build a scenario from its parsed JSON.

        Raises ScenarioError naming ``where`` (the file) and what does not fit the format.
        """
        try:
            return _parse(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise ScenarioError(f"{where}: {exc}") from None
        except ScenarioError as exc:
            raise ScenarioError(f"{where}: {exc}") from None


def _selector(raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise ScenarioError("'select' must be an object")
    unknown = set(raw) - SELECTOR_KEYS
    if unknown:
        raise ScenarioError(f"unknown selector key {sorted(unknown)[0]!r}")
    return dict(raw)


def _parse(raw: Mapping[str, Any]) -> Scenario:
    known = {"name", "description", "duration_s", "tracks", "events", "expect"}
    unknown = set(raw) - known
    if unknown:
        raise ScenarioError(f"unknown key {sorted(unknown)[0]!r}")
    duration = float(raw["duration_s"])
    if duration <= 0:
        raise ScenarioError("duration_s must be positive")
    tracks = []
    for i, t in enumerate(raw.get("tracks", [])):
        points = tuple((float(a), float(b)) for a, b in t["points"])
        if not points or any(b[0] <= a[0] for a, b in itertools.pairwise(points)):
            raise ScenarioError(f"track {i}: points need strictly increasing times")
        tracks.append(
            Track(
                _selector(t.get("select", {})),
                str(t["quantity"]),
                points,
                float(t.get("lag_per_device_s", 0.0)),
            )
        )
    events = []
    for i, e in enumerate(raw.get("events", [])):
        action = e["action"]
        if action not in ACTIONS:
            raise ScenarioError(f"event {i}: unknown action {action!r}")
        params = {k: v for k, v in e.items() if k not in ("at", "action", "select")}
        if action in ("stick", "unstick") and "quantity" not in params:
            raise ScenarioError(f"event {i}: {action} needs 'quantity'")
        if action == "event" and (
            "kind" not in params or params.get("severity", "info") not in SEVERITIES
        ):
            raise ScenarioError(f"event {i}: event needs 'kind' and a valid 'severity'")
        at = float(e["at"])
        if not 0 <= at <= duration:
            raise ScenarioError(f"event {i}: 'at' {at} is outside 0..duration_s")
        events.append(ScenarioEvent(at, action, _selector(e.get("select", {})), params))
    expect = []
    for x in raw.get("expect", []):
        expect.append(
            Expectation(
                _selector(x.get("select", {})),
                str(x["quantity"]),
                None if x.get("above") is None else float(x["above"]),
                None if x.get("below") is None else float(x["below"]),
                float(x["by_s"]),
                str(x.get("alarm", "")),
            )
        )
    return Scenario(
        str(raw["name"]),
        str(raw.get("description", "")),
        duration,
        tuple(tracks),
        tuple(sorted(events, key=lambda e: e.at)),
        tuple(expect),
    )


def scenario_names() -> list[str]:
    """The names of the scenarios shipped with the simulator."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.json"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A scenario by name (sim/scenarios/<name>.json) or by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise ScenarioError(
            f"no scenario {str(name_or_path)!r}; known: {', '.join(scenario_names())}"
        )
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: not JSON: {exc}") from None
    return Scenario.from_dict(raw, str(path))


class ScenarioPlayer:
    """Plays a scenario against a target: values every ``tick_s`` of wall time, events on time.

    ``await player.run()`` plays it once; ``await player.run_forever()`` restarts it (values,
    links and stuck sensors back to normal) each time it ends.
    """

    def __init__(
        self, scenario: Scenario, target: FleetTarget, speed: float = 1.0, tick_s: float = 0.5
    ) -> None:
        if speed <= 0:
            raise ScenarioError("speed must be positive")
        self.scenario = scenario
        self.target = target
        self.speed = speed
        self.tick_s = tick_s
        layout = FleetLayout(tuple(target.specs()))
        self._tracks = [(tr, layout.select(tr.select)) for tr in scenario.tracks]
        self._events = [(ev, layout.ids(layout.select(ev.select))) for ev in scenario.events]
        self._touched: set[tuple[str, str]] = set()
        self._down: set[str] = set()
        self._stuck: set[tuple[str, str]] = set()
        self._specs = layout.by_id()
        self.fired: list[tuple[float, str]] = []
        self.rounds = 0

    def values_at(self, t: float) -> dict[tuple[str, str], float]:
        """(device id, quantity) -> the value the scenario sets at scenario time ``t``."""
        return {
            (spec.device_id, track.quantity): track.value(t, k)
            for track, specs in self._tracks
            for k, spec in enumerate(specs)
        }

    def apply_values(self, t: float) -> None:
        """Set every track's value at scenario time ``t`` on the target."""
        for (device_id, quantity), value in self.values_at(t).items():
            self.target.set_value(device_id, quantity, value)
            self._touched.add((device_id, quantity))

    async def fire(self, event: ScenarioEvent, ids: list[str]) -> None:
        """Carry out ``event`` on the devices ``ids`` (already selected by the event's selector)."""
        p = event.params
        target = self.target
        if event.action == "link_down":
            target.set_link(ids, False)
            self._down.update(ids)
        elif event.action == "link_up":
            target.set_link(ids, True)
            self._down.difference_update(ids)
        elif event.action in ("stick", "unstick"):
            for device_id in ids:
                target.stick(device_id, p["quantity"], event.action == "stick")
                if event.action == "stick":
                    self._stuck.add((device_id, p["quantity"]))
                else:
                    self._stuck.discard((device_id, p["quantity"]))
        elif event.action == "event":
            for device_id in ids:
                target.send_event(
                    device_id, p["kind"], p.get("severity", "info"), p.get("message", "")
                )
        elif event.action == "reconnect_storm":
            target.reconnect_storm()
        elif event.action == "broker_restart":
            await target.restart_broker(float(p.get("down_s", 10.0)) / self.speed)
        self.fired.append((event.at, event.action))

    def reset(self) -> None:
        """Back to normal: baseline values, links up, no stuck sensor."""
        for device_id, quantity in self._stuck:
            self.target.stick(device_id, quantity, False)
        self._stuck.clear()
        if self._down:
            self.target.set_link(sorted(self._down), True)
            self._down.clear()
        for device_id, quantity in self._touched:
            base = self._specs[device_id].baseline.get(quantity)
            if base is not None:
                self.target.set_value(device_id, quantity, base)
        self._touched.clear()

    async def run(self) -> None:
        """Play the scenario once, from t = 0 to its duration."""
        start = time.monotonic()
        pending = list(self._events)
        while True:
            t = (time.monotonic() - start) * self.speed
            self.apply_values(min(t, self.scenario.duration_s))
            while pending and pending[0][0].at <= t:
                event, ids = pending.pop(0)
                await self.fire(event, ids)
            if t >= self.scenario.duration_s:
                break
            await asyncio.sleep(self.tick_s)
        self.rounds += 1

    async def run_forever(self) -> None:
        """Play the scenario again and again, back to normal between rounds (for the demo)."""
        while True:
            await self.run()
            self.reset()
            await asyncio.sleep(self.tick_s)
