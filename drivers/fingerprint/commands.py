"""R30x instructions: codes, command payloads and the layout of their answers (sans-I/O).

A command packet's payload is the instruction code followed by its parameters (big-endian).
The acknowledge packet's payload is a confirmation code followed by the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

CHAR_BUFFER_1 = 1
CHAR_BUFFER_2 = 2

DEFAULT_PASSWORD = 0x00000000

# Packet size code in ReadSysPara -> bytes of payload per data packet.
PACKET_SIZES = {0: 32, 1: 64, 2: 128, 3: 256}
BAUD_UNIT = 9600  # ReadSysPara's baud setting N means N x 9600 baud


class Instruction(IntEnum):
    """Instruction codes (first payload byte of a command packet)."""

    GEN_IMG = 0x01
    IMG2TZ = 0x02
    MATCH = 0x03
    SEARCH = 0x04
    REG_MODEL = 0x05
    STORE = 0x06
    LOAD_CHAR = 0x07
    UP_CHAR = 0x08
    DOWN_CHAR = 0x09
    DELETE_CHAR = 0x0C
    EMPTY = 0x0D
    READ_SYS_PARA = 0x0F
    VFY_PWD = 0x13
    HIGH_SPEED_SEARCH = 0x1B
    TEMPLATE_NUM = 0x1D


# The manual's names, for messages.
NAMES: dict[int, str] = {
    Instruction.GEN_IMG: "GenImg",
    Instruction.IMG2TZ: "Img2Tz",
    Instruction.MATCH: "Match",
    Instruction.SEARCH: "Search",
    Instruction.REG_MODEL: "RegModel",
    Instruction.STORE: "Store",
    Instruction.LOAD_CHAR: "LoadChar",
    Instruction.UP_CHAR: "UpChar",
    Instruction.DOWN_CHAR: "DownChar",
    Instruction.DELETE_CHAR: "DeleteChar",
    Instruction.EMPTY: "Empty",
    Instruction.READ_SYS_PARA: "ReadSysPara",
    Instruction.VFY_PWD: "VfyPwd",
    Instruction.HIGH_SPEED_SEARCH: "HighSpeedSearch",
    Instruction.TEMPLATE_NUM: "TemplateNum",
}


def name_of(instruction: int) -> str:
    """The manual's name of an instruction code."""
    return NAMES.get(instruction, f"instruction 0x{instruction:02X}")


