"""Scenario files: each validates, and each has the effect on values and links it claims."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from sim.fleet import FleetLayout, ScenarioError, ScenarioPlayer, load_scenario
from sim.fleet.layout import SimDeviceSpec
from sim.fleet.scenario import SCENARIO_DIR, Scenario, scenario_names

EXPECTED = {
    "air_pollution",
    "broker_restart",
    "district_link_loss",
    "fire",
    "flood",
    "printer_paper_out",
    "reconnect_storm",
    "stuck_sensor",
}


class RecordingTarget:
    """A scenario target that records what it is told (the scale fleet is tested on the wire)."""

    def __init__(self, layout: FleetLayout) -> None:
        self.layout = layout
        self.values: dict[tuple[str, str], float] = {}
        self.stuck: set[tuple[str, str]] = set()
        self.down: set[str] = set()
        self.log: list[tuple[str, object]] = []

    def specs(self) -> Sequence[SimDeviceSpec]:
        return self.layout.devices

    def set_value(self, device_id: str, quantity: str, value: float) -> None:
        if (device_id, quantity) not in self.stuck:
            self.values[device_id, quantity] = value

    def stick(self, device_id: str, quantity: str, stuck: bool) -> None:
        (self.stuck.add if stuck else self.stuck.discard)((device_id, quantity))
        self.log.append(("stick" if stuck else "unstick", device_id))

    def set_link(self, device_ids: Iterable[str], up: bool) -> None:
        ids = set(device_ids)
        (self.down.difference_update if up else self.down.update)(ids)
        self.log.append(("link_up" if up else "link_down", len(ids)))

    def send_event(self, device_id: str, kind: str, severity: str, message: str) -> None:
        self.log.append(("event", (device_id, kind, severity)))

    def reconnect_storm(self) -> None:
        self.log.append(("storm", None))

    async def restart_broker(self, down_s: float) -> None:
        self.log.append(("restart", down_s))


LAYOUT = FleetLayout.generate(200)


def test_every_scenario_is_there_and_validates() -> None:
    assert set(scenario_names()) >= EXPECTED
    for name in scenario_names():
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.description
        for track in scenario.tracks:
            assert LAYOUT.select(track.select), f"{name}: a track selects no device"
        for event in scenario.events:
            if event.action not in ("broker_restart", "reconnect_storm"):
                assert LAYOUT.select(event.select), f"{name}: an event selects no device"


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if load_scenario(n).expect))
def test_expectations_are_met_by_the_values(name: str) -> None:
    scenario = load_scenario(name)
    player = ScenarioPlayer(scenario, RecordingTarget(LAYOUT))
    for x in scenario.expect:
        spec = LAYOUT.select(x.select)[0]
        before = player.values_at(0)[spec.device_id, x.quantity]
        after = player.values_at(x.by_s)[spec.device_id, x.quantity]
        if x.above is not None:
            assert before < x.above <= after
        if x.below is not None:
            assert before > x.below >= after


def test_flood_wave_travels_downstream() -> None:
    player = ScenarioPlayer(load_scenario("flood"), RecordingTarget(LAYOUT))
    gauges = LAYOUT.select({"kind": "river_gauge"})
    values = player.values_at(600)
    levels = [values[g.device_id, "water_level_m"] for g in gauges]
    assert levels == sorted(levels, reverse=True)  # upstream first, highest
    assert levels[0] > 4.5 > levels[-1]


def test_fire_stays_in_one_building() -> None:
    player = ScenarioPlayer(load_scenario("fire"), RecordingTarget(LAYOUT))
    values = player.values_at(300)
    sites = {LAYOUT.by_id()[dev].site for dev, _ in values}
    assert sites == {"d0-bldg-0"}


def test_air_pollution_covers_one_district() -> None:
    player = ScenarioPlayer(load_scenario("air_pollution"), RecordingTarget(LAYOUT))
    touched = {dev for dev, _ in player.values_at(1500)}
    assert touched == set(LAYOUT.ids(LAYOUT.select({"kind": "air_station", "district": "d0"})))


async def _play(name: str) -> tuple[RecordingTarget, ScenarioPlayer]:
    scenario = load_scenario(name)
    target = RecordingTarget(LAYOUT)
    player = ScenarioPlayer(scenario, target, speed=scenario.duration_s / 0.3, tick_s=0.01)
    await player.run()
    return target, player


async def test_district_link_loss_takes_the_district_down_then_up() -> None:
    target, player = await _play("district_link_loss")
    district = len(LAYOUT.select({"district": "d0"}))
    assert ("link_down", district) in target.log
    assert target.log[-1] == ("link_up", district)
    assert not target.down
    assert [a for _, a in player.fired] == ["link_down", "link_up"]


async def test_stuck_sensor_sticks_then_releases_one_gauge() -> None:
    target, _ = await _play("stuck_sensor")
    first = LAYOUT.select({"kind": "river_gauge"})[0].device_id
    assert ("stick", first) in target.log and ("unstick", first) in target.log


async def test_printer_paper_out_sends_the_event_and_the_value() -> None:
    scenario = load_scenario("printer_paper_out")
    target = RecordingTarget(LAYOUT)
    player = ScenarioPlayer(scenario, target)
    kiosk = LAYOUT.select({"kind": "kiosk"})[0].device_id
    player.apply_values(300)
    assert target.values[kiosk, "paper_out"] == 1
    target, _ = await _play("printer_paper_out")
    assert ("event", (kiosk, "paper_out", "major")) in target.log


async def test_network_scenarios_call_the_broker_actions() -> None:
    target, _ = await _play("broker_restart")
    restarts = [v for k, v in target.log if k == "restart"]
    assert len(restarts) == 1 and isinstance(restarts[0], float) and restarts[0] < 1
    target, _ = await _play("reconnect_storm")
    assert ("storm", None) in target.log


async def test_reset_brings_values_and_links_back() -> None:
    target = RecordingTarget(LAYOUT)
    player = ScenarioPlayer(load_scenario("flood"), target)
    player.apply_values(900)
    player.reset()
    gauge = LAYOUT.select({"kind": "river_gauge"})[0].device_id
    assert target.values[gauge, "water_level_m"] == 2.35


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"events": [{"at": 1, "action": "explode"}]}, "unknown action"),
        ({"tracks": [{"quantity": "x", "points": [[5, 1], [5, 2]]}]}, "strictly increasing"),
        ({"events": [{"at": 1, "action": "link_down", "select": {"city": "x"}}]}, "selector key"),
        ({"events": [{"at": 99, "action": "reconnect_storm"}]}, "outside"),
        ({"events": [{"at": 1, "action": "stick"}]}, "needs 'quantity'"),
        ({"colour": "red"}, "unknown key"),
    ],
)
def test_bad_scenarios_are_refused_with_the_reason(change: dict[str, object], message: str) -> None:
    raw: dict[str, object] = {"name": "x", "duration_s": 10, **change}
    with pytest.raises(ScenarioError, match=message):
        Scenario.from_dict(raw)


def test_unknown_scenario_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="flood"):
        load_scenario("tsunami")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ScenarioError, match="not JSON"):
        load_scenario(bad)
    assert json.loads((SCENARIO_DIR / "flood.json").read_text())["name"] == "flood"
