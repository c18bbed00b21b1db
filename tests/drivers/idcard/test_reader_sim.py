"""The real driver against the simulated reader over a real pty: every command, every fault."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image

from drivers.errors import DeviceTimeout, NoDeviceError
from drivers.idcard.card import CardType
from drivers.idcard.errors import (
    CardAuthenticationError,
    CardReadError,
    CardSelectError,
    IdCardStatusError,
    NoCardError,
    SamCommandError,
    SamFaultError,
    UnknownCardError,
)
from drivers.idcard.reader import CardRemovedError, SamSerialReader
from govedge.health import HealthState
from sim.idcard.server import IdCardSimulator

SimFactory = Callable[..., IdCardSimulator]
ReaderFactory = Callable[..., SamSerialReader]


def test_sam_commands(make_sim: SimFactory, make_reader: ReaderFactory) -> None:
    sim = make_sim()
    reader = make_reader(sim)
    reader.reset_sam()
    reader.sam_status()
    assert reader.sam_id() == "05.01-20201231-0000123456-0987654321"
    info = reader.sam_info()
    assert (info.status, info.sam_id) == ("ok", "05.01-20201231-0000123456-0987654321")
    assert [(c.cmd, c.para) for c in sim.received] == [
        (0x10, 0xFF),
        (0x11, 0xFF),
        (0x12, 0xFF),
        (0x11, 0xFF),
        (0x12, 0xFF),
    ]


def test_card_commands_step_by_step(make_sim: SimFactory, make_reader: ReaderFactory) -> None:
    sim = make_sim("extra_address")
    reader = make_reader(sim)
    assert reader.find_card() is True
    assert reader.select_card() == bytes(8)
    card = reader.read_base_info()
    assert card.name == "测试庚"
    assert reader.read_extra_address() == ["北京市西城区示例新街5号"]
    assert reader.read_chip_id() == "10E4100102030405"
    assert [(c.cmd, c.para) for c in sim.received] == [
        (0x20, 0x01),
        (0x20, 0x02),
        (0x30, 0x01),
        (0x30, 0x03),
        (0x30, 0x05),
    ]


def test_read_card_valid(make_sim: SimFactory, make_reader: ReaderFactory) -> None:
    reader = make_reader(make_sim("valid"))
    card = reader.read_card()
    assert card.card_type is CardType.RESIDENT
    assert card.name == "测试甲"
    assert card.sex == "男"
    assert card.nation == "汉"
    assert card.birth_date == "1990-03-07"
    assert card.id_number_valid is True
    assert card.expired() is False
    assert card.photo_format == "jpeg"
    assert card.photo is not None
    image = Image.open(io.BytesIO(card.photo))
    assert image.size == (102, 126)
    assert reader.counters["cards_read"] == 1


def test_no_extra_address_is_empty_not_an_error(
    make_sim: SimFactory, make_reader: ReaderFactory
) -> None:
    reader = make_reader(make_sim("valid"))
    reader.find_card()
    reader.select_card()
    assert reader.read_extra_address() == []  # the simulator answered 0x91


@pytest.mark.parametrize(
    ("key", "check"),
    [
        ("expired", lambda c: c.expired() and c.nation == "回" and c.sex == "女"),
        ("long_term", lambda c: c.valid_to == "长期" and c.id_number == "11010519491231002X"),
        ("bad_check_digit", lambda c: c.id_number_valid is False),
        (
            "hk_mo_tw",
            lambda c: c.card_type is CardType.HK_MO_TW_RESIDENCE and c.pass_number == "H12345678",
        ),
        (
            "foreigner",
            lambda c: (
                c.card_type is CardType.FOREIGN_PERMANENT_RESIDENCE
                and c.english_name == "TESTER, JANE SAMPLE"
                and c.nationality == "USA"
            ),
        ),
    ],
)
def test_deck_variants(
    make_sim: SimFactory, make_reader: ReaderFactory, key: str, check: object
) -> None:
    card = make_reader(make_sim(key)).read_card()
    assert callable(check) and check(card)
    assert card.photo_format == "jpeg"


def test_fingerprint_variant(make_sim: SimFactory, make_reader: ReaderFactory) -> None:
    sim = make_sim("fingerprint")
    reader = make_reader(sim)
    card = reader.read_card(fingerprint=True)
    assert len(card.fingerprint) == 1024
    assert (sim.received[-1].cmd, sim.received[-1].para) == (0x30, 0x10)
    # A card without fingerprints asked with 30 10: FP length 0.
    sim.insert_card("valid")
    assert reader.read_card(fingerprint=True).fingerprint == b""


def test_wlt_photo_without_library_is_reported_not_fatal(
    make_sim: SimFactory, make_reader: ReaderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOVEDGE_WLT_LIBRARY", raising=False)
    reader = SamSerialReader(make_sim("wlt_photo").url, timeout=1.0)
    with reader:
        card = reader.read_card()
    assert card.name == "测试辛"
    assert card.photo is None
    assert "GOVEDGE_WLT_LIBRARY" in card.photo_error
    assert reader.counters["photo_undecoded"] == 1


# -- fault injection -------------------------------------------------------------------------


def test_no_card(make_sim: SimFactory, make_reader: ReaderFactory) -> None:
    sim = make_sim("valid", ("no_card",))
    reader = make_reader(sim, find_attempts=2)
    assert reader.find_card() is False
    with pytest.raises(NoCardError) as caught:
        reader.read_card()
    assert caught.value.code == 0x80
    assert caught.value.health is HealthState.USER_ERROR
    finds = [c for c in sim.received if (c.cmd, c.para) == (0x20, 0x01)]
    assert len(finds) == 1 + 2  # one find_card, then the 2 find attempts of read_card


def test_empty_reader(make_sim: SimFactory, make_reader: ReaderFactory) -> None:
    reader = make_reader(make_sim(None), card_attempts=1)
    with pytest.raises(NoCardError, match="place the ID card"):
        reader.read_card()


def test_card_removed_mid_read(make_sim: SimFactory, make_reader: ReaderFactory) -> None:
    sim = make_sim("valid", ("card_removed",))
    reader = make_reader(sim)
    with pytest.raises(CardRemovedError) as caught:
        reader.read_card()
    assert isinstance(caught.value, CardReadError)
    assert caught.value.code == 0x41
    assert caught.value.health is HealthState.USER_ERROR
    assert "removed" in str(caught.value)


def test_bad_checksum_is_rejected_counted_and_resent(
    make_sim: SimFactory, make_reader: ReaderFactory
) -> None:
    reader = make_reader(make_sim("valid", ("bad_checksum",)))
    card = reader.read_card()
    assert card.name == "测试甲"
    assert reader.parser_counters.bad_checksum == 1
    assert reader.counters["resends"] == 1


def test_torn_frame_is_abandoned_and_resent(
    make_sim: SimFactory, make_reader: ReaderFactory
) -> None:
    reader = make_reader(make_sim("valid", ("torn_frame",)), timeout=0.3)
    card = reader.read_card()
    assert card.name == "测试甲"
    assert reader.parser_counters.torn == 1
    assert reader.counters["resends"] == 1


def test_noise_before_answers_is_skipped(make_sim: SimFactory, make_reader: ReaderFactory) -> None:
    reader = make_reader(make_sim("valid", ("noise",)))
    assert reader.read_card().name == "测试甲"
    assert reader.parser_counters.skipped_bytes > 0
    assert reader.parser_counters.frames == 3


def test_slow_sam_times_out(make_sim: SimFactory, make_reader: ReaderFactory) -> None:
    reader = make_reader(
        make_sim("valid", ("slow_sam",), delay=0.5), timeout=0.15, frame_attempts=1
    )
    with pytest.raises(DeviceTimeout) as caught:
        reader.sam_status()
    assert caught.value.health is HealthState.OFFLINE
    assert reader.counters["timeouts"] == 1


def test_slow_sam_within_timeout(make_sim: SimFactory, make_reader: ReaderFactory) -> None:
    reader = make_reader(make_sim("valid", ("slow_sam",), delay=0.05), timeout=2.0)
    assert reader.read_card().name == "测试甲"


@pytest.mark.parametrize(("fault", "code"), [("sam_fault", 0x60), ("sam_unauthorised", 0x66)])
def test_sam_faults(
    make_sim: SimFactory, make_reader: ReaderFactory, fault: str, code: int
) -> None:
    reader = make_reader(make_sim("valid", (fault,)))
    with pytest.raises(SamFaultError) as caught:
        reader.sam_status()
    assert caught.value.code == code
    assert caught.value.health is HealthState.HARDWARE_ERROR
    with pytest.raises(SamFaultError):
        reader.read_card()


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (0x10, SamCommandError),
        (0x11, SamCommandError),
        (0x21, SamCommandError),
        (0x23, SamCommandError),
        (0x24, SamCommandError),
        (0x31, CardAuthenticationError),
        (0x32, CardAuthenticationError),
        (0x33, CardAuthenticationError),
        (0x40, UnknownCardError),
        (0x47, CardReadError),
        (0x60, SamFaultError),
        (0x66, SamFaultError),
    ],
)
def test_every_error_status_over_the_wire(
    make_sim: SimFactory, make_reader: ReaderFactory, code: int, error: type[IdCardStatusError]
) -> None:
    reader = make_reader(make_sim("valid", (f"status:3001:{code:02x}",)), card_attempts=1)
    with pytest.raises(error) as caught:
        reader.read_card()
    assert caught.value.code == code


def test_select_failure_is_retried_then_reported(
    make_sim: SimFactory, make_reader: ReaderFactory
) -> None:
    sim = make_sim("valid", ("status:2002:81",))
    reader = make_reader(sim, card_attempts=3)
    with pytest.raises(CardSelectError) as caught:
        reader.read_card()
    assert caught.value.code == 0x81
    assert reader.counters["card_retries"] == 2
    selects = [c for c in sim.received if (c.cmd, c.para) == (0x20, 0x02)]
    assert len(selects) == 3


def test_read_failure_with_card_still_there(
    make_sim: SimFactory, make_reader: ReaderFactory
) -> None:
    sim = make_sim("valid", ("status:3001:41",))
    reader = make_reader(sim, card_attempts=2)
    with pytest.raises(CardReadError) as caught:
        reader.read_card()
    assert not isinstance(caught.value, CardRemovedError)  # the card was found again
    sim.set_faults(())
    assert reader.read_card().name == "测试甲"


def test_no_device() -> None:
    reader = SamSerialReader("/dev/does-not-exist-idcard")
    with pytest.raises(NoDeviceError):
        reader.open()


def test_late_answer_to_a_timed_out_command_is_skipped(
    make_sim: SimFactory, make_reader: ReaderFactory
) -> None:
    sim = make_sim("valid", ("slow_sam",), delay=0.5)
    reader = make_reader(sim, timeout=0.1, frame_attempts=1)
    with pytest.raises(DeviceTimeout):
        reader.sam_status()
    # The SAM is still busy with the status request; its answer (0x90, no data) arrives after
    # the find-card request went out, and cannot be find card's answer.
    sim.set_faults(())
    reader.timeout = 2.0
    assert reader.find_card() is True
    assert reader.counters["stale_answers"] == 1
