"""Status words from ISO/IEC 7816-4 and the errors (and health) they map to."""

from __future__ import annotations

import pytest

from drivers.errors import DeviceStatusError
from drivers.smartcard import errors as e
from drivers.smartcard.status import describe, error_for, raise_for_status
from govedge.health import HealthState

MAPPING = [
    (0x6A82, e.CardFileNotFoundError, "file or application not found"),
    (0x6982, e.SecurityStatusError, "security status not satisfied"),
    (0x6D00, e.InsNotSupportedError, "instruction code not supported"),
    (0x6E00, e.ClaNotSupportedError, "class not supported"),
    (0x6700, e.WrongLengthError, "wrong length"),
    (0x6A83, e.RecordNotFoundError, "record not found"),
    (0x6A86, e.WrongParametersError, "incorrect parameters P1-P2"),
    (0x6B00, e.WrongParametersError, "wrong parameters P1-P2"),
    (0x6983, e.AuthenticationBlockedError, "authentication method blocked"),
    (0x6985, e.ConditionsNotSatisfiedError, "conditions of use not satisfied"),
    (0x6986, e.CommandNotAllowedError, "no current EF"),
    (0x6581, e.CardMemoryError, "memory failure"),
    (0x6F00, e.CardNoDiagnosisError, "no precise diagnosis"),
    (0x6C14, e.WrongLengthError, "the right one is 20"),
    (0x63C2, e.StatusWordError, "2 tries left"),
    (0x6999, e.CommandNotAllowedError, "command not allowed"),
    (0x9999, e.CardNoDiagnosisError, "unknown status word"),
]


@pytest.mark.parametrize(("sw", "cls", "text"), MAPPING)
def test_status_word_maps_to_error(sw: int, cls: type[Exception], text: str) -> None:
    error = error_for(sw)
    assert type(error) is cls
    assert text in str(error) and f"SW {sw:04X}" in str(error)
    assert error.sw == sw and error.code == sw
    assert isinstance(error, DeviceStatusError)
    with pytest.raises(cls):
        raise_for_status(sw)


def test_success_raises_nothing() -> None:
    raise_for_status(0x9000)
    assert describe(0x9000) == "normal processing"


def test_more_data_described() -> None:
    assert describe(0x6112) == "18 more bytes of response data waiting"
    assert describe(0x6100) == "256 more bytes of response data waiting"


def test_health_of_errors() -> None:
    assert error_for(0x6A82).health is HealthState.ONLINE
    assert error_for(0x6581).health is HealthState.HARDWARE_ERROR
    assert e.PcscUnavailableError("x").health is HealthState.NO_DEVICE
    assert e.ReaderNotFoundError("x").health is HealthState.NO_DEVICE
    assert e.NoCardError("x").health is HealthState.USER_ERROR
    assert e.CardRemovedError("x").health is HealthState.USER_ERROR
    assert e.CardTimeoutError("x").health is HealthState.OFFLINE
    assert e.ApduFormatError("x").health is HealthState.ONLINE