def _u8(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{what} {value} is not in 0..255")
    return bytes([value])


def _u16(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"{what} {value} is not in 0..65535")
    return value.to_bytes(2, "big")


def _buffer(buffer_id: int) -> bytes:
    if buffer_id not in (CHAR_BUFFER_1, CHAR_BUFFER_2):
        raise ValueError(f"character buffer {buffer_id} is not 1 or 2")
    return bytes([buffer_id])


def gen_img() -> bytes:
    """Capture a finger image into the image buffer."""
    return bytes([Instruction.GEN_IMG])


def img2tz(buffer_id: int) -> bytes:
    """Turn the image into a character file in buffer 1 or 2."""
    return bytes([Instruction.IMG2TZ]) + _buffer(buffer_id)


def match() -> bytes:
    """Compare the character files in buffers 1 and 2."""
    return bytes([Instruction.MATCH])


def search(buffer_id: int, start: int, count: int) -> bytes:
    """Search ``count`` library pages from ``start`` for the character file in a buffer."""
    return (
        bytes([Instruction.SEARCH])
        + _buffer(buffer_id)
        + _u16(start, "start")
        + _u16(count, "page count")
    )


def high_speed_search(buffer_id: int, start: int, count: int) -> bytes:
    """Like :func:`search`, with the module's fast algorithm (same answer)."""
    return (
        bytes([Instruction.HIGH_SPEED_SEARCH])
        + _buffer(buffer_id)
        + _u16(start, "start")
        + _u16(count, "page count")
    )


def reg_model() -> bytes:
    """Combine buffers 1 and 2 into one template (left in both buffers)."""
    return bytes([Instruction.REG_MODEL])


def store(buffer_id: int, page_id: int) -> bytes:
    """Store a buffer's template at library page ``page_id``."""
    return bytes([Instruction.STORE]) + _buffer(buffer_id) + _u16(page_id, "template id")


def load_char(buffer_id: int, page_id: int) -> bytes:
    """Load the template at library page ``page_id`` into a buffer."""
    return bytes([Instruction.LOAD_CHAR]) + _buffer(buffer_id) + _u16(page_id, "template id")


def up_char(buffer_id: int) -> bytes:
    """Upload a buffer to the host: an acknowledge, then data packets."""
    return bytes([Instruction.UP_CHAR]) + _buffer(buffer_id)


def down_char(buffer_id: int) -> bytes:
    """Download a template into a buffer: the acknowledge, then the host sends data packets."""
    return bytes([Instruction.DOWN_CHAR]) + _buffer(buffer_id)


def delete_char(page_id: int, count: int = 1) -> bytes:
    """Delete ``count`` templates from library page ``page_id``."""
    return bytes([Instruction.DELETE_CHAR]) + _u16(page_id, "template id") + _u16(count, "count")


def empty() -> bytes:
    """Delete every template in the library."""
    return bytes([Instruction.EMPTY])


def read_sys_para() -> bytes:
    """Read the 16 bytes of system parameters."""
    return bytes([Instruction.READ_SYS_PARA])


def vfy_pwd(password: int = DEFAULT_PASSWORD) -> bytes:
    """Verify the 32-bit handshake password."""
    if not 0 <= password <= 0xFFFFFFFF:
        raise ValueError(f"password {password} is not 32 bits")
    return bytes([Instruction.VFY_PWD]) + password.to_bytes(4, "big")


def template_num() -> bytes:
    """Read how many templates the library holds."""
    return bytes([Instruction.TEMPLATE_NUM])


class AnswerLayoutError(ValueError):
    """An acknowledge's results are shorter than its command's answer needs."""


@dataclass(frozen=True, slots=True)
class SystemParameters:
    """ReadSysPara's 16 bytes: status register, system id, library size, security level,
    device address, packet size code and baud setting, each big-endian."""

    status: int
    system_id: int
    library_size: int
    security_level: int
    address: int
    packet_size_code: int
    baud_setting: int

    SIZE = 16

    @property
    def packet_size(self) -> int:
        """Bytes of payload per data packet (32, 64, 128 or 256; 128 if the code is unknown)."""
        return PACKET_SIZES.get(self.packet_size_code, 128)

    @property
    def baudrate(self) -> int:
        """The line speed in bit/s: the baud setting times 9600."""
        return self.baud_setting * BAUD_UNIT

    @property
    def busy(self) -> bool:
        """Status bit 0: the module is executing a command."""
        return bool(self.status & 0x01)

    @property
    def password_verified(self) -> bool:
        """Status bit 1: the handshake password was verified."""
        return bool(self.status & 0x02)

    @property
    def image_valid(self) -> bool:
        """Status bit 2: the image buffer holds a valid image."""
        return bool(self.status & 0x04)

    def encode(self) -> bytes:
        """The 16 bytes ReadSysPara answers with; what the simulator sends back."""
        return (
            self.status.to_bytes(2, "big")
            + self.system_id.to_bytes(2, "big")
            + self.library_size.to_bytes(2, "big")
            + self.security_level.to_bytes(2, "big")
            + self.address.to_bytes(4, "big")
            + self.packet_size_code.to_bytes(2, "big")
            + self.baud_setting.to_bytes(2, "big")
        )

    @classmethod
    def decode(cls, data: bytes) -> SystemParameters:
        """Parse ReadSysPara's answer; AnswerLayoutError if it is shorter than 16 bytes."""
        if len(data) < cls.SIZE:
            raise AnswerLayoutError(f"ReadSysPara answered {len(data)} bytes, 16 needed")

        def u16(at: int) -> int:
            return int.from_bytes(data[at : at + 2], "big")

        return cls(
            status=u16(0),
            system_id=u16(2),
            library_size=u16(4),
            security_level=u16(6),
            address=int.from_bytes(data[8:12], "big"),
            packet_size_code=u16(12),
            baud_setting=u16(14),
        )

    def as_dict(self) -> dict[str, int | bool]:
        """The parameters, decoded fields included, as JSON-ready data."""
        return {
            "status": self.status,
            "system_id": self.system_id,
            "library_size": self.library_size,
            "security_level": self.security_level,
            "address": self.address,
            "packet_size": self.packet_size,
            "baudrate": self.baudrate,
            "busy": self.busy,
            "password_verified": self.password_verified,
        }


def decode_u16(results: bytes, what: str) -> int:
    """A single big-endian 16-bit result (Match's score, TemplateNum's count)."""
    if len(results) < 2:
        raise AnswerLayoutError(f"{what} answered {len(results)} result bytes, 2 needed")
    return int.from_bytes(results[:2], "big")


def decode_search(results: bytes) -> tuple[int, int]:
    """Search's results: (page id, match score)."""
    if len(results) < 4:
        raise AnswerLayoutError(f"Search answered {len(results)} result bytes, 4 needed")
    return int.from_bytes(results[0:2], "big"), int.from_bytes(results[2:4], "big")
