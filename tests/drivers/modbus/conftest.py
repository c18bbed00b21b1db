"""Fixtures: a simulated sensor bus on a real pty."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sim.modbus import ModbusBusSimulator, SimDevice


@pytest.fixture
def bus_sim() -> Iterator[ModbusBusSimulator]:
    """An sht20 at unit 1 (30.5 °C, 54.6 %RH) and a water-level gauge at unit 2 (1.234 m)."""
    sim = ModbusBusSimulator(
        devices=[
            SimDevice(unit=1, profile="sht20", curves={"temperature": 30.5, "humidity": 54.6}),
            SimDevice(unit=2, profile="water_level", curves={"water_level_m": 1.234}),
        ]
    )
    sim.start()
    yield sim
    sim.stop()
