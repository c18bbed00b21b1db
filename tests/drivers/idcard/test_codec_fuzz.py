"""Hypothesis fuzzing of the frame codec, the stream parser and the payload parsers.

Random bytes never crash them; frames in noise and frames cut into random chunks are all found.
Frames here are assembled with a test-local XOR, not the project's encoder.
"""

from __future__ import annotations

from functools import reduce

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from drivers.idcard.codec import (
    MAX_LENGTH,
    CodecError,
    FrameParser,
    Response,
)
from drivers.idcard.errors import PayloadError
from drivers.idcard.layout import parse_base_info, parse_extra_address, parse_text

FUZZ = settings(
    max_examples=10_000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# Recovery properties build structured streams, which costs more per example.
RECOVERY = settings(FUZZ, max_examples=2_000)
PREAMBLE = bytes.fromhex("AAAAAA9669")


def frame(body: bytes) -> bytes:
    head = (len(body) + 1).to_bytes(2, "big")
    return PREAMBLE + head + body + bytes([xor(head + body)])


def xor(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def drain(parser: FrameParser, data: bytes, cuts: list[int]) -> list[bytes]:
    """Feed ``data`` in chunks cut at ``cuts``, then give up on whatever is left."""
    out: list[bytes] = []
    start = 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        out += parser.feed(data[start:cut])
        start = max(start, cut)
    for _ in range(len(data) + 1):
        if not parser.pending:
            break
        out += parser.abandon()
    return out


# Bodies of answers: SW1 SW2 SW3 and data, without 0xAA so they cannot hide a preamble.
no_aa = st.binary(max_size=40).map(lambda b: b.replace(b"\xaa", b"\x00"))
bodies = st.builds(lambda sw, data: sw + data, st.binary(min_size=3, max_size=3), no_aa).map(
    lambda b: b.replace(b"\xaa", b"\x01")
)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_codecs(data: bytes) -> None:
    # One strategy only, to keep 10 000 examples fast: the first byte picks the chunk size.
    step = (data[0] % 64 + 1) if data else 1
    parser = FrameParser()
    for body in drain(parser, data, list(range(step, len(data), step))):
        assert 3 <= len(body) <= MAX_LENGTH
        Response.decode(body)
    assert parser.pending == 0
    assert parser.counters.skipped_bytes <= len(data)
    assert min(parser.counters.as_dict().values()) >= 0
    # Payload parsers: only their own error, whatever the bytes.
    text = data[:256].ljust(256, b"\x20")
    for parse, payload in (
        (parse_base_info, data),
        (parse_base_info, b"\x01\x00\x00\x00" + text),
        (parse_text, text),
        (parse_extra_address, data),
    ):
        try:
            parse(payload)
        except PayloadError:
            pass
    try:
        Response.decode(data)
    except CodecError:
        pass


@RECOVERY
@given(
    st.lists(st.tuples(st.binary(max_size=12), bodies), min_size=1, max_size=5),
    st.lists(st.integers(0, 400), max_size=8),
)
def test_frames_in_noise_are_all_found(parts: list[tuple[bytes, bytes]], cuts: list[int]) -> None:
    # Noise without 0xAA cannot start a preamble; the frames are found whole and in order.
    stream = b"".join(noise.replace(b"\xaa", b"\x55") + frame(body) for noise, body in parts)
    parser = FrameParser()
    assert drain(parser, stream, cuts) == [body for _, body in parts]
    assert parser.counters.bad_checksum == 0


@RECOVERY
@given(
    bodies,
    st.integers(0, 10_000),
    st.integers(0, 7),
    bodies,
    st.lists(st.integers(0, 200), max_size=4),
)
def test_corrupted_or_torn_frame_then_good_frame(
    bad: bytes, cut_seed: int, flip_bit: int, good: bytes, cuts: list[int]
) -> None:
    broken = bytearray(frame(bad))
    if cut_seed % 2:
        broken[-1] ^= 1 << flip_bit  # a bad checksum
    else:
        del broken[len(PREAMBLE) + 2 + cut_seed % (len(broken) - 7) :]  # torn after its length
    stream = bytes(broken) + frame(good)
    # A torn frame whose declared length is filled by the next frame's bytes *and* whose
    # checksum then matches by chance (1 in 256) is indistinguishable from a valid frame:
    # no parser can recover the frame it swallowed. That case is excluded; all others must
    # yield the good frame.
    end = 7 + int.from_bytes(stream[5:7], "big")
    assume(not (len(stream) >= end and xor(stream[5 : end - 1]) == stream[end - 1]))
    parser = FrameParser()
    out = drain(parser, stream, cuts)
    assert out[-1:] == [good]
    if cut_seed % 2:
        assert parser.counters.bad_checksum >= 1
