"""GA/T 467 SAM frames: bytes <-> frames, with no I/O.

Wire format (both directions)::

    AA AA AA 96 69 | LEN_HI LEN_LO | body ... | CHK

``LEN`` (big-endian) counts every byte after itself, the checksum included. ``CHK`` is the XOR of
the two length bytes and every body byte. A command body is ``CMD PARA DATA...``; an answer body
is ``SW1 SW2 SW3 DATA...`` where SW3 is the SAM's own status (see :mod:`drivers.idcard.status`).

:class:`FrameParser` reads a byte stream that may hold noise, torn frames and frames with a bad
checksum: it resynchronises on the preamble, rejects and counts what is bad, and never loses a
valid frame that follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_SIZE = len(PREAMBLE) + 2
MIN_COMMAND_LENGTH = 3  # CMD PARA CHK
MIN_RESPONSE_LENGTH = 4  # SW1 SW2 SW3 CHK
# The largest documented answer is base info with fingerprints: 3 + 6 + 256 + 1024 + 1024 + 1.
MAX_LENGTH = 4096


class CodecError(ValueError):
    """A frame cannot be encoded or a body cannot be decoded."""


def checksum(data: bytes | bytearray | memoryview) -> int:
    """XOR of all bytes of ``data`` (the length bytes and the body)."""
    value = int.from_bytes(data, "big") if data else 0
    # Fold the integer on itself: XOR of its bytes, in O(log n) big-int operations.
    width = len(data) * 8
    while width > 8:
        half = ((width // 8 + 1) // 2) * 8
        value = (value >> half) ^ (value & ((1 << half) - 1))
        width = half
    return value


def encode_frame(body: bytes) -> bytes:
    """Wrap ``body`` in preamble, length and checksum."""
    length = len(body) + 1
    if length > 0xFFFF:
        raise CodecError(f"frame body of {len(body)} bytes is too long")
    head = length.to_bytes(2, "big")
    return PREAMBLE + head + body + bytes([checksum(head + body)])


@dataclass(frozen=True, slots=True)
class Command:
    """A request from the terminal to the SAM."""

    cmd: int
    para: int
    data: bytes = b""

    def encode(self) -> bytes:
        """The command as a complete frame (preamble, length, checksum) for the reader."""
        return encode_frame(bytes([self.cmd, self.para]) + self.data)

    @classmethod
    def decode(cls, body: bytes) -> Command:
        """A command from a frame body (what the simulator receives); CodecError if too short."""
        if len(body) < 2:
            raise CodecError(f"command body of {len(body)} bytes, need at least 2")
        return cls(body[0], body[1], bytes(body[2:]))


@dataclass(frozen=True, slots=True)
class Response:
    """An answer from the SAM: SW1 and SW2 forwarded from the card, SW3 the SAM status."""

    sw3: int
    data: bytes = b""
    sw1: int = 0
    sw2: int = 0

    def encode(self) -> bytes:
        """The answer as a complete frame (what the simulator sends)."""
        return encode_frame(bytes([self.sw1, self.sw2, self.sw3]) + self.data)

    @classmethod
    def decode(cls, body: bytes) -> Response:
        """An answer from a frame body; CodecError if it lacks the three status bytes."""
        if len(body) < 3:
            raise CodecError(f"answer body of {len(body)} bytes, need at least 3")
        return cls(sw3=body[2], data=bytes(body[3:]), sw1=body[0], sw2=body[1])


def encode_command(cmd: int, para: int, data: bytes = b"") -> bytes:
    """The bytes of a command frame to the reader."""
    return Command(cmd, para, data).encode()


def encode_response(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """The bytes of a response frame from the reader (for simulators and tests)."""
    return Response(sw3, data, sw1, sw2).encode()


@dataclass(slots=True)
class ParserCounters:
    """What the parser has seen; the driver reports these in its health."""

    frames: int = 0
    bad_checksum: int = 0
    bad_length: int = 0
    torn: int = 0
    skipped_bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name, for the driver's health report."""
        return {
            "frames": self.frames,
            "bad_checksum": self.bad_checksum,
            "bad_length": self.bad_length,
            "torn": self.torn,
            "skipped_bytes": self.skipped_bytes,
        }


@dataclass(slots=True)
class FrameParser:
    """Incremental frame reader: ``feed`` bytes, get back the bodies of every valid frame.

    ``min_length`` is 3 for commands (the simulator's side) and 4 for answers (the driver's).
    A declared length below it or above ``max_length`` is not a frame: the parser counts it and
    resynchronises on the next preamble. A frame whose checksum fails is counted and dropped,
    and the search resumes one byte after its preamble, so a good frame hidden in the tail of a
    torn one is still found.
    """

    min_length: int = MIN_RESPONSE_LENGTH
    max_length: int = MAX_LENGTH
    counters: ParserCounters = field(default_factory=ParserCounters)
    _buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add received bytes; return the bodies of the frames they complete, in order."""
        self._buf += data
        out: list[bytes] = []
        while True:
            body = self._next()
            if body is None:
                return out
            out.append(body)

    def bytes_wanted(self) -> int:
        """How many more bytes would complete the frame being read (at least 1).

        A transport read of exactly this many bytes returns as soon as the frame is complete.
        """
        buf = self._buf
        if len(buf) < HEADER_SIZE:
            return HEADER_SIZE - len(buf)
        length = (buf[5] << 8) | buf[6]
        return max(1, HEADER_SIZE + length - len(buf))

    @property
    def pending(self) -> int:
        """Bytes held that do not yet form a complete frame."""
        return len(self._buf)

    def abandon(self) -> list[bytes]:
        """Give up on a frame that will not be completed (the sender stopped mid-frame).

        The partial frame is counted as torn; any complete frame behind its preamble is returned.
        """
        if not self._buf:
            return []
        self.counters.torn += 1
        del self._buf[:1]
        return self.feed(b"")

    def clear(self) -> None:
        """Drop (and overwrite) every buffered byte: the buffer may hold citizen data."""
        self._buf[:] = bytes(len(self._buf))
        self._buf.clear()

    def _next(self) -> bytes | None:
        buf = self._buf
        while True:
            start = buf.find(PREAMBLE)
            if start < 0:
                # Keep a tail that could be the start of a preamble split across reads.
                keep = _preamble_prefix_len(buf)
                drop = len(buf) - keep
                if drop:
                    self.counters.skipped_bytes += drop
                    del buf[:drop]
                return None
            if start:
                self.counters.skipped_bytes += start
                del buf[:start]
            if len(buf) < HEADER_SIZE:
                return None
            length = (buf[5] << 8) | buf[6]
            if length < self.min_length or length > self.max_length:
                self.counters.bad_length += 1
                del buf[:1]
                continue
            end = HEADER_SIZE + length
            if len(buf) < end:
                return None
            if checksum(memoryview(buf)[5 : end - 1]) != buf[end - 1]:
                self.counters.bad_checksum += 1
                del buf[:1]
                continue
            body = bytes(buf[HEADER_SIZE : end - 1])
            del buf[:end]
            self.counters.frames += 1
            return body


def _preamble_prefix_len(buf: bytearray) -> int:
    """Length of the longest suffix of ``buf`` that is a proper prefix of the preamble."""
    for size in range(min(len(PREAMBLE) - 1, len(buf)), 0, -1):
        if buf[-size:] == PREAMBLE[:size]:
            return size
    return 0
