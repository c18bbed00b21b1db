"""R30x packets: encoding, checksums and a stream parser that resynchronises (sans-I/O).

Wire format of every packet, both directions::

    EF 01 | address (4, BE) | packet id (1) | length (2, BE) | payload | checksum (2, BE)

``length`` counts the payload and the two checksum bytes. The checksum is the 16-bit sum of the
packet id, the two length bytes and every payload byte (carries above 16 bits dropped).
Packet ids: 0x01 command, 0x02 data (more follows), 0x07 acknowledge, 0x08 end of data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

START = b"\xef\x01"
HEADER_SIZE = 9  # start code, address, packet id, length
DEFAULT_ADDRESS = 0xFFFFFFFF

PID_COMMAND = 0x01
PID_DATA = 0x02
PID_ACK = 0x07
PID_END_DATA = 0x08
PACKET_IDS = frozenset({PID_COMMAND, PID_DATA, PID_ACK, PID_END_DATA})

# The largest data packet is 256 bytes of payload; no command or answer is longer.
MAX_PAYLOAD = 256
MAX_LENGTH = MAX_PAYLOAD + 2


class PacketEncodeError(ValueError):
    """A packet cannot be encoded (payload too long, bad packet id or address)."""


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded packet."""

    pid: int
    payload: bytes
    address: int = DEFAULT_ADDRESS


def checksum(pid: int, payload: bytes) -> int:
    """The 16-bit sum of the packet id, the length bytes and the payload."""
    length = len(payload) + 2
    return (pid + (length >> 8) + (length & 0xFF) + sum(payload)) & 0xFFFF


def encode_packet(pid: int, payload: bytes, address: int = DEFAULT_ADDRESS) -> bytes:
    """The bytes of one packet."""
    if pid not in PACKET_IDS:
        raise PacketEncodeError(f"unknown packet id 0x{pid:02X}")
    if len(payload) > MAX_PAYLOAD:
        raise PacketEncodeError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    if not 0 <= address <= 0xFFFFFFFF:
        raise PacketEncodeError(f"address {address!r} is not 32 bits")
    length = len(payload) + 2
    return (
        START
        + address.to_bytes(4, "big")
        + bytes([pid])
        + length.to_bytes(2, "big")
        + payload
        + checksum(pid, payload).to_bytes(2, "big")
    )


def encode_command(payload: bytes, address: int = DEFAULT_ADDRESS) -> bytes:
    """A command packet: ``payload`` is the instruction code followed by its parameters."""
    return encode_packet(PID_COMMAND, payload, address)


def encode_data(data: bytes, chunk_size: int, address: int = DEFAULT_ADDRESS) -> list[bytes]:
    """``data`` split into data packets of ``chunk_size`` bytes, the last one ``end of data``."""
    if chunk_size <= 0 or chunk_size > MAX_PAYLOAD:
        raise PacketEncodeError(f"data packet size {chunk_size} not in 1..{MAX_PAYLOAD}")
    if not data:
        return [encode_packet(PID_END_DATA, b"", address)]
    chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    last = len(chunks) - 1
    return [
        encode_packet(PID_END_DATA if i == last else PID_DATA, chunk, address)
        for i, chunk in enumerate(chunks)
    ]


@dataclass(slots=True)
class ParserCounters:
    """What the parser threw away, by reason."""

    packets: int = 0
    bad_checksum: int = 0
    torn: int = 0
    bad_header: int = 0
    wrong_address: int = 0
    noise_bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name, for the driver's health report."""
        return {
            "packets": self.packets,
            "bad_checksum": self.bad_checksum,
            "torn": self.torn,
            "bad_header": self.bad_header,
            "wrong_address": self.wrong_address,
            "noise_bytes": self.noise_bytes,
        }

    @property
    def rejected(self) -> int:
        """Packets (or packet starts) discarded: bad checksum, torn, bad header, other address."""
        return self.bad_checksum + self.torn + self.bad_header + self.wrong_address


