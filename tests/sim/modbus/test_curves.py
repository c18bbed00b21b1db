"""Scenario curves: baseline, noise, drift, spike, stuck value; the JSON form."""

from __future__ import annotations

import pytest

from govedge.errors import ConfigError
from sim.modbus import Curve, Spike
from sim.modbus.curves import curve_from


def test_baseline_drift_spike() -> None:
    curve = Curve(20.0, drift=0.5, spikes=(Spike(at=10.0, duration=2.0, height=30.0),))
    assert curve.value(0.0) == 20.0
    assert curve.value(4.0) == 22.0
    assert curve.value(10.0) == 55.0
    assert curve.value(11.9) == pytest.approx(55.95)
    assert curve.value(12.0) == 26.0


def test_noise_is_bounded_and_seeded() -> None:
    first, second = Curve(50.0, noise=1.0, seed=7), Curve(50.0, noise=1.0, seed=7)
    a = [first.value(t) for t in range(100)]
    b = [second.value(t) for t in range(100)]
    assert a == b
    assert all(49.0 <= v <= 51.0 for v in a)
    assert len(set(a)) > 50


def test_stuck_freezes_the_value_and_drops_noise() -> None:
    curve = Curve(10.0, noise=0.5, drift=1.0, stuck_at=5.0)
    assert {curve.value(t) for t in (5.0, 6.0, 100.0)} == {15.0}


def test_daily_cycle() -> None:
    curve = Curve(20.0, amplitude=5.0, period=86400.0)
    assert curve.value(21600.0) == pytest.approx(25.0)


def test_curve_from_json_forms() -> None:
    assert curve_from(3).value(99) == 3.0
    curve = curve_from({"baseline": 1, "spikes": [{"at": 0, "duration": 1, "height": 2}]})
    assert curve.value(0.5) == 3.0
    with pytest.raises(ConfigError, match="'baseline' is required"):
        curve_from({"noise": 1})
    with pytest.raises(ConfigError, match="unknown key 'bogus'"):
        curve_from({"baseline": 1, "bogus": 2})
    with pytest.raises(ConfigError, match="bad curve"):
        curve_from({"baseline": 1, "spikes": [{"at": 0}]})
    with pytest.raises(ConfigError):
        curve_from("x")  # type: ignore[arg-type]
