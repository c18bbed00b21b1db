"""The simulated card's file system and ISO 7816-4 answers, APDU bytes in and out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.smartcard.card import ATR, CardOptions, SocialSecurityCardModel

SELECT_SSSE = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF"


def run(model: SocialSecurityCardModel, *commands: str) -> list[str]:
    return [model.process(bytes.fromhex(c)).hex().upper() for c in commands]


def test_atr_bytes() -> None:
    assert ATR.hex(" ").upper() == "3B 86 80 01 47 4F 56 53 53 43 1A"


@pytest.mark.parametrize(
    ("commands", "answers"),
    [
        ([SELECT_SSSE], ["9000"]),
        ([SELECT_SSSE + "00"], ["6F1184" + "0F7378312E73682EC9E7BBE1B1A3D5CF" + "9000"]),
        (["00A404000E7378312E73682EC9E7BBE1B1A3D5"], ["6A82"]),
        (["00A4020002EF05"], ["6A82"]),  # EF05 lives in the application, not the MF
        ([SELECT_SSSE, "00A4020002EF09"], ["9000", "6A82"]),
        ([SELECT_SSSE, "00A4020001EF"], ["9000", "6700"]),
        ([SELECT_SSSE, "00A4080002EF05"], ["9000", "6A86"]),
        (["00B2010400"], ["6986"]),
        (
            [SELECT_SSSE, "00A4020002EF05", "00B2070000"],
            ["9000", "9000", "07094131383032333435369000"],
        ),
        (
            [SELECT_SSSE, "00A4020002EF05", "00B2070400"],
            ["9000", "9000", "07094131383032333435369000"],
        ),
        ([SELECT_SSSE, "00A4020002EF05", "00B2080000"], ["9000", "9000", "6A83"]),
        ([SELECT_SSSE, "00A4020002EF05", "00B2090400"], ["9000", "9000", "6A83"]),
        ([SELECT_SSSE, "00A4020002EF05", "00B2070005"], ["9000", "9000", "6C0B"]),
        ([SELECT_SSSE, "00A4020002EF05", "00B2070001"], ["9000", "9000", "6C0B"]),
        ([SELECT_SSSE, "00A4020002EF05", "00B2070700"], ["9000", "9000", "6A86"]),
        ([SELECT_SSSE, "00B2072C00"], ["9000", "07094131383032333435369000"]),  # SFI 5
        ([SELECT_SSSE, "00B2014C00"], ["9000", "6A82"]),  # SFI 9: no such EF
        ([SELECT_SSSE, "00B2013C00"], ["9000", "6982"]),  # SFI 7: EF07 needs a PIN
        ([SELECT_SSSE, "00A4020002EF07", "00B2010400"], ["9000", "9000", "6982"]),
        ([SELECT_SSSE, "00A40000023F00", "00A4020002EF05"], ["9000", "9000", "6A82"]),
        (["80CA9F7F00"], ["6E00"]),
        (["00840000 08".replace(" ", "")], ["6D00"]),
        (["00C0000010"], ["6985"]),
        (["00A4"], ["6700"]),
    ],
)
def test_answers(commands: list[str], answers: list[str]) -> None:
    assert run(SocialSecurityCardModel(), *commands) == answers


def test_get_response_mode_hands_out_in_chunks() -> None:
    model = SocialSecurityCardModel(options=CardOptions(get_response=True, chunk=4))
    assert run(model, SELECT_SSSE, "00A4020002EF05", "00B2070000") == ["9000", "9000", "610B"]
    assert run(model, "00C000000B") == ["070941316107"]
    assert run(model, "00C0000007") == ["383032336103"]
    assert run(model, "00C0000003") == ["3435369000"]
    assert run(model, "00C0000003") == ["6985"]


def test_strict_le_in_get_response() -> None:
    model = SocialSecurityCardModel(options=CardOptions(get_response=True, strict_le=True))
    run(model, SELECT_SSSE, "00A4020002EF05", "00B2070000")
    assert run(model, "00C0000020") == ["6C0B"]
    assert run(model, "00C000000B") == ["07094131383032333435369000"]


def test_another_command_drops_pending_data() -> None:
    model = SocialSecurityCardModel(options=CardOptions(get_response=True))
    run(model, SELECT_SSSE, "00A4020002EF05", "00B2070000")
    run(model, "00A4020002EF06")
    assert run(model, "00C000000B") == ["6985"]


def test_power_cycle_resets_selection() -> None:
    model = SocialSecurityCardModel()
    run(model, SELECT_SSSE, "00A4020002EF05")
    model.power_off()
    model.power_on()
    assert run(model, "00B2070400") == ["6986"]
    run(model, SELECT_SSSE, "00A4020002EF05")
    model.reset()
    assert run(model, "00B2070400") == ["6986"] and model.powered


def test_counters() -> None:
    model = SocialSecurityCardModel()
    run(model, "00A4", SELECT_SSSE, "00FE0000")
    assert model.counters.apdus == 3 and model.counters.malformed == 1
    assert model.counters.by_sw == {0x6700: 1, 0x9000: 1, 0x6D00: 1}


@settings(max_examples=2_000, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_card_never_crashes(commands: list[bytes]) -> None:
    model = SocialSecurityCardModel(options=CardOptions(get_response=True, chunk=3))
    model.process(bytes.fromhex(SELECT_SSSE))
    for command in commands:
        answer = model.process(command)
        assert len(answer) >= 2
