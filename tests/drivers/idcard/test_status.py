"""Every status code of the issue mapped to a result or an error, with meaning and health."""

from __future__ import annotations

import pytest

from drivers.errors import DeviceStatusError, DriverError, UserActionError
from drivers.idcard.errors import (
    CardAuthenticationError,
    CardReadError,
    CardSelectError,
    NoCardError,
    SamCommandError,
    SamFaultError,
    UnknownCardError,
    UnknownStatusError,
)
from drivers.idcard.status import STATUS_TABLE, Status, check, describe, status_error
from govedge.health import HealthState

ERRORS = {
    0x10: (SamCommandError, HealthState.HARDWARE_ERROR, "checksum"),
    0x11: (SamCommandError, HealthState.HARDWARE_ERROR, "length"),
    0x21: (SamCommandError, HealthState.HARDWARE_ERROR, "command"),
    0x23: (SamCommandError, HealthState.HARDWARE_ERROR, "not permitted"),
    0x24: (SamCommandError, HealthState.HARDWARE_ERROR, "unrecognised"),
    0x31: (CardAuthenticationError, HealthState.USER_ERROR, "card failed to authenticate"),
    0x32: (CardAuthenticationError, HealthState.USER_ERROR, "SAM failed to authenticate"),
    0x33: (CardAuthenticationError, HealthState.USER_ERROR, "verification"),
    0x40: (UnknownCardError, HealthState.USER_ERROR, "card type"),
    0x41: (CardReadError, HealthState.USER_ERROR, "reading the card failed"),
    0x47: (CardReadError, HealthState.USER_ERROR, "random"),
    0x60: (SamFaultError, HealthState.HARDWARE_ERROR, "self-test"),
    0x66: (SamFaultError, HealthState.HARDWARE_ERROR, "not authorised"),
    0x80: (NoCardError, HealthState.USER_ERROR, "no card"),
    0x81: (CardSelectError, HealthState.USER_ERROR, "selected"),
}


def test_table_covers_every_documented_code() -> None:
    documented = {0x90, 0x9F, 0x91} | set(ERRORS)
    assert set(STATUS_TABLE) == documented
    assert {int(s) for s in Status} == documented
    for info in STATUS_TABLE.values():
        assert info.meaning and info.meaning_zh


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_error_codes(code: int) -> None:
    cls, health, words = ERRORS[code]
    with pytest.raises(cls) as caught:
        check(code, "do something")
    exc = caught.value
    assert isinstance(exc, DeviceStatusError) and isinstance(exc, DriverError)
    assert exc.code == code
    assert exc.health is health
    assert words in str(exc)
    assert str(exc).startswith(f"do something: 0x{code:02X} ")
    assert STATUS_TABLE[code].health is health


def test_card_errors_ask_a_person_to_act() -> None:
    for code in (0x31, 0x40, 0x41, 0x80, 0x81):
        assert isinstance(status_error(code, "x"), UserActionError)
    assert not isinstance(status_error(0x60, "x"), UserActionError)


def test_success_codes() -> None:
    assert check(0x90, "select") is True
    assert check(0x9F, "find", success=0x9F) is True
    assert check(0x91, "extra address") is False  # no content: a result, not an error
    assert STATUS_TABLE[0x91].outcome == "empty"
    assert STATUS_TABLE[0x9F].outcome == "ok"


def test_success_code_of_another_command_is_an_error() -> None:
    with pytest.raises(UnknownStatusError, match="unexpected status 0x90"):
        check(0x90, "find a card", success=0x9F)
    with pytest.raises(UnknownStatusError, match="unexpected status 0x9F"):
        check(0x9F, "select the card")


def test_undefined_code() -> None:
    with pytest.raises(UnknownStatusError) as caught:
        check(0x55, "read")
    assert caught.value.code == 0x55
    assert caught.value.health is HealthState.HARDWARE_ERROR
    assert describe(0x55) == "0x55 undefined status"
    assert describe(0x80) == "0x80 no card on the reader (寻找居民身份证失败)"
