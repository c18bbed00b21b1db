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
    options = {"profile": "sht20", "unit": 1, "timeout": 0.3, "retries": 0}
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
    with create(bus_sim.url, {"profile": "sht20", "timeout": 0.3, "retries": 1}) as sensor:
        bus_sim.set_fault(1, "bad_crc", count=1)
        assert sensor.poll()["temperature"] == 30.5
        assert sensor.health().counters["crc_errors"] == 1


def test_five_sensor_kinds_on_one_bus_polled_from_threads() -> None:
    import threading

    from sim.modbus import SimDevice

    devices = [
        SimDevice(1, "sht20", {"temperature": 21.3, "humidity": 40.0}),
        SimDevice(2, "air_quality", {"pm2_5": 75, "co": 1.25, "temperature": -3.5}),
        SimDevice(3, "noise", {"noise_db": 68.4}),
        SimDevice(4, "water_level", {"water_level_m": 3.217}),
        SimDevice(5, "smoke", {"smoke_alarm": 1, "obscuration": 4.5}),
    ]
    expected = {
        1: {"temperature": 21.3, "humidity": 40.0},
        2: {"pm2_5": 75.0, "co": 1.25, "temperature": -3.5, "so2": 0.0},
        3: {"noise_db": 68.4},
        4: {"water_level_m": 3.217},
        5: {"smoke_alarm": 1.0, "obscuration": 4.5},
    }
    results: dict[int, list[dict[str, float]]] = {}
    with ModbusBusSimulator(devices) as sim:
        sensors = [create(sim.url, {"profile": d.profile.name, "unit": d.unit}) for d in devices]
        for sensor in sensors:
            sensor.open()

        def run(sensor: object) -> None:
            assert isinstance(sensor, type(sensors[0]))
            results[sensor.unit] = [sensor.poll() for _ in range(5)]

        threads = [threading.Thread(target=run, args=(s,)) for s in sensors]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        for sensor in sensors:
            sensor.close()
    for unit, wanted in expected.items():
        assert len(results[unit]) == 5
        for reading in results[unit]:
            assert {k: reading[k] for k in wanted} == wanted
    assert sum(s.health().counters["answers"] for s in sensors) == 25


def test_stuck_value_is_flagged_and_cleared(bus_sim: ModbusBusSimulator) -> None:
    now = [0.0]
    from drivers.modbus.profiles import load_profile
    from drivers.modbus.sensor import ModbusSensor

    sensor = ModbusSensor(
        bus_sim.url, load_profile("sht20"), 1, stuck_after_s=600, clock=lambda: now[0]
    )
    with sensor:
        sensor.poll()
        now[0] = 599.0
        sensor.poll()
        assert sensor.health().state is HealthState.ONLINE
        now[0] = 600.0
        sensor.poll()
        report = sensor.health()
        assert report.state is HealthState.HARDWARE_ERROR
        assert "temperature at 30.5" in report.detail and "humidity at 54.6" in report.detail
        assert report.counters["stuck"] == 2
        assert set(sensor.stuck_quantities) == {"temperature", "humidity"}
        bus_sim.set_value(1, "temperature", 30.6)
        now[0] = 700.0
        sensor.poll()
        assert set(sensor.stuck_quantities) == {"humidity"}
        bus_sim.set_curve(1, "humidity", {"baseline": 50.0, "drift": 0.5})
        now[0] = 701.0
        sensor.poll()
        assert sensor.health().state is HealthState.ONLINE
        assert sensor.health().counters["stuck"] == 2


def test_stuck_curve_over_the_wire_with_a_short_limit() -> None:
    import time

    from sim.modbus import Curve, SimDevice

    noisy = Curve(25.0, noise=2.0, stuck_at=0.0)  # stuck from the start: noise is gone
    with ModbusBusSimulator([SimDevice(1, "sht20", {"temperature": noisy, "humidity": 50})]) as sim:
        options = {"profile": "sht20", "stuck_after_s": 0.05}
        with create(sim.url, options) as sensor:
            sensor.poll()
            time.sleep(0.06)
            sensor.poll()
            assert "temperature" in sensor.stuck_quantities


