"""The vpcd socket protocol, without I/O.

vpcd (the virtual reader driver that pcscd loads) and a virtual card exchange messages over TCP,
each prefixed by its length as 2 bytes big-endian. From vpcd to the card, a 1-byte message is a
control code: 00 power off, 01 power on, 02 reset, 04 get ATR (answered with the ATR); any longer
message is a command APDU, answered with the response APDU. Power off, power on and reset get no
answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.smartcard.errors import VpcdFrameError

CTRL_OFF = 0x00
CTRL_ON = 0x01
CTRL_RESET = 0x02
CTRL_ATR = 0x04
CONTROL_NAMES = {CTRL_OFF: "power off", CTRL_ON: "power on", CTRL_RESET: "reset", CTRL_ATR: "atr"}
MAX_MESSAGE = 0xFFFF
DEFAULT_PORT = 0x8C7B  # 35963, the CHANNELID of Debian's /etc/reader.conf.d/vpcd


def encode_frame(message: bytes) -> bytes:
    """``message`` with its 2-byte big-endian length in front."""
    if len(message) > MAX_MESSAGE:
        raise VpcdFrameError(f"vpcd message too long: {len(message)} bytes (max {MAX_MESSAGE})")
    return len(message).to_bytes(2, "big") + message


@dataclass(frozen=True, slots=True)
class Control:
    """A control message (power off/on, reset, get ATR, or an unknown code)."""

    code: int

    @property
    def name(self) -> str:
        """The control's name for logs; unknown codes named by their hex value."""
        return CONTROL_NAMES.get(self.code, f"unknown control {self.code:02X}")


@dataclass(frozen=True, slots=True)
class Apdu:
    """A command APDU to be answered (empty when vpcd sent a zero-length message)."""

    data: bytes


def classify(message: bytes) -> Control | Apdu:
    """What a message from vpcd is: a 1-byte control code or an APDU."""
    if len(message) == 1:
        return Control(message[0])
    return Apdu(message)


class VpcdDecoder:
    """Reassembles length-prefixed messages from a byte stream cut anywhere."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.messages = 0

    @property
    def pending(self) -> int:
        """Bytes held back, waiting for the rest of a message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every message they complete, in order."""
        self._buffer += data
        out: list[bytes] = []
        while len(self._buffer) >= 2:
            size = int.from_bytes(self._buffer[:2], "big")
            if len(self._buffer) < 2 + size:
                break
            out.append(bytes(self._buffer[2 : 2 + size]))
            del self._buffer[: 2 + size]
        self.messages += len(out)
        return out
