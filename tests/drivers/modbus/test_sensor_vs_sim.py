"""The Modbus driver against the simulated bus over a real pty."""

from __future__ import annotations

import pytest

from drivers.base import PolledDriver
from drivers.modbus.errors import (
    ModbusCrcError,
    ModbusExceptionResponse,
    ModbusFrameError,
    ModbusTimeout,
)
from drivers.modbus.polled import create
from drivers.registry import create_driver
from govedge.health import HealthState
from sim.modbus import ModbusBusSimulator


def test_sht20_reads_30_5_and_54_6(bus_sim: ModbusBusSimulator) -> None:
    sensor = create(bus_sim.url, {"profile": "sht20", "unit": 1})
    assert isinstance(sensor, PolledDriver)
    sensor.open()
    try:
        assert sensor.poll() == {"temperature": 30.5, "humidity": 54.6}
        assert sensor.health().state is HealthState.ONLINE
    finally:
        sensor.close()


def test_registry_builds_the_modbus_driver(bus_sim: ModbusBusSimulator) -> None:
    driver = create_driver("modbus", bus_sim.url, {"profile": "sht20"})
    driver.open()
    try:
        assert driver.poll()["humidity"] == 54.6
    finally:
        driver.close()


def test_runtime_value_change_is_seen(bus_sim: ModbusBusSimulator) -> None:
    with create(bus_sim.url, {"profile": "sht20", "unit": 1}) as sensor:
        bus_sim.set_value(1, "temperature", -7.5)
        assert sensor.poll()["temperature"] == -7.5


def test_two_units_share_one_bus(bus_sim: ModbusBusSimulator) -> None:
    sht = create(bus_sim.url, {"profile": "sht20", "unit": 1})
    gauge = create(bus_sim.url, {"profile": "water_level", "unit": 2})
    sht.open()
    gauge.open()
    try:
        for _ in range(3):
            assert sht.poll()["temperature"] == 30.5
            assert gauge.poll() == {"water_level_m": 1.234}
    finally:
        gauge.close()
        sht.close()


def test_counters_for_each_kind_of_failure(bus_sim: ModbusBusSimulator) -> None:
    options = {"profile": "sht20", "unit": 1, "timeout": 0.15, "retries": 0}
    with create(bus_sim.url, options) as sensor:
        bus_sim.set_fault(1, "bad_crc", count=1)
        with pytest.raises(ModbusCrcError):
            sensor.poll()
        bus_sim.set_fault(1, "exception", code=4, count=1)
        with pytest.raises(ModbusExceptionResponse) as info:
            sensor.poll()
        assert info.value.code == 4
        assert sensor.health().state is HealthState.HARDWARE_ERROR
        bus_sim.set_fault(1, "silent", count=1)
        with pytest.raises(ModbusTimeout):
            sensor.poll()
        assert sensor.health().state is HealthState.OFFLINE
        bus_sim.set_fault(1, "wrong_unit", count=1)
        with pytest.raises(ModbusFrameError):
            sensor.poll()
        assert sensor.poll() == {"temperature": 30.5, "humidity": 54.6}
        report = sensor.health()
    assert report.state is HealthState.ONLINE
    assert report.counters["crc_errors"] == 1
    assert report.counters["exceptions"] == 1
    assert report.counters["timeouts"] == 1
    assert report.counters["frame_errors"] == 1
    assert report.counters["answers"] == 1
    assert report.errors == 4


def test_a_retry_recovers_from_one_bad_crc(bus_sim: ModbusBusSimulator) -> None:
    with create(bus_sim.url, {"profile": "sht20", "timeout": 0.15, "retries": 1}) as sensor:
        bus_sim.set_fault(1, "bad_crc", count=1)
        assert sensor.poll()["temperature"] == 30.5
        assert sensor.health().counters["crc_errors"] == 1
