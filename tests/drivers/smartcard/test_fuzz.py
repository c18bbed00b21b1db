"""Random bytes into every parser of the driver: a clear error or a result, never a crash."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.smartcard.apdu import CommandApdu, ResponseApdu, read_record
from drivers.smartcard.errors import (
    ApduFormatError,
    ApplicationDataError,
    SmartcardError,
    StatusWordError,
)
from drivers.smartcard.exchange import transceive
from drivers.smartcard.socialsecurity import decode_record, load_layout
from drivers.smartcard.status import raise_for_status

FUZZ = settings(max_examples=10_000, deadline=None)
SPECS = [r for f in load_layout().files for r in f.records]


@FUZZ
@given(st.binary(max_size=300))
def test_response_parser(raw: bytes) -> None:
    try:
        response = ResponseApdu.decode(raw)
    except ApduFormatError:
        assert len(raw) < 2
        return
    assert response.encode() == raw
    assert len(response.data) == len(raw) - 2
    try:
        raise_for_status(response.sw)
    except StatusWordError as exc:
        assert exc.sw == response.sw != 0x9000
    else:
        assert response.sw == 0x9000


@settings(max_examples=3_000, deadline=None)
@given(st.binary(max_size=300))
def test_command_parser(raw: bytes) -> None:
    try:
        command = CommandApdu.decode(raw)
    except ApduFormatError:
        return
    assert CommandApdu.decode(command.encode()) == command
    assert command.encode()[:4] == raw[:4]


@settings(max_examples=1_000, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=80))
def test_exchange_with_a_card_answering_garbage(answers: list[bytes]) -> None:
    stream = iter(answers)

    def card(_: bytes) -> bytes:
        return next(stream, b"\x90\x00")

    try:
        response = transceive(card, read_record(1))
    except SmartcardError:
        return
    assert response.sw1 not in (0x61, 0x6C)


@settings(max_examples=1_000, deadline=None)
@given(st.sampled_from(SPECS), st.binary(max_size=40))
def test_record_decoder(spec: object, raw: bytes) -> None:
    try:
        value = decode_record(spec, raw)  # type: ignore[arg-type]
    except ApplicationDataError:
        return
    assert isinstance(value, str)
