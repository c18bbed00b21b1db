"""The ID-card reader interface, and its implementation over a serial SAM_V module.

:class:`IdCardReader` is the typed interface every reader offers: the SAM commands, and the
``read_card`` flow (find -> select -> read base info, with the retries the protocol calls for)
with photo decoding. :class:`SamSerialReader` speaks GA/T 467 frames over any transport
:func:`drivers.transport.open_serial` opens. A reader driven through the vendor SDK (sdtapi)
implements the same interface (see :mod:`drivers.idcard.sdtapi`).

All calls block; the edge agent runs them in a worker thread.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass

from typing_extensions import override

from drivers.errors import DeviceTimeout, DriverError, TransportError
from drivers.idcard import commands as cmds
from drivers.idcard.card import IdentityCard
from drivers.idcard.codec import FrameParser, ParserCounters, Response
from drivers.idcard.commands import CommandSpec, format_sam_id
from drivers.idcard.errors import (
    CardReadError,
    CardSelectError,
    IdCardFrameError,
    NoCardError,
    PayloadError,
    PhotoDecodeError,
)
from drivers.idcard.layout import parse_base_info, parse_extra_address
from drivers.idcard.photo import PhotoDecoderChain, default_decoders
from drivers.idcard.status import Status, check, describe
from drivers.transport import ByteTransport, open_serial
from govedge.logs import fields, get_logger

log = get_logger(__name__)

DEFAULT_BAUDRATE = 115200


class CardRemovedError(CardReadError):
    """The card went away during the read (a read failed, then no card was found)."""


@dataclass(frozen=True, slots=True)
class SamInfo:
    """What ``govedge device idcard sam`` shows."""

    status: str
    sam_id: str


class IdCardReader(ABC):
    """An ID-card reader: SAM commands plus the whole card-reading flow.

    ``find_attempts`` bounds the find-card retries (0x80: no card yet), ``card_attempts`` the
    whole find/select/read sequence when the card is lost on the way (0x81, 0x41, 0x47).
    """

    def __init__(
        self,
        *,
        decoders: PhotoDecoderChain | None = None,
        find_attempts: int = 2,
        card_attempts: int = 3,
        retry_delay: float = 0.05,
    ) -> None:
        self.decoders = decoders or default_decoders()
        self.find_attempts = max(1, find_attempts)
        self.card_attempts = max(1, card_attempts)
        self.retry_delay = retry_delay
        self.counters: Counter[str] = Counter()

    @abstractmethod
    def open(self) -> None:
        """Open the transport to the reader; a DriverError (NoDeviceError, ...) if it cannot."""

    @abstractmethod
    def close(self) -> None:
        """Release the transport; safe to call twice."""

    @abstractmethod
    def reset_sam(self) -> None:
        """Reset the SAM module (``10 FF``)."""

    @abstractmethod
    def sam_status(self) -> None:
        """Check the SAM (``11 FF``); raise SamFaultError if it reports a fault."""

    @abstractmethod
    def sam_id(self) -> str:
        """The SAM's id (``12 FF``), as vendor tools print it."""

    @abstractmethod
    def find_card(self) -> bool:
        """Look for a card (``20 01``): True if found, False if none (0x80)."""

    @abstractmethod
    def select_card(self) -> bytes:
        """Select the card found (``20 02``); returns the card's serial bytes."""

    @abstractmethod
    def read_base_info(self, fingerprint: bool = False) -> IdentityCard:
        """Read text and photo (``30 01``), with fingerprint data when asked (``30 10``)."""

    @abstractmethod
    def read_extra_address(self) -> list[str]:
        """Addresses appended after issue (``30 03``); empty if none (0x91)."""

    @abstractmethod
    def read_chip_id(self) -> str:
        """The card chip's serial (``30 05``) in hex."""

    def sam_info(self) -> SamInfo:
        """Check the SAM, then read its id; SamFaultError if the SAM reports a fault."""
        self.sam_status()
        return SamInfo(status="ok", sam_id=self.sam_id())

    def read_card(self, fingerprint: bool = False, decode_photo: bool = True) -> IdentityCard:
        """Find, select and read the card on the reader, and decode its photo.

        Raises NoCardError if no card is found, CardRemovedError if it was taken away during
        the read, and the other CardError subclasses if it stays unreadable.
        """
        started = time.monotonic()
        last: DriverError | None = None
        for attempt in range(self.card_attempts):
            if attempt:
                self.counters["card_retries"] += 1
                time.sleep(self.retry_delay)
            if not self._find_with_retries():
                if isinstance(last, CardReadError):
                    raise CardRemovedError(
                        "the card was removed during the read: put it back on the reader",
                        last.code,
                    ) from last
                raise NoCardError(
                    "no card on the reader: place the ID card on it", Status.FIND_FAILED
                )
            try:
                self.select_card()
                card = self.read_base_info(fingerprint)
            except (CardSelectError, CardReadError) as exc:
                last = exc
                continue
            break
        else:
            assert last is not None  # noqa: S101 - narrowing: the loop ran at least once
            raise last
        if decode_photo:
            self._decode_photo(card)
        self.counters["cards_read"] += 1
        log.info(
            "idcard_read",
            extra=fields(
                card_type=str(card.card_type),
                ms=round((time.monotonic() - started) * 1000, 1),
                photo=card.photo_format or "none",
            ),
        )
        return card

    def _find_with_retries(self) -> bool:
        for attempt in range(self.find_attempts):
            if attempt:
                time.sleep(self.retry_delay)
            if self.find_card():
                return True
        return False

    def _decode_photo(self, card: IdentityCard) -> None:
        try:
            decoded = self.decoders.decode(card.photo_raw)
        except PhotoDecodeError as exc:
            card.photo_error = str(exc)
            self.counters["photo_undecoded"] += 1
            log.warning("idcard_photo_undecoded", extra=fields(reason=str(exc)))
            return
        card.photo = decoded.data
        card.photo_format = decoded.format


