"""ISO/IEC 7816-4 APDUs as bytes, without I/O.

A command APDU is CLA INS P1 P2, then optionally Lc and data, then optionally Le. The four cases:

- case 1: no data, no response data expected: ``CLA INS P1 P2``
- case 2: response data expected: ``CLA INS P1 P2 Le``
- case 3: command data: ``CLA INS P1 P2 Lc data``
- case 4: both: ``CLA INS P1 P2 Lc data Le``

Short form: Lc is one byte (1..255), Le one byte (1..256, 256 encoded 00). Extended form (data
longer than 255 bytes or Le above 256): a 00 marker byte, then two-byte Lc and/or Le (Le 65536
encoded 0000; in case 4E the marker is not repeated before Le).

A response APDU is the response data followed by the two status bytes SW1 SW2.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.smartcard.errors import ApduFormatError

SHORT_MAX_LC = 255
SHORT_MAX_LE = 256
EXTENDED_MAX_LC = 65535
EXTENDED_MAX_LE = 65536


@dataclass(frozen=True, slots=True)
class CommandApdu:
    """One command: header bytes, data (may be empty) and the expected length (None = absent)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ApduFormatError(f"{name.upper()} out of range: {value}")
        if len(self.data) > EXTENDED_MAX_LC:
            raise ApduFormatError(f"command data too long: {len(self.data)} bytes")
        if self.le is not None and not 1 <= self.le <= EXTENDED_MAX_LE:
            raise ApduFormatError(f"Le out of range: {self.le} (1..65536)")

    @property
    def case(self) -> int:
        """The ISO 7816-4 case, 1 to 4."""
        if self.data:
            return 3 if self.le is None else 4
        return 1 if self.le is None else 2

    @property
    def extended(self) -> bool:
        """True when the short form cannot carry Lc or Le."""
        return len(self.data) > SHORT_MAX_LC or (self.le is not None and self.le > SHORT_MAX_LE)

    def encode(self) -> bytes:
        """The command as bytes, in the short form when it fits, else the extended form."""
        out = bytearray((self.cla, self.ins, self.p1, self.p2))
        if self.extended:
            out.append(0x00)
            if self.data:
                out += len(self.data).to_bytes(2, "big")
                out += self.data
            if self.le is not None:
                out += (self.le % EXTENDED_MAX_LE).to_bytes(2, "big")
        else:
            if self.data:
                out.append(len(self.data))
                out += self.data
            if self.le is not None:
                out.append(self.le % SHORT_MAX_LE)
        return bytes(out)

    @classmethod
    def decode(cls, raw: bytes) -> CommandApdu:
        """Parse a command APDU (what a card sees); raise ApduFormatError if it is not one."""
        n = len(raw)
        if n < 4:
            raise ApduFormatError(f"command APDU shorter than its header: {n} bytes")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or SHORT_MAX_LE)
        if body[0] != 0:
            lc = body[0]
            if len(body) == 1 + lc:
                return cls(cla, ins, p1, p2, bytes(body[1:]))
            if len(body) == 2 + lc:
                return cls(cla, ins, p1, p2, bytes(body[1:-1]), body[-1] or SHORT_MAX_LE)
            raise ApduFormatError(f"Lc {lc} does not match the {len(body) - 1} bytes after it")
        # Extended length: 00 marker, then Le (2 bytes) or Lc (2 bytes) + data [+ Le (2 bytes)].
        if len(body) == 3:
            return cls(cla, ins, p1, p2, le=int.from_bytes(body[1:3], "big") or EXTENDED_MAX_LE)
        if len(body) < 3:
            raise ApduFormatError("extended-length command APDU torn inside its length field")
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise ApduFormatError("extended Lc of zero")
        rest = body[3:]
        if len(rest) == lc:
            return cls(cla, ins, p1, p2, bytes(rest))
        if len(rest) == lc + 2:
            le = int.from_bytes(rest[-2:], "big") or EXTENDED_MAX_LE
            return cls(cla, ins, p1, p2, bytes(rest[:-2]), le)
        raise ApduFormatError(f"extended Lc {lc} does not match the {len(rest)} bytes after it")