@dataclass(slots=True)
class PacketParser:
    """Turns a byte stream into packets, whatever noise or tearing the line adds.

    Feed it bytes as they come; it returns every complete packet whose checksum is right.
    It looks for the start code EF 01; a start whose header is impossible (unknown packet id,
    length out of range), whose checksum is wrong, or which is cut short by a complete packet
    that starts inside it (a torn packet) is counted and dropped, and the search resumes one
    byte after that start, so that a good packet behind a bad one is never lost.

    ``address`` set: packets from another address are counted and dropped.
    """

    address: int | None = None
    counters: ParserCounters = field(default_factory=ParserCounters)
    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Packet]:
        """Add ``data`` and return the packets it completed, in order."""
        self._buffer += data
        packets: list[Packet] = []
        while True:
            packet = self._next()
            if packet is None:
                return packets
            packets.append(packet)

    def needed(self) -> int:
        """How many more bytes the packet being read needs at least (1 if unknown)."""
        buf = self._buffer
        if len(buf) < HEADER_SIZE or buf[:2] != START:
            return max(1, HEADER_SIZE - len(buf))
        length = int.from_bytes(buf[7:9], "big")
        return max(1, HEADER_SIZE + length - len(buf))

    def pending(self) -> int:
        """Bytes held while waiting for the rest of a packet."""
        return len(self._buffer)

    def drop_partial(self) -> list[Packet]:
        """Give up on the packet being read (the line went quiet): count it as torn, rescan.

        Returns any packet found in the bytes after its start.
        """
        if not self._buffer:
            return []
        if self._buffer[:2] == START:
            self.counters.torn += 1
            del self._buffer[:2]
        return self.feed(b"")

    def reset(self) -> None:
        """Forget buffered bytes (counted as noise)."""
        self.counters.noise_bytes += len(self._buffer)
        self._buffer.clear()

    def _skip_to_start(self) -> None:
        buf = self._buffer
        at = buf.find(START)
        if at < 0:
            # Keep a trailing 0xEF: it may be the first half of a start code.
            keep = 1 if buf[-1:] == START[:1] else 0
            self.counters.noise_bytes += len(buf) - keep
            del buf[: len(buf) - keep]
        elif at > 0:
            self.counters.noise_bytes += at
            del buf[:at]

    def _drop_start(self) -> None:
        """Discard the start code at the head of the buffer and look for the next one."""
        del self._buffer[:2]

    def _next(self) -> Packet | None:
        buf = self._buffer
        while True:
            self._skip_to_start()
            if len(buf) < HEADER_SIZE:
                return None
            pid = buf[6]
            length = int.from_bytes(buf[7:9], "big")
            if pid not in PACKET_IDS or length < 2 or length > MAX_LENGTH:
                self.counters.bad_header += 1
                self._drop_start()
                continue
            total = HEADER_SIZE + length
            if len(buf) < total:
                if self._torn_by_later_packet(total):
                    self.counters.torn += 1
                    self._drop_start()
                    continue
                return None
            packet = _decode(bytes(buf[:total]))
            if packet is None:
                self.counters.bad_checksum += 1
                self._drop_start()
                continue
            del buf[:total]
            if self.address is not None and packet.address != self.address:
                self.counters.wrong_address += 1
                continue
            self.counters.packets += 1
            return packet

    def _torn_by_later_packet(self, total: int) -> bool:
        """True if a complete, valid packet starts inside the incomplete one at the head."""
        buf = self._buffer
        at = buf.find(START, 1)
        while 0 < at < total:
            if len(buf) - at >= HEADER_SIZE:
                length = int.from_bytes(buf[at + 7 : at + 9], "big")
                end = at + HEADER_SIZE + length
                if (
                    buf[at + 6] in PACKET_IDS
                    and 2 <= length <= MAX_LENGTH
                    and end <= len(buf)
                    and _decode(bytes(buf[at:end])) is not None
                ):
                    return True
            at = buf.find(START, at + 1)
        return False


def _decode(raw: bytes) -> Packet | None:
    """A whole packet from its exact bytes, or None if its checksum is wrong."""
    pid = raw[6]
    payload = raw[HEADER_SIZE:-2]
    if int.from_bytes(raw[-2:], "big") != checksum(pid, payload):
        return None
    return Packet(pid=pid, payload=payload, address=int.from_bytes(raw[2:6], "big"))


def decode_packet(raw: bytes) -> Packet:
    """Decode exactly one packet; raise ValueError if ``raw`` is not one valid packet."""
    if len(raw) < HEADER_SIZE + 2 or raw[:2] != START:
        raise ValueError("not an R30x packet: no start code or too short")
    length = int.from_bytes(raw[7:9], "big")
    if len(raw) != HEADER_SIZE + length or raw[6] not in PACKET_IDS:
        raise ValueError("not an R30x packet: length or packet id wrong")
    packet = _decode(raw)
    if packet is None:
        raise ValueError("R30x packet checksum wrong")
    return packet
