"""vpcd framing: vectors written by hand from the vpcd socket protocol, and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.smartcard.errors import VpcdFrameError
from sim.smartcard.vpcd import (
    DEFAULT_PORT,
    Apdu,
    Control,
    VpcdDecoder,
    classify,
    encode_frame,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


FRAMES = [
    # control messages from vpcd: power off, power on, reset, get ATR
    (h("00"), "00 01 00"),
    (h("01"), "00 01 01"),
    (h("02"), "00 01 02"),
    (h("04"), "00 01 04"),
    # the ATR sent back
    (h("3B 86 80 01 47 4F 56 53 53 43 1A"), "00 0B 3B 86 80 01 47 4F 56 53 53 43 1A"),
    # a READ RECORD command and a status-only answer
    (h("00 B2 08 00 00"), "00 05 00 B2 08 00 00"),
    (h("6A 82"), "00 02 6A 82"),
    # an empty message
    (b"", "00 00"),
]


@pytest.mark.parametrize(("message", "wire"), FRAMES)
def test_frame_vectors(message: bytes, wire: str) -> None:
    assert encode_frame(message) == h(wire)
    assert VpcdDecoder().feed(h(wire)) == [message]


def test_long_message_length_big_endian() -> None:
    assert encode_frame(bytes(300))[:2] == h("01 2C")
    assert encode_frame(bytes(0xFFFF))[:2] == h("FF FF")
    with pytest.raises(VpcdFrameError):
        encode_frame(bytes(0x10000))


def test_stream_cut_at_every_byte() -> None:
    wire = b"".join(h(w) for _, w in FRAMES)
    decoder = VpcdDecoder()
    got: list[bytes] = []
    for i in range(len(wire)):
        got += decoder.feed(wire[i : i + 1])
    assert got == [m for m, _ in FRAMES]
    assert decoder.pending == 0 and decoder.messages == len(FRAMES)


def test_partial_frame_held_back() -> None:
    decoder = VpcdDecoder()
    assert decoder.feed(h("00 05 00 B2")) == []
    assert decoder.pending == 4
    assert decoder.feed(h("08 00 00 00 01")) == [h("00 B2 08 00 00")]
    assert decoder.feed(h("04")) == [h("04")]


def test_classify() -> None:
    assert classify(h("04")) == Control(4) and Control(4).name == "atr"
    assert Control(0x09).name == "unknown control 09"
    assert classify(h("00 A4 04 00")) == Apdu(h("00 A4 04 00"))
    assert classify(b"") == Apdu(b"")


def test_default_port_is_debians() -> None:
    # /etc/reader.conf.d/vpcd: CHANNELID 0x8C7B
    assert DEFAULT_PORT == 0x8C7B == 35963


@settings(max_examples=10_000, deadline=None)
@given(st.binary(max_size=200), st.integers(1, 64))
def test_framer_on_random_bytes(stream: bytes, cut: int) -> None:
    """Random bytes fed in pieces: what comes out is exactly what the length prefixes frame,
    and the rest is held back."""
    decoder = VpcdDecoder()
    messages: list[bytes] = []
    for pos in range(0, len(stream), cut):
        messages += decoder.feed(stream[pos : pos + cut])
    _check_framing(stream, messages, decoder)


@settings(max_examples=2_000, deadline=None)
@given(st.lists(st.binary(max_size=30), max_size=4), st.binary(max_size=120), st.integers(1, 64))
def test_framer_on_frames_then_noise(valid: list[bytes], noise: bytes, cut: int) -> None:
    """Whole frames then random bytes: the frames come out first, intact."""
    stream = b"".join(encode_frame(m) for m in valid) + noise
    decoder = VpcdDecoder()
    messages: list[bytes] = []
    for pos in range(0, len(stream), cut):
        messages += decoder.feed(stream[pos : pos + cut])
    assert messages[: len(valid)] == valid
    _check_framing(stream, messages, decoder)


def _check_framing(stream: bytes, messages: list[bytes], decoder: VpcdDecoder) -> None:
    consumed = b"".join(encode_frame(m) for m in messages)
    assert stream.startswith(consumed)
    assert len(consumed) + decoder.pending == len(stream)
    if decoder.pending >= 2:
        size = int.from_bytes(stream[len(consumed) : len(consumed) + 2], "big")
        assert size + 2 > decoder.pending
