"""Every confirmation code maps to a result or to an error with its meaning and health."""

from __future__ import annotations

import pytest

from drivers.errors import DeviceStatusError, DriverError, FrameError, UserActionError
from drivers.fingerprint import codes
from drivers.fingerprint.errors import (
    EnrollMismatchError,
    FingerprintError,
    FingerprintStatusError,
    ImageQualityError,
    LibraryStateError,
    ModuleFaultError,
    NoFingerError,
    PacketReceiveError,
    PasswordError,
    RegisterError,
    TemplateIdError,
    TemplateReadError,
)
from govedge.errors import GovedgeError
from govedge.health import HealthState

# Written from the R307/R503 manuals' confirmation-code tables.
EXPECTED = {
    0x01: (PacketReceiveError, HealthState.ONLINE),
    0x02: (NoFingerError, HealthState.USER_ERROR),
    0x03: (ImageQualityError, HealthState.USER_ERROR),
    0x06: (ImageQualityError, HealthState.USER_ERROR),
    0x07: (ImageQualityError, HealthState.USER_ERROR),
    0x0A: (EnrollMismatchError, HealthState.USER_ERROR),
    0x0B: (TemplateIdError, HealthState.ONLINE),
    0x0C: (TemplateReadError, HealthState.ONLINE),
    0x0D: (ModuleFaultError, HealthState.HARDWARE_ERROR),
    0x0E: (PacketReceiveError, HealthState.ONLINE),
    0x0F: (ModuleFaultError, HealthState.HARDWARE_ERROR),
    0x10: (ModuleFaultError, HealthState.HARDWARE_ERROR),
    0x11: (ModuleFaultError, HealthState.HARDWARE_ERROR),
    0x13: (PasswordError, HealthState.HARDWARE_ERROR),
    0x15: (ImageQualityError, HealthState.USER_ERROR),
    0x18: (ModuleFaultError, HealthState.HARDWARE_ERROR),
    0x1A: (RegisterError, HealthState.ONLINE),
    0x1B: (RegisterError, HealthState.ONLINE),
    0x1F: (LibraryStateError, HealthState.ONLINE),
    0x21: (PasswordError, HealthState.HARDWARE_ERROR),
    0x26: (NoFingerError, HealthState.USER_ERROR),
    0x27: (LibraryStateError, HealthState.ONLINE),
    0x29: (ModuleFaultError, HealthState.HARDWARE_ERROR),
}


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_error_codes(code: int) -> None:
    error_class, health = EXPECTED[code]
    error = codes.error_for(code, "GenImg")
    assert type(error) is error_class
    assert error.health is health
    assert error.code == code
    assert f"0x{code:02X}" in str(error) and str(error).startswith("GenImg: ")
    assert isinstance(error, FingerprintError)
    assert isinstance(error, DeviceStatusError)
    assert isinstance(error, GovedgeError)


def test_result_codes_are_not_errors() -> None:
    for code in (codes.OK, codes.NO_MATCH, codes.NOT_FOUND):
        assert codes.describe(code).error is None
    # Out of place (e.g. 0x08 answering Store) they are a module fault.
    assert isinstance(codes.error_for(codes.NO_MATCH, "Store"), ModuleFaultError)


def test_every_code_from_0_to_0x29_has_a_meaning() -> None:
    for code in [0x00, 0x01, 0x02, 0x03, *range(0x06, 0x2A)]:
        entry = codes.describe(code)
        assert entry.name != "unknown", hex(code)
        assert entry.meaning


def test_unknown_code() -> None:
    error = codes.error_for(0xEE, "Match")
    assert isinstance(error, ModuleFaultError)
    assert "unknown confirmation code 0xEE" in str(error)
    assert error.health is HealthState.HARDWARE_ERROR


def test_kinds() -> None:
    assert isinstance(codes.error_for(0x02, "GenImg"), UserActionError)
    assert isinstance(codes.error_for(0x0A, "RegModel"), UserActionError)
    assert not isinstance(codes.error_for(0x01, "GenImg"), FrameError)
    assert issubclass(FingerprintStatusError, DriverError)
