"""The polled driver the edge agent uses, against the simulator over a pty."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from PIL import Image

from drivers.base import CardReaderCapability, PolledDriver
from drivers.errors import BusyError, NoDeviceError, UserActionError
from drivers.idcard.errors import SamFaultError, SdtapiError
from drivers.idcard.polled import IdCardDriver, create
from drivers.registry import create_driver
from govedge.errors import ConfigError
from govedge.health import HealthState
from sim.idcard.server import IdCardSimulator

SimFactory = Callable[..., IdCardSimulator]

FAST = {"timeout": 1.0, "retry_delay": 0.01}


@pytest.fixture
def driver(make_sim: SimFactory) -> Iterator[IdCardDriver]:
    sim = make_sim("valid")
    drv = create(sim.url, {**FAST, "simulated": True})
    drv.open()
    yield drv
    drv.close()


def test_sim_photo_format_only_when_configured_simulated(make_sim: SimFactory) -> None:
    """A reader not configured as simulated refuses the simulator's photo wrapper: a forged
    card holding a plain JPEG in it must not pass for a real card's photo."""
    drv = create(make_sim("valid").url, FAST)
    drv.open()
    try:
        data = drv.read_card()
    finally:
        drv.close()
    assert "photo" not in data
    assert "no decoder" in data["photo_error"]
    assert data["photo_format"] == ""


def test_protocols(driver: IdCardDriver) -> None:
    assert isinstance(driver, PolledDriver)
    assert isinstance(driver, CardReaderCapability)
    assert driver.kind == "idcard"


def test_registry_builds_it(make_sim: SimFactory) -> None:
    drv = create_driver("idcard", make_sim().url, {})
    assert isinstance(drv, IdCardDriver)


def test_poll_and_health(make_sim: SimFactory) -> None:
    sim = make_sim("valid")
    drv = create(sim.url, FAST)
    assert drv.health().state is HealthState.OFFLINE
    drv.open()
    try:
        assert drv.poll() == {"sam_ok": 1.0, "card_present": 1.0}
        sim.insert_card(None)
        assert drv.poll() == {"sam_ok": 1.0, "card_present": 0.0}
        assert drv.health().state is HealthState.ONLINE
        sim.set_faults(["sam_fault"])
        with pytest.raises(SamFaultError):
            drv.poll()
        report = drv.health()
        assert report.state is HealthState.HARDWARE_ERROR
        assert "self-test" in report.detail
        assert report.errors == 1
        assert report.counters["status_60"] == 1
        assert report.counters["parser_frames"] >= 4
        sim.set_faults([])
        sim.insert_card("valid")
        drv.poll()
        assert drv.health().state is HealthState.ONLINE
    finally:
        drv.close()
    assert drv.health().state is HealthState.OFFLINE


def test_read_card_fields(driver: IdCardDriver) -> None:
    data = driver.read_card()
    for key in (
        "name",
        "sex",
        "nation",
        "birth_date",
        "address",
        "id_number",
        "issuer",
        "valid_from",
        "valid_to",
        "card_type",
        "photo",
    ):
        assert key in data, key
    assert data["name"] == "测试甲"  # the errand gets the real data; masking is for display
    assert data["id_number"] == "110101199003071233"
    assert data["card_type"] == "resident"
    assert data["photo_format"] == "jpeg"
    assert Image.open(io.BytesIO(data["photo"])).size == (102, 126)


def test_read_without_card_is_a_user_error(make_sim: SimFactory) -> None:
    drv = create(make_sim(None).url, {**FAST, "find_attempts": 1})
    drv.open()
    try:
        with pytest.raises(UserActionError):
            drv.read_card()
        assert drv.health().state is HealthState.USER_ERROR
    finally:
        drv.close()


def test_fingerprint_option(make_sim: SimFactory) -> None:
    drv = create(make_sim("fingerprint").url, {**FAST, "fingerprint": True})
    drv.open()
    try:
        assert len(drv.read_card()["fingerprint"]) == 1024
    finally:
        drv.close()


def test_concurrent_call_is_busy(make_sim: SimFactory) -> None:
    sim = make_sim("valid", ("slow_sam",), delay=0.3)
    drv = create(sim.url, {"timeout": 2.0, "lock_timeout": 0.05})
    drv.open()
    try:
        worker = threading.Thread(target=drv.poll)
        worker.start()
        deadline = time.monotonic() + 5
        while not sim.received and time.monotonic() < deadline:
            time.sleep(0.005)
        assert sim.received, "the first poll never reached the simulator"
        with pytest.raises(BusyError):
            drv.poll()
        worker.join()
    finally:
        drv.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tiemout": 1}, "unknown field `tiemout`"),
        ({"timeout": "fast"}, "options.timeout: Expected `float`, got `str`"),
        ({"timeout": -1}, "options.timeout"),
        ({"card_attempts": 1.5}, "options.card_attempts"),
        ({"card_attempts": 0}, "options.card_attempts"),
        ({"timeout": 0}, "options.timeout"),
        ({"fingerprint": "yes"}, "options.fingerprint"),
        ({"wlt_library": 3}, "options.wlt_library"),
    ],
)
def test_bad_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create("/dev/null", options)


def test_no_device() -> None:
    drv = create("/dev/does-not-exist-idcard", {})
    with pytest.raises(NoDeviceError):
        drv.open()
    assert drv.health().state is HealthState.NO_DEVICE


def test_sdtapi_url_without_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVEDGE_SDTAPI_LIBRARY", raising=False)
    drv = create("sdtapi:1001", {})
    with pytest.raises(SdtapiError, match="GOVEDGE_SDTAPI_LIBRARY"):
        drv.open()
    assert drv.health().state is HealthState.NO_DEVICE
