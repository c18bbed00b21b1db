"""The social-security card as a state machine: ATR, a file system, and APDU processing.

The card holds an MF (3F00) and, under it, the social-security application (SSSE) selected by its
DF name ``sx1.sh.社会保障``, with the record files EF05 and EF06 from the driver's layout and the
PIN-protected EF07/EF08 (READ RECORD there answers 6982). It answers like an ISO 7816-4 card:
6A82 for an unknown file or application, 6A83 for a missing record, 6D00 for an unknown INS,
6E00 for a class other than 00, 6986 when no EF is selected, 6700 for a malformed APDU.

Two behaviours of T=0 cards can be switched on to exercise the driver's exchange loop:
``get_response`` answers 61xx and hands the data out through GET RESPONSE (``chunk`` bytes at a
time), and ``strict_le`` answers 6Cxx (with the exact length) to any Le that is not exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.smartcard.apdu import (
    INS_GET_RESPONSE,
    INS_READ_RECORD,
    INS_SELECT,
    SELECT_BY_DF_NAME,
    SELECT_BY_FID,
    SELECT_EF_UNDER_DF,
    CommandApdu,
    ResponseApdu,
)
from drivers.smartcard.errors import ApduFormatError
from drivers.smartcard.socialsecurity import Layout, encode_record, load_layout
from sim.smartcard.holders import DECK, Holder

MF_FID = 0x3F00
# TS 3B (direct convention), T0 86 (TD1 follows, 6 historical bytes), TD1 80 (TD2 follows, T=0),
# TD2 01 (T=1), historical bytes "GOVSSC", then TCK (XOR of T0 .. last historical byte).
_ATR_BODY = bytes.fromhex("86 80 01") + b"GOVSSC"


def _atr() -> bytes:
    tck = 0
    for byte in _ATR_BODY:
        tck ^= byte
    return b"\x3b" + _ATR_BODY + bytes((tck,))


ATR = _atr()


@dataclass(slots=True)
class CardOptions:
    """Behaviour switches of the simulated card (see the module docstring)."""

    get_response: bool = False
    strict_le: bool = False
    chunk: int = 256
    omit: frozenset[str] = frozenset()  # fields whose records this card does not carry


@dataclass(slots=True)
class _Ef:
    fid: int
    records: list[bytes]
    protected: bool = False


@dataclass(slots=True)
class CardCounters:
    """What the card has seen: APDUs, and those it rejected as malformed."""

    apdus: int = 0
    malformed: int = 0
    by_sw: dict[int, int] = field(default_factory=dict)


class SocialSecurityCardModel:
    """One card: process APDU bytes, return response APDU bytes; no I/O."""

    def __init__(
        self,
        holder: Holder | None = None,
        layout: Layout | None = None,
        options: CardOptions | None = None,
    ) -> None:
        self.layout = layout or load_layout()
        self.holder = holder or DECK["zhang"]
        self.options = options or CardOptions()
        self.atr = ATR
        self.counters = CardCounters()
        self.log: list[tuple[bytes, bytes]] = []  # (command, response), newest last
        self.powered = False
        values = self.holder.values()
        self._efs: dict[int, _Ef] = {}
        for file in self.layout.files:
            records = [
                encode_record(spec, values[spec.field])
                for spec in file.records
                if spec.field not in self.options.omit
                and (values.get(spec.field) or not spec.optional)
            ]
            self._efs[file.fid] = _Ef(file.fid, records)
        for fid in self.layout.protected_files:
            self._efs[fid] = _Ef(fid, [b"\x01\x04\x00\x00\x00\x00"], protected=True)
        self._reset_state()

    def _reset_state(self) -> None:
        self._in_application = False
        self._current_ef: _Ef | None = None
        self._pending = b""

    # --- vpcd control codes ---

    def power_on(self) -> None:
        """The reader powers the card (vpcd power on), with no application or file selected."""
        self.powered = True
        self._reset_state()

    def power_off(self) -> None:
        """The reader cuts the card's power (vpcd power off); the selection is lost."""
        self.powered = False
        self._reset_state()

    def reset(self) -> None:
        """The reader resets the card: powered, no application or file selected."""
        self.powered = True
        self._reset_state()

    # --- APDUs ---

    def process(self, raw: bytes) -> bytes:
        """Answer one command APDU."""
        self.counters.apdus += 1
        try:
            command = CommandApdu.decode(raw)
        except ApduFormatError:
            self.counters.malformed += 1
            response = ResponseApdu.status(0x6700)
        else:
            response = self._dispatch(command)
        out = response.encode()
        self.counters.by_sw[response.sw] = self.counters.by_sw.get(response.sw, 0) + 1
        self.log.append((bytes(raw), out))
        del self.log[:-200]
        return out

    def _dispatch(self, c: CommandApdu) -> ResponseApdu:
        if c.cla != 0x00:
            return ResponseApdu.status(0x6E00)
        if c.ins == INS_GET_RESPONSE:
            return self._get_response(c)
        self._pending = b""
        if c.ins == INS_SELECT:
            return self._select(c)
        if c.ins == INS_READ_RECORD:
            return self._read_record(c)
        return ResponseApdu.status(0x6D00)

    def _answer(self, data: bytes, le: int | None) -> ResponseApdu:
        """Return ``data`` honouring Le, strict-Le and GET RESPONSE behaviours."""
        if not data:
            return ResponseApdu.status(0x9000)
        if self.options.get_response:
            self._pending = data
            return ResponseApdu.status(0x6100 | (len(data) & 0xFF))
        if le is None or (self.options.strict_le and le != len(data)) or le < len(data):
            return ResponseApdu.status(0x6C00 | (len(data) & 0xFF))
        return ResponseApdu(data, 0x90, 0x00)

    def _get_response(self, c: CommandApdu) -> ResponseApdu:
        if not self._pending:
            return ResponseApdu.status(0x6985)
        le = c.le or 256
        if self.options.strict_le and le > len(self._pending):
            return ResponseApdu.status(0x6C00 | (len(self._pending) & 0xFF))
        size = min(le, self.options.chunk, len(self._pending))
        part, self._pending = self._pending[:size], self._pending[size:]
        if self._pending:
            return ResponseApdu(part, 0x61, len(self._pending) & 0xFF)
        return ResponseApdu(part, 0x90, 0x00)

    def _select(self, c: CommandApdu) -> ResponseApdu:
        if c.p2 & 0xF3 != 0x00:
            return ResponseApdu.status(0x6A86)
        if c.p1 == SELECT_BY_DF_NAME:
            if c.data != self.layout.df_name:
                return ResponseApdu.status(0x6A82)
            self._in_application = True
            self._current_ef = None
            fci = bytes((0x6F, len(c.data) + 2, 0x84, len(c.data))) + c.data
            return self._answer(fci, c.le) if c.le is not None else ResponseApdu.status(0x9000)
        if c.p1 in (SELECT_BY_FID, SELECT_EF_UNDER_DF):
            if len(c.data) != 2:
                return ResponseApdu.status(0x6700)
            fid = int.from_bytes(c.data, "big")
            if fid == MF_FID and c.p1 == SELECT_BY_FID:
                self._in_application = False
                self._current_ef = None
                return ResponseApdu.status(0x9000)
            ef = self._efs.get(fid) if self._in_application else None
            if ef is None:
                return ResponseApdu.status(0x6A82)
            self._current_ef = ef
            return ResponseApdu.status(0x9000)
        return ResponseApdu.status(0x6A86)

    def _read_record(self, c: CommandApdu) -> ResponseApdu:
        sfi, mode = c.p2 >> 3, c.p2 & 0x07
        ef = self._current_ef
        if sfi:
            ef = self._efs.get(0xEF00 | sfi) if self._in_application else None
            if ef is None:
                return ResponseApdu.status(0x6A82)
            self._current_ef = ef
        if ef is None:
            return ResponseApdu.status(0x6986)
        if ef.protected:
            return ResponseApdu.status(0x6982)
        if mode == 0x04:
            if not 1 <= c.p1 <= len(ef.records):
                return ResponseApdu.status(0x6A83)
            return self._answer(ef.records[c.p1 - 1], c.le)
        if mode == 0x00:
            for record in ef.records:
                if record[0] == c.p1:
                    return self._answer(record, c.le)
            return ResponseApdu.status(0x6A83)
        return ResponseApdu.status(0x6A86)
