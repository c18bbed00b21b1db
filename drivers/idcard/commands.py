"""The SAM commands (CMD, PARA) this driver sends, with their success status and answer data."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.idcard.codec import Command
from drivers.idcard.status import Status


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command: its bytes, the status it succeeds with, and what it is for (for errors)."""

    name: str
    cmd: int
    para: int
    action: str
    success: int = Status.OK
    # Data sizes a successful answer may carry (None: any); used to tell a late answer to an
    # earlier command from the answer to this one.
    data_sizes: tuple[int, ...] | None = None

    def plausible(self, sw3: int, data: bytes) -> bool:
        """Whether (SW3, data) can be this command's answer rather than another's."""
        if sw3 != self.success:
            # The other success code belongs to another command (0x9F is find card's only).
            return sw3 not in (Status.OK, Status.CARD_FOUND)
        return self.data_sizes is None or len(data) in self.data_sizes

    def command(self, data: bytes = b"") -> Command:
        """This command carrying ``data``."""
        return Command(self.cmd, self.para, data)

    def encode(self, data: bytes = b"") -> bytes:
        """The complete frame of this command carrying ``data``."""
        return self.command(data).encode()


RESET = CommandSpec("reset", 0x10, 0xFF, "reset the SAM", data_sizes=(0,))
SAM_STATUS = CommandSpec("sam_status", 0x11, 0xFF, "check the SAM status", data_sizes=(0,))
SAM_ID = CommandSpec("sam_id", 0x12, 0xFF, "read the SAM id", data_sizes=(16,))
FIND_CARD = CommandSpec(
    "find_card", 0x20, 0x01, "find a card", Status.CARD_FOUND, data_sizes=(0, 4)
)
SELECT_CARD = CommandSpec("select_card", 0x20, 0x02, "select the card", data_sizes=(0, 8))
READ_BASE_INFO = CommandSpec("read_base_info", 0x30, 0x01, "read the card's base information")
READ_BASE_INFO_FP = CommandSpec(
    "read_base_info_fp", 0x30, 0x10, "read the card's base information and fingerprints"
)
READ_EXTRA_ADDRESS = CommandSpec("read_extra_address", 0x30, 0x03, "read the extra address")
READ_CHIP_ID = CommandSpec("read_chip_id", 0x30, 0x05, "read the card's chip id")

COMMANDS: dict[tuple[int, int], CommandSpec] = {
    (spec.cmd, spec.para): spec
    for spec in (
        RESET,
        SAM_STATUS,
        SAM_ID,
        FIND_CARD,
        SELECT_CARD,
        READ_BASE_INFO,
        READ_BASE_INFO_FP,
        READ_EXTRA_ADDRESS,
        READ_CHIP_ID,
    )
}

SAM_ID_SIZE = 16


def format_sam_id(data: bytes) -> str:
    """Render the 16-byte SAM id the way vendor tools print it: ``05.01-20101025-…``.

    Two little-endian 16-bit numbers, then three little-endian 32-bit numbers. Anything that is
    not 16 bytes is shown in hex.
    """
    if len(data) != SAM_ID_SIZE:
        return data.hex().upper()
    a = int.from_bytes(data[0:2], "little")
    b = int.from_bytes(data[2:4], "little")
    c = int.from_bytes(data[4:8], "little")
    d = int.from_bytes(data[8:12], "little")
    e = int.from_bytes(data[12:16], "little")
    return f"{a:02d}.{b:02d}-{c:08d}-{d:010d}-{e:010d}"
