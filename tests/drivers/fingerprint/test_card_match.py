"""1:1 of a live finger against features the host holds (an ID card's): DownChar, GenImg,
Img2Tz, Match. Golden bytes written by hand from the R30x packet description, then the driver
against the simulator playing both ends (a person's card feature, the same person's finger)."""

from __future__ import annotations

import time

import pytest

from drivers.fingerprint.errors import NoFingerError, PacketReceiveError
from drivers.fingerprint.module import FingerprintModule, ModuleSettings
from drivers.fingerprint.polled import create
from sim.fingerprint import FingerprintSimulator
from sim.kiosk.people import person


def cleared(sim: FingerprintSimulator) -> bool:
    """Buffer 2 holds zeros once the simulator has taken the host's last data packets."""
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        if sim.module.buffers[2] == bytes(512):
            return True
        time.sleep(0.01)
    return False


HEAD = "EF01 FFFFFFFF"


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_down_char_exchange_golden(scripted, fast: ModuleSettings) -> None:  # type: ignore[no-untyped-def]
    """DownChar 2 with a 40-byte feature in 32-byte data packets, the capture and the match,
    then buffer 2 overwritten with zeros."""
    feature = bytes(range(40))
    peer = scripted(
        [
            (h(HEAD + "01 0007 13 00000000 001B"), h(HEAD + "07 0003 00 000A")),
            # ReadSysPara: packet size code 0 (32 bytes): 07 + 13 + 09 + C8 + 03 + 3FC + 06 = 04F0
            (
                h(HEAD + "01 0003 0F 0013"),
                h(HEAD + "07 0013 00 0000 0009 00C8 0003 FFFFFFFF 0000 0006 04F0"),
            ),
            # DownChar 2: 01 + 00 + 04 + 09 + 02 = 0x10; acknowledged OK (07 + 03 + 00 = 0A)
            (h(HEAD + "01 0004 09 02 0010"), h(HEAD + "07 0003 00 000A")),
            # end of data: 08 + 00 + 0A + sum(32..39) = 08 + 0A + 0x11C = 0x012E
            (h(HEAD + "08 000A") + feature[32:] + h("012E"), b""),
            # GenImg, Img2Tz 1, Match -> score 0x64: 07 + 05 + 00 + 00 + 64 = 0x70
            (h(HEAD + "01 0003 01 0005"), h(HEAD + "07 0003 00 000A")),
            (h(HEAD + "01 0004 02 01 0008"), h(HEAD + "07 0003 00 000A")),
            (h(HEAD + "01 0003 03 0007"), h(HEAD + "07 0005 00 0064 0070")),
            # the clearing DownChar 2 and its zeros: data 02 + 22 = 0x24, end 08 + 0A = 0x12
            (h(HEAD + "01 0004 09 02 0010"), h(HEAD + "07 0003 00 000A")),
            (h(HEAD + "08 000A") + bytes(8) + h("0012"), b""),
        ]
    )
    with FingerprintModule(peer.url, fast) as module:
        assert module.match_features([bytearray(feature)]) == {"match": True, "score": 100}
    # The clearing packets need no answer: the driver returns as they leave, before the module
    # has read them.
    assert peer.wait_played(), f"{peer.step} of {len(peer.script)} steps received"
    sent = bytes(peer.received)
    # data packet: 02 + 00 + 22 + sum(0..31) = 02 + 22 + 0x1F0 = 0x0214
    assert h(HEAD + "02 0022") + feature[:32] + h("0214") in sent
    assert h(HEAD + "02 0022") + bytes(32) + h("0024") in sent


def test_down_char_refused_asks_for_no_finger(scripted, fast: ModuleSettings) -> None:  # type: ignore[no-untyped-def]
    """A module answering DownChar with 0Eh (cannot receive the data packets) gets no data,
    and nobody is asked for a finger."""
    peer = scripted(
        [
            (h(HEAD + "01 0007 13 00000000 001B"), h(HEAD + "07 0003 00 000A")),
            (
                h(HEAD + "01 0003 0F 0013"),
                h(HEAD + "07 0013 00 0000 0009 00C8 0003 FFFFFFFF 0000 0006 04F0"),
            ),
            # 07 + 00 + 03 + 0E = 0x18
            (h(HEAD + "01 0004 09 02 0010"), h(HEAD + "07 0003 0E 0018")),
        ]
    )
    with FingerprintModule(peer.url, fast) as module:
        with pytest.raises(PacketReceiveError, match="cannot receive"):
            module.match_features([bytearray(range(40))])
        time.sleep(0.1)
    sent = bytes(peer.received)
    assert sent.endswith(h(HEAD + "01 0004 09 02 0010"))  # no data packet, no GenImg after it


def test_owner_finger_matches_the_card_and_another_does_not(sim: FingerprintSimulator) -> None:
    driver = create(sim.url, {"finger_timeout": 1.0, "poll_interval": 0.01})
    driver.open()
    try:
        card = person("astronaut").fingerprint_feature()
        features = [bytearray(card[:512]), bytearray(card[512:])]
        sim.module.place_finger(person("astronaut").finger())
        owner = driver.match_features(features)
        sim.module.place_finger(person("astronaut").finger("left-index"))
        second_finger = driver.match_features(features)
        sim.module.place_finger(person("grace_hopper").finger())
        other = driver.match_features(features)
    finally:
        driver.close()
    assert owner["match"] and owner["score"] > 0
    assert second_finger["match"]  # the card's second feature
    assert other == {"match": False, "score": 0}
    assert cleared(sim)  # the card's feature does not stay in the module
    assert sim.module.received.count(0x09) >= 6  # DownChar before each match and after


def test_no_finger_in_time(sim: FingerprintSimulator) -> None:
    driver = create(sim.url, {"finger_timeout": 0.3, "poll_interval": 0.01})
    driver.open()
    try:
        with pytest.raises(NoFingerError):
            driver.match_features([bytearray(person("astronaut").fingerprint_feature()[:512])])
    finally:
        driver.close()
    assert cleared(sim)