class SamSerialReader(IdCardReader):
    """A SAM_V module on a serial line (or pty, TCP, RFC 2217), speaking GA/T 467 frames.

    ``timeout`` bounds each command's answer; ``frame_attempts`` is how many times a command is
    sent when its answer is lost (timeout, torn frame, bad checksum).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 3.0,
        frame_attempts: int = 2,
        baudrate: int = DEFAULT_BAUDRATE,
        decoders: PhotoDecoderChain | None = None,
        find_attempts: int = 2,
        card_attempts: int = 3,
        retry_delay: float = 0.05,
    ) -> None:
        super().__init__(
            decoders=decoders,
            find_attempts=find_attempts,
            card_attempts=card_attempts,
            retry_delay=retry_delay,
        )
        self.url = url
        self.timeout = timeout
        self.frame_attempts = max(1, frame_attempts)
        self.baudrate = baudrate
        self.parser = FrameParser()
        self._port: ByteTransport | None = None

    @property
    def parser_counters(self) -> ParserCounters:
        """What the frame parser discarded and why, for the driver's health report."""
        return self.parser.counters

    @property
    def is_open(self) -> bool:
        """True between ``open`` and ``close``."""
        return self._port is not None

    @override
    def open(self) -> None:
        if self._port is None:
            self._port = open_serial(
                self.url, timeout=min(self.timeout, 0.1), baudrate=self.baudrate
            )

    @override
    def close(self) -> None:
        port, self._port = self._port, None
        self.parser.clear()
        if port is not None:
            try:
                port.close()
            except OSError:
                pass

    def __enter__(self) -> SamSerialReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the commands ------------------------------------------------------------------------

    @override
    def reset_sam(self) -> None:
        self._expect(cmds.RESET)

    @override
    def sam_status(self) -> None:
        self._expect(cmds.SAM_STATUS)

    @override
    def sam_id(self) -> str:
        return format_sam_id(self._expect(cmds.SAM_ID))

    @override
    def find_card(self) -> bool:
        response = self.transact(cmds.FIND_CARD)
        if response.sw3 == Status.FIND_FAILED:
            return False
        check(response.sw3, cmds.FIND_CARD.action, cmds.FIND_CARD.success)
        return True

    @override
    def select_card(self) -> bytes:
        return self._expect(cmds.SELECT_CARD)

    @override
    def read_base_info(self, fingerprint: bool = False) -> IdentityCard:
        spec = cmds.READ_BASE_INFO_FP if fingerprint else cmds.READ_BASE_INFO
        data = self._expect(spec)
        if not data:
            raise PayloadError(f"{spec.action}: the card returned no data")
        return parse_base_info(data)

    @override
    def read_extra_address(self) -> list[str]:
        response = self.transact(cmds.READ_EXTRA_ADDRESS)
        if not check(response.sw3, cmds.READ_EXTRA_ADDRESS.action):
            return []
        return parse_extra_address(response.data)

    @override
    def read_chip_id(self) -> str:
        return self._expect(cmds.READ_CHIP_ID).hex().upper()

    # -- the exchange ------------------------------------------------------------------------

    def _expect(self, spec: CommandSpec, data: bytes = b"") -> bytes:
        """Send ``spec``; return the answer data if its status is the success status."""
        response = self.transact(spec, data)
        if not check(response.sw3, spec.action, spec.success):
            return b""
        return response.data

    def transact(self, spec: CommandSpec, data: bytes = b"") -> Response:
        """Send one command and return its answer, resending when the answer is lost."""
        if self._port is None:
            self.open()
        port = self._port
        assert port is not None  # noqa: S101 - narrowing: open() sets the port or raises
        frame = spec.encode(data)
        lost = "no answer"
        for attempt in range(self.frame_attempts):
            if attempt:
                self.counters["resends"] += 1
            self.parser.clear()
            try:
                port.reset_input_buffer()
                port.write(frame)
                port.flush()
            except OSError as exc:
                raise TransportError(f"{spec.action}: cannot write to {self.url}: {exc}") from None
            response, lost = self._read_answer(port, spec)
            if response is not None:
                self.counters["commands"] += 1
                if response.sw3 not in (Status.OK, Status.CARD_FOUND, Status.NO_CONTENT):
                    self.counters[f"status_{response.sw3:02x}"] += 1
                    log.debug("idcard_status", extra=fields(status=describe(response.sw3)))
                return response
        if lost == "timeout":
            self.counters["timeouts"] += 1
            raise DeviceTimeout(
                f"{spec.action}: no answer from the reader at {self.url} within "
                f"{self.timeout:g} s ({self.frame_attempts} attempts)"
            )
        self.counters["frame_errors"] += 1
        raise IdCardFrameError(
            f"{spec.action}: no valid answer frame from {self.url} after "
            f"{self.frame_attempts} attempts ({lost})"
        )

    def _read_answer(self, port: ByteTransport, spec: CommandSpec) -> tuple[Response | None, str]:
        """Read until this command's answer arrives or the deadline passes.

        Returns the answer, or None with why: "timeout" (nothing), "torn frame" (a partial
        frame), "bad checksum" (the answer arrived corrupted; no need to wait further). A valid
        frame that cannot answer ``spec`` (a late answer to an earlier command that timed out)
        is counted as stale and skipped.
        """
        parser = self.parser
        rejected = parser.counters.bad_checksum + parser.counters.bad_length
        deadline = time.monotonic() + self.timeout
        got_bytes = False
        while True:
            try:
                chunk = port.read(parser.bytes_wanted())
            except OSError as exc:
                raise TransportError(f"cannot read from {self.url}: {exc}") from None
            if chunk:
                got_bytes = True
                response = self._answer_in(parser.feed(chunk), spec)
                if response is not None:
                    return response, ""
                if (
                    parser.counters.bad_checksum + parser.counters.bad_length > rejected
                    and parser.pending == 0
                ):
                    return None, "bad checksum"
            if time.monotonic() >= deadline:
                if parser.pending:
                    response = self._answer_in(parser.abandon(), spec)
                    parser.clear()
                    if response is not None:
                        return response, ""
                    return None, "torn frame"
                return None, "timeout" if not got_bytes else "noise"

    def _answer_in(self, bodies: list[bytes], spec: CommandSpec) -> Response | None:
        for body in bodies:
            response = Response.decode(body)
            if spec.plausible(response.sw3, response.data):
                return response
            self.counters["stale_answers"] += 1
            log.debug("idcard_stale_answer", extra=fields(command=spec.name, sw3=response.sw3))
        return None
