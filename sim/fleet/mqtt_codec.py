"""Sans-I/O MQTT 3.1.1 packets: just what a lightweight device needs (CONNECT with a will,
QoS 0/1 PUBLISH, PUBACK, SUBSCRIBE, PINGREQ, DISCONNECT), and a parser for what the broker sends
back (CONNACK, PUBACK, SUBACK, and the PUBLISH of a subscription).

One asyncio protocol per device costs a few kilobytes; a full client library with its own
thread per device does not scale to ten thousand devices in one process.
"""

from __future__ import annotations

from dataclasses import dataclass

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x80
SUBACK = 0x90
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"


class MqttProtocolError(Exception):
    """The broker sent bytes that are not MQTT 3.1.1."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: str | bytes) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return len(raw).to_bytes(2, "big") + raw


def connect(
    client_id: str,
    keepalive: int = 60,
    will_topic: str | None = None,
    will_payload: bytes = b"",
    will_qos: int = 1,
    will_retain: bool = True,
    clean_session: bool = True,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    """A CONNECT packet (protocol level 4)."""
    flags = 0x02 if clean_session else 0
    payload = _str(client_id)
    if will_topic is not None:
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
        payload += _str(will_topic) + _str(will_payload)
    if username is not None:
        flags |= 0x80
        payload += _str(username)
        if password is not None:
            flags |= 0x40
            payload += _str(password)
    body = _str("MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big") + payload
    return bytes([CONNECT]) + _varint(len(body)) + body


def publish(
    topic: str,
    payload: bytes,
    qos: int = 0,
    packet_id: int = 0,
    retain: bool = False,
    dup: bool = False,
) -> bytes:
    """A PUBLISH packet; ``packet_id`` is required (1..65535) for QoS 1."""
    head = PUBLISH | (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = _str(topic) + (packet_id.to_bytes(2, "big") if qos else b"") + payload
    return bytes([head]) + _varint(len(body)) + body


def set_dup(packet: bytes) -> bytes:
    """The same PUBLISH marked as a redelivery."""
    return bytes([packet[0] | 0x08]) + packet[1:]


def puback(packet_id: int) -> bytes:
    """A PUBACK packet for ``packet_id``."""
    return bytes([PUBACK, 2]) + packet_id.to_bytes(2, "big")


def subscribe(packet_id: int, filters: list[tuple[str, int]]) -> bytes:
    """A SUBSCRIBE packet for ``(topic filter, max QoS)`` pairs."""
    body = packet_id.to_bytes(2, "big") + b"".join(_str(f) + bytes([qos]) for f, qos in filters)
    return bytes([SUBSCRIBE | 0x02]) + _varint(len(body)) + body


@dataclass(frozen=True, slots=True)
class Packet:
    """One packet from the broker: its type nibble, flags and body."""

    kind: int
    flags: int
    body: bytes

    @property
    def connack_code(self) -> int:
        """The CONNACK return code (0 accepted); 255 when the body is too short to hold one."""
        return self.body[1] if len(self.body) >= 2 else 255

    @property
    def packet_id(self) -> int:
        """The packet identifier: the body's first two bytes (PUBACK, SUBACK and the like)."""
        return int.from_bytes(self.body[:2], "big")

    def message(self) -> tuple[str, int, int, bytes]:
        """A PUBLISH's topic, QoS, packet id (0 at QoS 0) and payload."""
        if self.kind != PUBLISH or len(self.body) < 2:
            raise MqttProtocolError("not a PUBLISH packet")
        qos = (self.flags >> 1) & 0x03
        end = 2 + int.from_bytes(self.body[:2], "big")
        if qos > 2 or len(self.body) < end + (2 if qos else 0):
            raise MqttProtocolError("malformed PUBLISH")
        try:
            name = self.body[2:end].decode()
        except UnicodeDecodeError:
            raise MqttProtocolError("PUBLISH topic is not UTF-8") from None
        if not qos:
            return name, 0, 0, self.body[end:]
        return name, qos, int.from_bytes(self.body[end : end + 2], "big"), self.body[end + 2 :]


class PacketReader:
    """Splits a byte stream into packets; feed() returns the complete ones."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Packet]:
        """Append ``data`` and return the packets it completed; a partial packet waits for more.

        Raises MqttProtocolError on a malformed remaining length.
        """
        self._buf += data
        out: list[Packet] = []
        buf = self._buf
        while len(buf) >= 2:
            length = 0
            mult = 1
            pos = 1
            while True:
                if pos >= len(buf):
                    return out
                byte = buf[pos]
                length += (byte & 0x7F) * mult
                pos += 1
                if not byte & 0x80:
                    break
                mult *= 128
                if pos > 4:
                    raise MqttProtocolError("remaining length longer than 4 bytes")
            if len(buf) < pos + length:
                return out
            out.append(Packet(buf[0] & 0xF0, buf[0] & 0x0F, bytes(buf[pos : pos + length])))
            del buf[: pos + length]
        return out
