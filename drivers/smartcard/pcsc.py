"""The PC/SC transport: readers, card presence, connect and transmit, through pyscard.

This is the only module that touches PC/SC. It speaks to pcscd through pyscard's thin binding of
the WinSCard API (``smartcard.scard``) and turns every SCARD_* failure into this package's
errors: pcscd absent -> PcscUnavailableError, no such reader -> ReaderNotFoundError, no card ->
NoCardError, waiting too long -> CardTimeoutError. The client library finds pcscd at
/run/pcscd/pcscd.comm, or at the path in the environment variable PCSCLITE_CSOCK_NAME.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from smartcard import scard

from drivers.smartcard.errors import (
    CardRemovedError,
    CardTimeoutError,
    NoCardError,
    PcscError,
    PcscUnavailableError,
    ReaderNotFoundError,
)

_NO_SERVICE = {
    scard.SCARD_E_NO_SERVICE,
    scard.SCARD_E_SERVICE_STOPPED,
    scard.SCARD_E_INVALID_HANDLE,
    scard.SCARD_F_COMM_ERROR,
}
_NO_CARD = {scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_UNPOWERED_CARD}
_REMOVED = {scard.SCARD_W_REMOVED_CARD, scard.SCARD_W_RESET_CARD}
_NO_READER = {
    scard.SCARD_E_UNKNOWN_READER,
    scard.SCARD_E_READER_UNAVAILABLE,
    scard.SCARD_E_NO_READERS_AVAILABLE,
}
_WAIT_SLICE_MS = 1000  # one GetStatusChange call at most; bounds the wait loop's steps


def _message(code: int) -> str:
    try:
        return str(scard.SCardGetErrorMessage(code)).rstrip(". ")
    except Exception:  # noqa: BLE001 - pyscard raises on codes it does not know
        return f"SCARD error 0x{code & 0xFFFFFFFF:08X}"


def _raise(code: int, what: str) -> None:
    """Turn a non-zero SCARD_* result into this package's exception."""
    if code == scard.SCARD_S_SUCCESS:
        return
    detail = f"{what}: {_message(code)}"
    if code in _NO_SERVICE:
        raise PcscUnavailableError(f"{detail} (is pcscd running?)")
    if code in _REMOVED:
        raise CardRemovedError(f"{what}: the card was removed or reset")
    if code in _NO_CARD:
        raise NoCardError(f"{what}: no card in the reader")
    if code in _NO_READER:
        raise ReaderNotFoundError(detail)
    if code == scard.SCARD_E_TIMEOUT:
        raise CardTimeoutError(detail)
    raise PcscError(detail, code)


@dataclass(frozen=True, slots=True)
class ReaderState:
    """One reader as pcscd sees it: card present or not, and the card's ATR."""

    name: str
    present: bool
    atr: bytes
    flags: int

    @property
    def in_use(self) -> bool:
        """Another application holds the card exclusively."""
        return bool(self.flags & scard.SCARD_STATE_EXCLUSIVE)


def resolve_reader(readers: list[str], wanted: str | None) -> str:
    """The reader named ``wanted``: an exact name first, else the first containing it."""
    if not readers:
        raise ReaderNotFoundError("no smart-card reader is connected")
    if not wanted:
        return readers[0]
    if wanted in readers:
        return wanted
    for name in readers:
        if wanted.lower() in name.lower():
            return name
    raise ReaderNotFoundError(f"no reader matches {wanted!r}; readers: {', '.join(readers)}")