@dataclass(frozen=True, slots=True)
class ResponseApdu:
    """One response: data and the status word SW1 SW2."""

    data: bytes
    sw1: int
    sw2: int

    @property
    def sw(self) -> int:
        """SW1 SW2 as one number, e.g. 0x9000."""
        return (self.sw1 << 8) | self.sw2

    @property
    def ok(self) -> bool:
        """True for 9000 (normal processing)."""
        return self.sw == 0x9000

    def encode(self) -> bytes:
        """The response as bytes (data then SW1 SW2)."""
        return self.data + bytes((self.sw1, self.sw2))

    @classmethod
    def decode(cls, raw: bytes) -> ResponseApdu:
        """Split a response into data and status word; raise ApduFormatError if under 2 bytes."""
        if len(raw) < 2:
            raise ApduFormatError(f"response APDU shorter than its status word: {raw.hex()!r}")
        return cls(bytes(raw[:-2]), raw[-2], raw[-1])

    @classmethod
    def status(cls, sw: int, data: bytes = b"") -> ResponseApdu:
        """Build a response from a status word such as 0x6A82."""
        return cls(data, (sw >> 8) & 0xFF, sw & 0xFF)


# --- The interindustry commands this package uses (ISO/IEC 7816-4, CLA 00). ---

INS_SELECT = 0xA4
INS_READ_RECORD = 0xB2
INS_READ_BINARY = 0xB0
INS_GET_RESPONSE = 0xC0
INS_VERIFY = 0x20

SELECT_BY_FID = 0x00  # P1: select MF, DF or EF by file identifier
SELECT_CHILD_DF = 0x01
SELECT_EF_UNDER_DF = 0x02
SELECT_PARENT = 0x03
SELECT_BY_DF_NAME = 0x04

READ_RECORD_BY_ID = 0x00  # P2 low bits 000: P1 is a record identifier, first occurrence
READ_RECORD_BY_NUMBER = 0x04  # P2 low bits 100: P1 is a record number


def select_by_df_name(name: bytes, le: int | None = None) -> CommandApdu:
    """SELECT by DF name (application identifier): ``00 A4 04 00 Lc name [Le]``."""
    return CommandApdu(0x00, INS_SELECT, SELECT_BY_DF_NAME, 0x00, name, le)


def select_by_fid(fid: int, p1: int = SELECT_EF_UNDER_DF, le: int | None = None) -> CommandApdu:
    """SELECT by file identifier: ``00 A4 P1 00 02 FID [Le]`` (P1 02: an EF under the DF)."""
    return CommandApdu(0x00, INS_SELECT, p1, 0x00, fid.to_bytes(2, "big"), le)


def read_record(
    record: int, sfi: int = 0, by: int = READ_RECORD_BY_NUMBER, le: int = 256
) -> CommandApdu:
    """READ RECORD: ``00 B2 P1 P2 Le``; P2 = SFI << 3 | mode (SFI 0: the current EF)."""
    if not 0 <= sfi <= 30:
        raise ApduFormatError(f"SFI out of range: {sfi}")
    return CommandApdu(0x00, INS_READ_RECORD, record, (sfi << 3) | by, le=le)


def read_binary(offset: int, le: int = 256) -> CommandApdu:
    """READ BINARY at a 15-bit offset in the current EF: ``00 B0 P1 P2 Le``."""
    if not 0 <= offset <= 0x7FFF:
        raise ApduFormatError(f"READ BINARY offset out of range: {offset}")
    return CommandApdu(0x00, INS_READ_BINARY, offset >> 8, offset & 0xFF, le=le)


def get_response(le: int, cla: int = 0x00) -> CommandApdu:
    """GET RESPONSE: ``00 C0 00 00 Le``, fetching what a 61xx announced."""
    return CommandApdu(cla, INS_GET_RESPONSE, 0x00, 0x00, le=le)
