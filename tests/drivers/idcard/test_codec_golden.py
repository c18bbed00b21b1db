"""Golden byte vectors written by hand from the GA/T 467 SAM frame description.

Frame: AA AA AA 96 69 | LEN (2 bytes, big-endian, counts everything after it incl. checksum) |
body | XOR of the length bytes and the body. Commands are CMD PARA, answers SW1 SW2 SW3 DATA.
None of these literals is produced by the project's encoder.
"""

from __future__ import annotations

import pytest

from drivers.idcard import commands as cmds
from drivers.idcard.codec import (
    Command,
    FrameParser,
    Response,
    checksum,
    encode_command,
    encode_response,
)
from drivers.idcard.commands import format_sam_id

H = bytes.fromhex

# Requests: (command spec, hand-written frame).
REQUESTS = [
    (cmds.RESET, "AAAAAA9669 0003 10FF EC"),
    (cmds.SAM_STATUS, "AAAAAA9669 0003 11FF ED"),
    (cmds.SAM_ID, "AAAAAA9669 0003 12FF EE"),
    (cmds.FIND_CARD, "AAAAAA9669 0003 2001 22"),
    (cmds.SELECT_CARD, "AAAAAA9669 0003 2002 21"),
    (cmds.READ_BASE_INFO, "AAAAAA9669 0003 3001 32"),
    (cmds.READ_BASE_INFO_FP, "AAAAAA9669 0003 3010 23"),
    (cmds.READ_EXTRA_ADDRESS, "AAAAAA9669 0003 3003 30"),
    (cmds.READ_CHIP_ID, "AAAAAA9669 0003 3005 36"),
]

# Answers: (hand-written frame, SW3, data).
ANSWERS = [
    # SAM status OK (also the answer to reset).
    ("AAAAAA9669 0004 000090 94", 0x90, ""),
    # Find card: success is 0x9F, with 4 bytes.
    ("AAAAAA9669 0008 00009F 00000000 97", 0x9F, "00000000"),
    # Select card: 0x90 with 8 bytes.
    ("AAAAAA9669 000C 000090 0000000000000000 9C", 0x90, "0000000000000000"),
    # SAM id: 16 bytes.
    (
        "AAAAAA9669 0014 000090 050001000F3F340140E20100B168DE3A 1B",
        0x90,
        "050001000F3F340140E20100B168DE3A",
    ),
    # Chip id: 8 bytes.
    ("AAAAAA9669 000C 000090 10E4100102030405 79", 0x90, "10E4100102030405"),
    # Errors: no card, read failed, SAM failed to authenticate the card, no content.
    ("AAAAAA9669 0004 000080 84", 0x80, ""),
    ("AAAAAA9669 0004 000041 45", 0x41, ""),
    ("AAAAAA9669 0004 000032 36", 0x32, ""),
    ("AAAAAA9669 0004 000091 95", 0x91, ""),
    ("AAAAAA9669 0004 00009F 9B", 0x9F, ""),
]


@pytest.mark.parametrize(("spec", "frame"), REQUESTS, ids=[s.name for s, _ in REQUESTS])
def test_request_encoding(spec: cmds.CommandSpec, frame: str) -> None:
    assert spec.encode() == H(frame)
    assert encode_command(spec.cmd, spec.para) == H(frame)


@pytest.mark.parametrize(("spec", "frame"), REQUESTS, ids=[s.name for s, _ in REQUESTS])
def test_request_decoding(spec: cmds.CommandSpec, frame: str) -> None:
    parser = FrameParser(min_length=3)
    (body,) = parser.feed(H(frame))
    assert Command.decode(body) == Command(spec.cmd, spec.para)


@pytest.mark.parametrize(("frame", "sw3", "data"), ANSWERS)
def test_answer_decoding(frame: str, sw3: int, data: str) -> None:
    (body,) = FrameParser().feed(H(frame))
    response = Response.decode(body)
    assert (response.sw1, response.sw2, response.sw3) == (0, 0, sw3)
    assert response.data == H(data)


@pytest.mark.parametrize(("frame", "sw3", "data"), ANSWERS)
def test_answer_encoding(frame: str, sw3: int, data: str) -> None:
    assert encode_response(sw3, H(data)) == H(frame)


def test_checksum_covers_length_and_body() -> None:
    assert checksum(H("0003 11FF")) == 0xED
    assert checksum(H("0008 00009F 00000000")) == 0x97
    assert checksum(b"") == 0
    assert checksum(H("FF")) == 0xFF
    assert checksum(bytes(range(256))) == 0  # 0..255 XOR to zero


