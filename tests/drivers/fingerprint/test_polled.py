"""The polled driver the edge agent builds from a device config, against the simulator."""

from __future__ import annotations

import pytest

from drivers.base import FingerprintCapability, PolledDriver
from drivers.errors import NoDeviceError, UserActionError
from drivers.fingerprint.polled import create, settings_from_options
from drivers.registry import create_driver
from govedge.errors import ConfigError
from govedge.health import HealthState
from sim.fingerprint import FingerprintSimulator

FAST = {"timeout": 0.5, "finger_timeout": 0.3, "poll_interval": 0, "quiet_gap": 0.03}


def test_registry_builds_it(sim: FingerprintSimulator) -> None:
    driver = create_driver("fingerprint", sim.url, FAST)
    assert isinstance(driver, PolledDriver)
    assert isinstance(driver, FingerprintCapability)
    assert driver.kind == "fingerprint"


def test_poll_verify_search(sim: FingerprintSimulator) -> None:
    sim.module.enroll(0, "finger-0")
    sim.module.enroll(1, "finger-1")
    driver = create(sim.url, FAST)
    driver.open()
    try:
        assert driver.poll() == {"templates": 2.0}
        sim.module.place_finger("finger-1", tap=True)
        verdict = driver.verify_finger(1)
        assert verdict["match"] is True and verdict["score"] > 0
        assert set(verdict) == {"match", "score"}
        assert driver.verify_finger(0) == {"match": False, "score": 0}
        found = driver.search_finger()
        assert found["found"] is True and found["id"] == 1
        assert driver.enroll_finger(5)["id"] == 5
        assert driver.delete_finger(5)["id"] == 5
        sim.module.lift_finger()
        with pytest.raises(UserActionError):
            driver.search_finger()
        assert driver.health().state is HealthState.USER_ERROR
        assert driver.poll() == {"templates": 2.0}
        assert driver.health().state is HealthState.ONLINE
        assert driver.online
    finally:
        driver.close()
        driver.close()


def test_open_without_device() -> None:
    driver = create("/dev/no-such-port", {})
    with pytest.raises(NoDeviceError):
        driver.open()


def test_options() -> None:
    settings = settings_from_options(
        {
            "password": "0x0BADC0DE",
            "address": 0x12345678,
            "baudrate": 115200,
            "timeout": 1,
            "finger_timeout": 5.5,
            "retries": 2,
            "high_speed_search": True,
        }
    )
    assert settings.password == 0x0BADC0DE
    assert settings.address == 0x12345678
    assert settings.baudrate == 115200
    assert settings.timeout == 1.0
    assert settings.retries == 2
    assert settings.high_speed_search is True


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"pasword": 1}, "options: Object contains unknown field `pasword`"),
        ({"password": "secret"}, "options.password"),
        ({"password": 1 << 32}, "options.password"),
        ({"timeout": "soon"}, "options.timeout"),
        ({"timeout": -1}, "options.timeout"),
        ({"retries": 1.5}, "options.retries"),
        ({"retries": True}, "options.retries"),
        ({"high_speed_search": "yes"}, "options.high_speed_search"),
    ],
)
def test_bad_options_name_the_key(options: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        create("/dev/ttyUSB0", options)
    assert named in str(caught.value)


def test_poll_during_a_session_is_busy_not_blocked(sim: FingerprintSimulator) -> None:
    import threading

    from drivers.errors import BusyError
    from drivers.fingerprint.commands import Instruction

    sim.module.enroll(0, "finger-0")
    driver = create(sim.url, {**FAST, "finger_timeout": 5})
    driver.open()
    outcome: dict[str, object] = {}

    def verify() -> None:
        outcome["result"] = driver.verify_finger(0)

    worker = threading.Thread(target=verify)
    try:
        worker.start()
        # Wait until the verification is polling GenImg for a finger.
        for _ in range(200):
            if Instruction.GEN_IMG in sim.module.received:
                break
            threading.Event().wait(0.01)
        assert Instruction.GEN_IMG in sim.module.received
        with pytest.raises(BusyError) as caught:
            driver.poll()
        assert caught.value.health is HealthState.BUSY
        assert driver.health().state is HealthState.BUSY
        sim.module.place_finger("finger-0")
        worker.join(timeout=10)
        result = outcome["result"]
        assert isinstance(result, dict) and result["match"] is True
        assert driver.poll() == {"templates": 1.0}
    finally:
        sim.module.place_finger("finger-0")
        worker.join(timeout=10)
        driver.close()
