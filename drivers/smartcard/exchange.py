"""Command/response exchange over any transmit function: the T=0 style 61xx and 6Cxx rules.

``transceive`` sends one command and returns one complete response:
- 6Cxx (wrong Le; xx is the right length): the same command is sent again with Le = xx;
- 61xx (xx more bytes waiting): GET RESPONSE ``00 C0 00 00 xx`` is sent until the card stops
  saying 61xx, and the data of all the parts is joined.
Loops are bounded so a card that never stops cannot hang the caller. The transport (PC/SC, the
simulator's card object, anything) is the ``transmit`` callable, bytes in and bytes out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from drivers.smartcard.apdu import (
    CommandApdu,
    ResponseApdu,
    get_response,
    read_record,
    select_by_df_name,
    select_by_fid,
)
from drivers.smartcard.errors import ApduFormatError
from drivers.smartcard.status import raise_for_status

Transmit = Callable[[bytes], bytes]

MAX_GET_RESPONSE = 64  # 64 x 256 bytes: far above anything this package reads
MAX_RESEND = 2


def transceive(transmit: Transmit, command: CommandApdu) -> ResponseApdu:
    """Send ``command``; follow 6Cxx and 61xx; return the joined data and the final status."""
    response = _send_with_le_retry(transmit, command)
    data = bytearray(response.data)
    rounds = 0
    while response.sw1 == 0x61:
        rounds += 1
        if rounds > MAX_GET_RESPONSE:
            raise ApduFormatError(f"card kept answering 61xx after {MAX_GET_RESPONSE} GET RESPONSE")
        channel = command.cla & 0x03 if command.cla & 0x80 == 0 else 0
        follow = get_response(response.sw2 or 256, cla=channel)
        response = _send_with_le_retry(transmit, follow)
        data += response.data
    return ResponseApdu(bytes(data), response.sw1, response.sw2)


def _send_with_le_retry(transmit: Transmit, command: CommandApdu) -> ResponseApdu:
    response = ResponseApdu.decode(transmit(command.encode()))
    resends = 0
    while response.sw1 == 0x6C:
        resends += 1
        if resends > MAX_RESEND:
            raise ApduFormatError("card kept answering 6Cxx (wrong Le) after resending")
        command = replace(command, le=response.sw2 or 256)
        response = ResponseApdu.decode(transmit(command.encode()))
    return response


class Iso7816Card:
    """The interindustry commands on top of ``transceive``; each raises on a non-9000 status."""

    def __init__(self, transmit: Transmit) -> None:
        self._transmit = transmit

    def send(self, command: CommandApdu) -> bytes:
        """Exchange ``command``; return its data or raise the status word's error."""
        response = transceive(self._transmit, command)
        raise_for_status(response.sw)
        return response.data

    def select_application(self, df_name: bytes) -> bytes:
        """SELECT by DF name; returns the FCI the card sent (may be empty)."""
        return self.send(select_by_df_name(df_name))

    def select_file(self, fid: int) -> bytes:
        """SELECT an EF under the current DF by its two-byte identifier."""
        return self.send(select_by_fid(fid))

    def read_record(self, record: int, by_id: bool = False) -> bytes:
        """READ RECORD of the current EF by number (P2 04) or by record identifier (P2 00)."""
        return self.send(read_record(record, by=0x00 if by_id else 0x04))