def test_alarm_flags_are_not_checked_for_stuck() -> None:
    from sim.modbus import SimDevice

    with ModbusBusSimulator([SimDevice(9, "smoke", {"obscuration": 0.1})]) as sim:
        now = [0.0]
        from drivers.modbus.profiles import load_profile
        from drivers.modbus.sensor import ModbusSensor

        sensor = ModbusSensor(
            sim.url, load_profile("smoke"), 9, stuck_after_s=1, clock=lambda: now[0]
        )
        with sensor:
            sensor.poll()
            now[0] = 10.0
            sensor.poll()
            assert list(sensor.stuck_quantities) == ["obscuration"]


def test_exception_for_unmapped_registers_and_absent_unit(bus_sim: ModbusBusSimulator) -> None:
    import json

    from drivers.modbus.errors import ModbusTimeout

    # A noise-meter profile asks holding register 0, which the sht20 does not have.
    with create(bus_sim.url, {"profile": "noise", "unit": 1, "retries": 0}) as wrong:
        with pytest.raises(ModbusExceptionResponse) as info:
            wrong.poll()
        assert info.value.code == 2
    with create(
        bus_sim.url, {"profile": "sht20", "unit": 42, "timeout": 0.1, "retries": 1}
    ) as gone:
        with pytest.raises(ModbusTimeout):
            gone.poll()
        assert gone.health().counters["timeouts"] == 2  # the retry timed out too
    assert json.dumps(bus_sim.stats)


def test_no_device_at_the_url() -> None:
    from drivers.errors import NoDeviceError

    sensor = create("/dev/pts/does-not-exist", {"profile": "sht20"})
    with pytest.raises(NoDeviceError):
        sensor.open()
    assert sensor.health().state is HealthState.NO_DEVICE


def test_close_twice_and_reopen(bus_sim: ModbusBusSimulator) -> None:
    sensor = create(bus_sim.url, {"profile": "sht20"})
    sensor.open()
    sensor.close()
    sensor.close()
    sensor.open()
    assert sensor.poll()["temperature"] == 30.5
    sensor.close()


def test_bus_that_vanishes_is_reported_then_no_device() -> None:
    from drivers.errors import NoDeviceError, TransportError
    from sim.modbus import SimDevice

    sim = ModbusBusSimulator([SimDevice(1, "sht20", {"temperature": 5})]).start()
    sensor = create(sim.url, {"profile": "sht20", "timeout": 0.5})
    sensor.open()
    try:
        assert sensor.poll()["temperature"] == 5.0
        sim.stop()
        with pytest.raises(TransportError):
            sensor.poll()
        with pytest.raises(NoDeviceError):
            sensor.poll()
        assert sensor.health().state is HealthState.NO_DEVICE
    finally:
        sensor.close()


def test_two_sensors_cannot_claim_one_unit(bus_sim: ModbusBusSimulator) -> None:
    from drivers.modbus.errors import ModbusConfigError

    first = create(bus_sim.url, {"profile": "sht20", "unit": 1})
    second = create(bus_sim.url, {"profile": "sht20", "unit": 1})
    first.open()
    try:
        with pytest.raises(ModbusConfigError, match=r"unit 1 on .* already in use"):
            second.open()
        assert first.poll()["temperature"] == 30.5
    finally:
        first.close()
    second.open()  # free again once the first let go
    second.close()


def test_one_port_with_two_baud_rates_is_refused(bus_sim: ModbusBusSimulator) -> None:
    from drivers.modbus.errors import ModbusConfigError

    with create(bus_sim.url + "?baudrate=9600", {"profile": "sht20"}):
        other = create(bus_sim.url + "?baudrate=19200", {"profile": "water_level", "unit": 2})
        with pytest.raises(ModbusConfigError, match="already open"):
            other.open()
