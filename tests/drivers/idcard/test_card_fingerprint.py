"""The card's fingerprint features for a 1:1 match on the device (30 10), read from the
simulated reader holding the kiosk rig's people's cards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.base import CardFingerprintCapability
from drivers.idcard.errors import NoCardError, NoFingerprintDataError
from drivers.idcard.polled import IdCardDriver, create, split_features
from sim.idcard.server import IdCardSimulator
from sim.kiosk.people import deck, person

FAST = {"timeout": 1.0, "retry_delay": 0.01, "simulated": True}


@pytest.fixture
def rig_reader() -> Iterator[tuple[IdCardSimulator, IdCardDriver]]:
    with IdCardSimulator(card=None, deck=deck()) as sim:
        driver = create(sim.url, FAST)
        driver.open()
        try:
            yield sim, driver
        finally:
            driver.close()


def test_features_are_the_card_holders(rig_reader: tuple[IdCardSimulator, IdCardDriver]) -> None:
    sim, driver = rig_reader
    assert isinstance(driver, CardFingerprintCapability)
    sim.insert_card("grace_hopper")
    features = driver.read_fingerprint_features()
    whole = person("grace_hopper").fingerprint_feature()
    assert [bytes(f) for f in features] == [whole[:512], whole[512:]]
    assert sim.received[-1].para == 0x10  # read with SAM 30 10


def test_no_card_and_no_fingerprint_data(rig_reader: tuple[IdCardSimulator, IdCardDriver]) -> None:
    sim, driver = rig_reader
    with pytest.raises(NoCardError):
        driver.read_fingerprint_features()
    sim.deck["plain"] = deck()["astronaut"]
    sim.deck["plain"].fingerprint = None
    sim.insert_card("plain")
    with pytest.raises(NoFingerprintDataError, match="no fingerprint data"):
        driver.read_fingerprint_features()


def test_split_features_skips_empty_blocks() -> None:
    data = bytes(512) + b"\x01" * 512
    assert split_features(data) == [bytearray(b"\x01" * 512)]
    with pytest.raises(NoFingerprintDataError):
        split_features(bytes(1024))
