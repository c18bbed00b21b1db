"""The simulator's ESC/POS parser and page builder on hand-written byte streams and random bytes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.printer.page import PageBuilder, SimReceipt
from sim.printer.parser import MAX_DATA, Command, EscPosParser, Event, StatusRequest, Text


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def receipts_of(data: bytes, *, chunk: int = 0) -> tuple[list[SimReceipt], PageBuilder]:
    parser, builder = EscPosParser(), PageBuilder()
    done: list[SimReceipt] = []
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)] if chunk else [data]
    for piece in pieces:
        for event in parser.feed(piece):
            receipt = builder.apply(event)
            if receipt is not None:
                done.append(receipt)
    return done, builder


def test_commands_by_name() -> None:
    events = EscPosParser().feed(h("1b 40 1b 61 01 1d 21 11 1c 26 1c 2e 10 04 04 0a"))
    assert events == [
        Command("ESC @"),
        Command("ESC a", b"\x01"),
        Command("GS !", b"\x11"),
        Command("FS &"),
        Command("FS ."),
        StatusRequest(4),
        Command("LF"),
    ]


def test_gb18030_in_chinese_mode_and_cp437_outside() -> None:
    stream = h("1c 26 d6 d0 ce c4 a3 ac 1c 2e 0a") + b"abc " + h("9c 0a")  # 9C = £ in PC437
    ((receipt), *_), _ = receipts_of(stream + h("1d 56 00"))
    assert receipt.text_lines == ["中文，", "abc £"]


def test_full_cut_and_partial_cut_with_feed() -> None:
    receipts, _ = receipts_of(b"one\n" + h("1d 56 00") + b"two\n" + h("1d 56 42 00"))
    assert [r.cut for r in receipts] == ["full", "partial"]
    assert [r.text_lines for r in receipts] == [["one"], ["two"]]
    receipts, _ = receipts_of(b"x\n" + h("1d 56 01") + h("1d 56 41 10"))  # partial; full+feed
    assert [r.cut for r in receipts] == ["partial", "full"]


def test_native_qr_code() -> None:
    # "办事12" is 3 + 3 + 2 = 8 bytes of UTF-8: store with pL = 8 + 3 = 0x0b, pH = 0.
    stream = (
        h("1d 28 6b 04 00 31 41 32 00")  # model 2
        + h("1d 28 6b 03 00 31 43 08")  # module size 8
        + h("1d 28 6b 03 00 31 45 33")  # error correction H (51)
        + h("1d 28 6b 0b 00 31 50 30")
        + h("e5 8a 9e e4 ba 8b 31 32")  # 办 事 1 2 in UTF-8
        + h("1d 28 6b 03 00 31 51 30")  # print
        + h("1d 56 00")
    )
    (receipt,), _ = receipts_of(stream)
    assert receipt.qr_payloads == ["办事12"]
    qr = receipt.elements[0]
    assert (qr.size, qr.ec) == (8, "H")  # type: ignore[union-attr]


def test_barcodes_both_forms() -> None:
    stream = h("1d 6b 04") + b"123" + h("00")  # CODE39, function A (NUL-terminated)
    stream += h("1d 6b 49 06 7b 42") + b"A-12"  # CODE128, function B, code set B
    stream += h("1d 56 00")
    (receipt,), _ = receipts_of(stream)
    assert receipt.barcodes == [("CODE39", "123"), ("CODE128", "A-12")]


def test_raster_image() -> None:
    # GS v 0 m=0, 1 byte x 2 rows: 0xF0 then 0x0F
    (receipt,), _ = receipts_of(h("1d 76 30 00 01 00 02 00 f0 0f 1d 56 00"))
    (image,) = receipt.images
    assert (image.width_bytes, image.height, image.data) == (1, 2, b"\xf0\x0f")


def test_status_requests_inside_a_receipt() -> None:
    events = EscPosParser().feed(b"ab" + h("10 04 01") + b"cd")
    assert events == [Text(b"ab"), StatusRequest(1), Text(b"cd")]


def test_incomplete_commands_wait_for_their_bytes() -> None:
    parser = EscPosParser()
    assert parser.feed(h("1d 28 6b 05 00 31")) == []
    assert parser.pending == 6
    assert parser.feed(h("50 30 41 42")) == [Command("GS ( k", h("05 00 31 50 30 41 42"))]
    assert parser.pending == 0


def test_unknown_commands_are_skipped_and_counted() -> None:
    parser = EscPosParser()
    events = parser.feed(h("1b fe") + b"ok" + h("0a"))
    assert events == [Text(b"ok"), Command("LF")]
    assert parser.unknown_commands == 1


def test_oversized_blocks_are_refused() -> None:
    parser = EscPosParser()
    rows = (MAX_DATA // 0xFFFF) + 2  # 65535 bytes wide x rows > MAX_DATA
    parser.feed(h("1d 76 30 00 ff ff") + bytes([rows, 0]))
    assert parser.oversized == 1
    assert parser.pending == 0


def test_byte_by_byte_gives_the_same_receipts() -> None:
    stream = (
        h("1b 40 1b 61 01 1b 45 01 1d 21 11 1c 26 bb d8 d6 b4 1c 2e 0a 1d 21 00 1b 45 00")
        + h("1d 28 6b 03 00 31 43 04 1d 28 6b 05 00 31 50 30 41 42 1d 28 6b 03 00 31 51 30")
        + h("1d 56 42 00")
    )
    whole, _ = receipts_of(stream)
    split, _ = receipts_of(stream, chunk=1)
    assert [r.text_lines for r in whole] == [r.text_lines for r in split] == [["回执"]]
    assert [r.qr_payloads for r in split] == [["AB"]]


def _merged(events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for event in events:
        if isinstance(event, Text) and out and isinstance(out[-1], Text):
            out[-1] = Text(out[-1].data + event.data)
        else:
            out.append(event)
    return out


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=600), st.lists(st.integers(1, 600), max_size=6))
def test_random_bytes_never_crash_and_chunking_does_not_matter(
    data: bytes, cuts: list[int]
) -> None:
    whole = EscPosParser()
    expected = _merged(whole.feed(data))
    chunked = EscPosParser()
    events: list[Event] = []
    start = 0
    for cut in sorted(cuts):
        events += chunked.feed(data[start:cut])
        start = max(start, cut)
    events += chunked.feed(data[start:])
    assert _merged(events) == expected
    assert chunked.pending == whole.pending <= len(data)
    builder = PageBuilder()
    for event in expected:
        builder.apply(event)  # decoding and page building never raise either
