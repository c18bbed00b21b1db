"""DLE EOT status bytes decoded bit by bit (values from the ESC/POS reference) and health."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.printer.errors import BadStatusByte
from drivers.printer.status import (
    decode_error_cause,
    decode_offline_cause,
    decode_paper_sensor,
    decode_printer,
    decode_status,
)
from govedge.health import HealthState

OK = 0x12  # 0001 0010: the fixed bits only, nothing to report


def test_printer_status_byte() -> None:
    assert decode_printer(0x12) == {
        "drawer_high": False, "online": True, "waiting_recovery": False, "feed_button": False
    }  # fmt: skip
    assert decode_printer(0x16)["drawer_high"] is True  # bit 2
    assert decode_printer(0x1A)["online"] is False  # bit 3: offline
    assert decode_printer(0x32)["waiting_recovery"] is True  # bit 5
    assert decode_printer(0x52)["feed_button"] is True  # bit 6


def test_offline_cause_byte() -> None:
    assert decode_offline_cause(0x16)["cover_open"] is True  # bit 2
    assert decode_offline_cause(0x1A)["feed_button"] is True  # bit 3
    assert decode_offline_cause(0x32)["paper_stop"] is True  # bit 5
    both = decode_offline_cause(0x72)  # bits 5 and 6: stopped at paper end, error
    assert both["paper_stop"] and both["error"] and not both["cover_open"]


def test_error_cause_byte() -> None:
    assert decode_error_cause(0x1A)["cutter_error"] is True  # bit 3
    assert decode_error_cause(0x32)["unrecoverable_error"] is True  # bit 5
    assert decode_error_cause(0x52)["recoverable_error"] is True  # bit 6
    assert not any(decode_error_cause(0x12).values())


def test_paper_sensor_byte() -> None:
    assert decode_paper_sensor(0x12) == {"paper_near_end": False, "paper_out": False}
    assert decode_paper_sensor(0x1E) == {"paper_near_end": True, "paper_out": False}  # 2-3
    assert decode_paper_sensor(0x72) == {"paper_near_end": False, "paper_out": True}  # 5-6
    assert decode_paper_sensor(0x7E) == {"paper_near_end": True, "paper_out": True}


@pytest.mark.parametrize("value", [0x00, 0xFF, 0x13, 0x02, 0x10, 0x92])
def test_bytes_without_the_fixed_pattern_are_rejected(value: int) -> None:
    with pytest.raises(BadStatusByte):
        decode_printer(value)


@pytest.mark.parametrize(
    ("raw", "state", "reading"),
    [
        ((OK, OK, OK, OK), HealthState.ONLINE, {"online": 1, "paper_out": 0}),
        ((0x1A, OK, OK, 0x72), HealthState.USER_ERROR, {"online": 0, "paper_out": 1}),
        ((0x1A, 0x16, OK, OK), HealthState.USER_ERROR, {"cover_open": 1}),
        ((0x1A, 0x52, 0x1A, OK), HealthState.HARDWARE_ERROR, {"cover_open": 0}),
        ((OK, OK, 0x32, OK), HealthState.HARDWARE_ERROR, {"online": 1}),
        ((OK, OK, OK, 0x1E), HealthState.ONLINE, {"paper_near_end": 1}),
        ((0x1A, OK, OK, OK), HealthState.OFFLINE, {"online": 0}),
        ((0x1A, 0x32, OK, OK), HealthState.USER_ERROR, {"paper_out": 1}),
    ],
)
def test_health_mapping(
    raw: tuple[int, int, int, int], state: HealthState, reading: dict[str, int]
) -> None:
    status = decode_status(*raw)
    assert status.health()[0] == state
    readings = status.readings()
    assert set(readings) == {"paper_out", "paper_near_end", "cover_open", "online"}
    for key, value in reading.items():
        assert readings[key] == value


def test_near_end_and_paper_out_details() -> None:
    assert "near end" in decode_status(OK, OK, OK, 0x1E).health()[1]
    assert "paper out" in decode_status(0x1A, OK, OK, 0x72).health()[1]
    assert decode_status(OK, OK, OK, OK).as_dict()["raw"]["paper_sensor"] == "0x12"


@settings(deadline=None, max_examples=300)
@given(st.tuples(*[st.integers(0, 255)] * 4))
def test_decoder_on_random_bytes(raw: tuple[int, int, int, int]) -> None:
    try:
        status = decode_status(*raw)
    except BadStatusByte:
        assert any(b & 0x93 != 0x12 for b in raw)
        return
    assert all(b & 0x93 == 0x12 for b in raw)
    assert set(status.readings().values()) <= {0, 1}
    assert status.health()[0] in HealthState