class PcscCard:
    """A connection to the card in one reader; ``transmit`` sends raw APDU bytes."""

    def __init__(self, handle: Any, protocol: int, reader: str, atr: bytes) -> None:
        self._handle = handle
        self._protocol = protocol
        self.reader = reader
        self.atr = atr

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU, return the response APDU (data + SW1 SW2)."""
        if self._handle is None:
            raise PcscError("the card connection is closed")
        code, response = scard.SCardTransmit(self._handle, self._protocol, list(apdu))
        _raise(code, "transmit")
        return bytes(response)

    def close(self) -> None:
        """Release the card (left powered for the next user); safe to call twice."""
        if self._handle is not None:
            scard.SCardDisconnect(self._handle, scard.SCARD_LEAVE_CARD)
            self._handle = None

    def __enter__(self) -> PcscCard:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class PcscContext:
    """A PC/SC resource-manager context, re-established after pcscd restarts."""

    def __init__(self) -> None:
        self._context: Any = None

    def open(self) -> None:
        """Establish the context; PcscUnavailableError if pcscd is not there."""
        if self._context is not None:
            return
        code, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        _raise(code, "connect to pcscd")
        self._context = context

    def close(self) -> None:
        """Release the context; safe to call twice."""
        if self._context is not None:
            try:
                scard.SCardReleaseContext(self._context)
            finally:
                self._context = None

    def __enter__(self) -> PcscContext:
        self.open()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, what: str, func: Any, *args: Any) -> Any:
        self.open()
        result = func(self._context, *args)
        code = result[0] if isinstance(result, (list, tuple)) else result
        if code in _NO_SERVICE:
            self.close()  # the daemon went away: the next call starts a new context
        _raise(code, what)
        return result

    def readers(self) -> list[str]:
        """Names of the connected readers (empty list when there are none)."""
        self.open()
        code, readers = scard.SCardListReaders(self._context, [])
        if code in (scard.SCARD_E_NO_READERS_AVAILABLE,):
            return []
        if code in _NO_SERVICE:
            self.close()
        _raise(code, "list readers")
        return list(readers)

    def states(self, readers: list[str] | None = None) -> list[ReaderState]:
        """The current state of each reader (all of them by default)."""
        names = self.readers() if readers is None else readers
        if not names:
            return []
        _, new = self._call(
            "read reader state",
            scard.SCardGetStatusChange,
            0,
            [(name, scard.SCARD_STATE_UNAWARE) for name in names],
        )
        return [_state(item) for item in new]

    def state(self, reader: str) -> ReaderState:
        """The current state of one reader."""
        return self.states([reader])[0]

    def wait_for_card(self, reader: str, timeout: float) -> ReaderState:
        """Block until a card is in ``reader``; CardTimeoutError after ``timeout`` seconds."""
        return self._wait(reader, timeout, want_present=True)

    def wait_for_removal(self, reader: str, timeout: float) -> ReaderState:
        """Block until ``reader`` is empty; CardTimeoutError after ``timeout`` seconds."""
        return self._wait(reader, timeout, want_present=False)

    def _wait(self, reader: str, timeout: float, want_present: bool) -> ReaderState:
        deadline = time.monotonic() + max(0.0, timeout)
        current = self.state(reader)
        while current.present != want_present:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                event = "inserted in" if want_present else "removed from"
                raise CardTimeoutError(f"no card was {event} {reader!r} within {timeout:g} s")
            self.open()
            known = current.flags & ~scard.SCARD_STATE_CHANGED
            code, new = scard.SCardGetStatusChange(
                self._context, min(left_ms, _WAIT_SLICE_MS), [(reader, known)]
            )
            if code == scard.SCARD_E_TIMEOUT:
                continue
            if code in _NO_SERVICE:
                self.close()
            _raise(code, f"wait on {reader!r}")
            current = _state(new[0])
        return current

    def connect(self, reader: str) -> PcscCard:
        """Connect (shared) to the card in ``reader``; NoCardError if it is empty."""
        _, handle, protocol = self._call(
            f"connect to the card in {reader!r}",
            scard.SCardConnect,
            reader,
            scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        )
        code, _name, _state_flags, _proto, atr = scard.SCardStatus(handle)
        if code != scard.SCARD_S_SUCCESS:
            scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
            _raise(code, "read the card status")
        return PcscCard(handle, protocol, reader, bytes(atr))


def _state(item: Any) -> ReaderState:
    name, flags, atr = item[0], int(item[1]), bytes(item[2])
    present = bool(flags & scard.SCARD_STATE_PRESENT) and not flags & scard.SCARD_STATE_MUTE
    return ReaderState(name=name, present=present, atr=atr if present else b"", flags=flags)
