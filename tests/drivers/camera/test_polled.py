"""The camera as the edge agent sees it: create(url, options), poll, health, verify_face."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from drivers.base import FaceCapability, PolledDriver
from drivers.camera.polled import create
from drivers.errors import BusyError
from drivers.registry import create_driver
from govedge.errors import ConfigError
from govedge.health import HealthState


def test_registry_builds_the_camera_driver(scripted: Callable[[str], str]) -> None:
    driver = create_driver("camera", scripted("face:3"), {"threshold": 0.5})
    assert isinstance(driver, PolledDriver)
    assert isinstance(driver, FaceCapability)
    assert driver.kind == "camera"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"treshold": 0.5}, "unknown field `treshold`"),
        ({"threshold": "high"}, r"options.threshold: Expected `float`, got `str`"),
        ({"threshold": 3}, r"options.threshold: Expected `float` < 2.0"),
        ({"max_frames": 0}, r"options.max_frames: Expected `int` >= 1"),
    ],
)
def test_bad_options_name_the_key(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create("0", options)


def test_verify_face_from_the_camera(scripted: Callable[[str], str], card_gray: bytes) -> None:
    driver = create(scripted("no_face:2,face:4"), {"max_frames": 5, "min_face_px": 60})
    driver.open()
    try:
        result = driver.verify_face(card_gray)
        polled = driver.poll()
    finally:
        driver.close()
    assert result["match"] is True
    assert result["distance"] < result["threshold"] == 0.54
    assert result["reasons"] == []
    assert polled["verifications"] == 1.0
    assert polled["frames"] >= 3


def test_verify_face_of_someone_else(
    tmp_path_factory: pytest.TempPathFactory, card_gray: bytes
) -> None:
    from sim.camera.script import render, write_folder

    url = write_folder(render("face:2", person="grace_hopper"), tmp_path_factory.mktemp("gh"))
    driver = create(url, {})
    driver.open()
    try:
        result = driver.verify_face(card_gray)
    finally:
        driver.close()
    assert result["match"] is False and "distance_above_threshold" in result["reasons"]


def test_poll_raises_on_a_frozen_camera(scripted: Callable[[str], str]) -> None:
    from drivers.camera.errors import FrozenImageError

    driver = create(scripted("frozen:40"), {"frozen_after_s": 2.0})
    driver.open()
    try:
        for _ in driver.camera.frames(timeout=5.0):
            pass
        with pytest.raises(FrozenImageError) as info:
            driver.poll()
        assert info.value.health is HealthState.HARDWARE_ERROR
        assert driver.health().state is HealthState.HARDWARE_ERROR
    finally:
        driver.close()


def test_open_without_device_is_no_device() -> None:
    driver = create("61", {})
    with pytest.raises(Exception) as info:
        driver.open()
    assert getattr(info.value, "health", None) is HealthState.NO_DEVICE
    assert driver.health().state is HealthState.NO_DEVICE


def test_one_verification_at_a_time(scripted: Callable[[str], str], card_gray: bytes) -> None:
    driver = create(scripted("face:2"), {})
    driver._busy.acquire()
    try:
        assert driver.health().state is HealthState.OFFLINE  # not opened yet
        with pytest.raises(BusyError):
            driver.verify_face(card_gray)
    finally:
        driver._busy.release()


def test_liveness_through_the_driver(scripted: Callable[[str], str]) -> None:
    driver = create(scripted("face:4,blink:2,face:3,turn_left:3,face:3"), {})
    driver.open()
    try:
        result = driver.check_liveness(["blink", "turn_left"])
    finally:
        driver.close()
    assert result["passed"] is True