def test_answer_with_card_status_words_is_kept() -> None:
    # SW1 SW2 may carry the card's own status words (e.g. 0x41 read failed with 6A 82).
    frame = H("AAAAAA9669 0004 6A8241 AD")
    (body,) = FrameParser().feed(frame)
    response = Response.decode(body)
    assert (response.sw1, response.sw2, response.sw3) == (0x6A, 0x82, 0x41)


def test_sam_id_rendering() -> None:
    assert format_sam_id(H("050001000F3F340140E20100B168DE3A")) == (
        "05.01-20201231-0000123456-0987654321"
    )
    assert format_sam_id(H("0102")) == "0102"


def test_stream_resynchronises_after_noise_and_bad_frames() -> None:
    stream = H(
        # Noise, including a broken preamble.
        "00 13 AA AA 96 37"
        # An answer with a bad checksum (should be 94): rejected and counted.
        "AAAAAA9669 0004 000090 95"
        # A frame cut off after its length: torn, swallowed by the next frame's bytes.
        "AAAAAA9669 0008 0000"
        # The good answer to find card.
        "AAAAAA9669 0008 00009F 00000000 97"
        # Another good answer.
        "AAAAAA9669 0004 000080 84"
    )
    parser = FrameParser()
    bodies = parser.feed(stream)
    bodies += parser.abandon() if parser.pending else []
    assert [Response.decode(b).sw3 for b in bodies] == [0x9F, 0x80]
    assert parser.counters.bad_checksum >= 2
    assert parser.counters.skipped_bytes > 0
    assert parser.counters.frames == 2


def test_stream_one_byte_at_a_time() -> None:
    stream = H("AAAAAA9669 0004 000090 94AAAAAA9669 0008 00009F 00000000 97")
    parser = FrameParser()
    out: list[bytes] = []
    for byte in stream:
        assert parser.bytes_wanted() >= 1
        out += parser.feed(bytes([byte]))
    assert out == [H("000090"), H("00009F00000000")]
    assert parser.pending == 0


def test_bytes_wanted_reads_exactly_one_frame() -> None:
    parser = FrameParser()
    assert parser.bytes_wanted() == 7
    assert parser.feed(H("AAAAAA9669 0008")) == []
    assert parser.bytes_wanted() == 8
    assert parser.feed(H("00009F 00000000")) == []
    assert parser.bytes_wanted() == 1
    assert parser.feed(H("97")) == [H("00009F00000000")]


def test_length_out_of_range_is_rejected_and_counted() -> None:
    parser = FrameParser()
    # Declared length 2 (below the 4 of the smallest answer), then a good frame.
    assert parser.feed(H("AAAAAA9669 0002 0002AAAAAA9669 0004 000090 94")) == [H("000090")]
    assert parser.counters.bad_length == 1
    # A declared length above the maximum.
    assert parser.feed(H("AAAAAA9669 FFFF")) == []
    assert parser.counters.bad_length == 2


def test_abandon_recovers_a_frame_inside_a_torn_one() -> None:
    parser = FrameParser()
    # A torn frame declaring 0x0508 bytes, then a whole short answer: nothing completes yet.
    assert parser.feed(H("AAAAAA9669 0508 000090 0100AAAAAA9669 0004 000080 84")) == []
    assert parser.abandon() == [H("000080")]
    assert parser.counters.torn == 1


def test_clear_overwrites_buffer() -> None:
    parser = FrameParser()
    parser.feed(H("AAAAAA9669 0508 000090 4B6DD58B"))
    assert parser.pending
    parser.clear()
    assert parser.pending == 0


def test_answer_plausibility() -> None:
    assert cmds.FIND_CARD.plausible(0x9F, bytes(4))
    assert cmds.FIND_CARD.plausible(0x80, b"")
    assert not cmds.FIND_CARD.plausible(0x90, b"")  # a SAM-status answer
    assert cmds.SELECT_CARD.plausible(0x90, bytes(8))
    assert not cmds.SELECT_CARD.plausible(0x9F, bytes(4))  # a find-card answer
    assert not cmds.SAM_ID.plausible(0x90, b"")
    assert cmds.SAM_ID.plausible(0x90, bytes(16))
    assert cmds.READ_BASE_INFO.plausible(0x90, bytes(1284))
