"""The ID-card reader as the edge agent drives it: polled for SAM health and card presence,
and asked to read the card for an errand (drivers.base.CardReaderCapability).

Options: drivers.idcard.spec.IdcardOptions (every option with its default, range and unit).

URL forms: a serial device or pty path (``/dev/ttyUSB0?baudrate=115200``), ``serial://...``,
any pyserial URL (``socket://host:port``, ``rfc2217://...``), or ``sdtapi:PORT`` with the option
``sdtapi_library`` for readers driven through the vendor SDK.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from drivers.base import HealthReport
from drivers.errors import BusyError, DriverError
from drivers.idcard.errors import NoFingerprintDataError
from drivers.idcard.photo import default_decoders
from drivers.idcard.reader import IdCardReader, SamSerialReader
from drivers.idcard.spec import IdcardOptions
from drivers.options import options_of
from govedge.health import HealthState


def make_reader(url: str, options: IdcardOptions | Mapping[str, Any]) -> IdCardReader:
    """Build (not open) the reader for ``url``: SAM over a serial transport, or the vendor SDK."""
    opts = options_of(IdcardOptions, options)
    decoders = default_decoders(
        opts.wlt_library or None, opts.wlt_function, simulated=opts.simulated
    )
    common: dict[str, Any] = {
        "decoders": decoders,
        "find_attempts": opts.find_attempts,
        "card_attempts": opts.card_attempts,
        "retry_delay": opts.retry_delay,
    }
    if url.startswith("sdtapi:"):
        from drivers.idcard.sdtapi import SdtapiReader

        return SdtapiReader(url, library=opts.sdtapi_library or None, **common)
    return SamSerialReader(
        url,
        timeout=opts.timeout,
        frame_attempts=opts.frame_attempts,
        baudrate=opts.baudrate,
        **common,
    )


class IdCardDriver:
    """PolledDriver + CardReaderCapability over an IdCardReader.

    ``poll`` checks the SAM and looks for a card: ``{"sam_ok": 1, "card_present": 0|1}``. Calls
    are serialised; a call that finds another in progress for ``lock_timeout`` raises BusyError.
    """

    kind = "idcard"

    def __init__(
        self, reader: IdCardReader, *, fingerprint: bool = False, lock_timeout: float = 5.0
    ) -> None:
        self.reader = reader
        self.fingerprint = fingerprint
        self.lock_timeout = lock_timeout
        self._lock = threading.Lock()
        self._state = HealthState.OFFLINE
        self._detail = "not opened"
        self._errors = 0

    @contextmanager
    def _exclusive(self, what: str) -> Iterator[None]:
        if not self._lock.acquire(timeout=self.lock_timeout):
            raise BusyError(f"idcard: cannot {what}, the reader is busy with another call")
        try:
            yield
        except DriverError as exc:
            self._errors += 1
            self._state = exc.health
            self._detail = str(exc)
            raise
        finally:
            self._lock.release()

    def open(self) -> None:
        """Open the reader's transport; BusyError if another call holds the reader."""
        with self._exclusive("open"):
            self.reader.open()
            self._state, self._detail = HealthState.ONLINE, ""

    def close(self) -> None:
        """Close the reader, waiting for a call in progress to finish."""
        with self._lock:
            self.reader.close()
            self._state, self._detail = HealthState.OFFLINE, "closed"

    def poll(self) -> Mapping[str, float]:
        """Check the SAM and look for a card: ``{"sam_ok": 1, "card_present": 0|1}``.

        A SAM fault raises (health from the error) rather than returning ``sam_ok`` 0.
        """
        with self._exclusive("poll"):
            self.reader.sam_status()
            present = self.reader.find_card()
            self._state, self._detail = HealthState.ONLINE, ""
            return {"sam_ok": 1.0, "card_present": 1.0 if present else 0.0}

    def read_card(self) -> dict[str, Any]:
        """Read the card on the reader (fingerprint data too if the driver was built with it)."""
        with self._exclusive("read the card"):
            card = self.reader.read_card(fingerprint=self.fingerprint)
            self._state, self._detail = HealthState.ONLINE, ""
            return card.as_capability_dict()

    def read_fingerprint_features(self) -> list[bytearray]:
        """The card's fingerprint features (30 10), one bytearray per finger, for a 1:1 match
        on this device. The caller zeroes them; text and photo of the read are wiped here."""
        with self._exclusive("read the card's fingerprints"):
            card = self.reader.read_card(fingerprint=True, decode_photo=False)
            self._state, self._detail = HealthState.ONLINE, ""
            data = bytearray(card.fingerprint)
            card.fingerprint = b""
            card.photo_raw = b""
        try:
            return split_features(data)
        finally:
            data[:] = bytes(len(data))

    def health(self) -> HealthReport:
        """The state after the last call, with the reader's counters and its parser's
        (``parser_*``)."""
        counters = dict(self.reader.counters)
        parser = getattr(self.reader, "parser_counters", None)
        if parser is not None:
            counters.update({f"parser_{k}": v for k, v in parser.as_dict().items()})
        return HealthReport(self._state, self._detail, self._errors, counters)


FEATURE_SIZE = 512
"""Bytes of one finger's feature in the card's fingerprint data (two fingers: 1024 bytes)."""


def split_features(data: bytes | bytearray) -> list[bytearray]:
    """The non-empty 512-byte features in a card's fingerprint data; NoFingerprintDataError
    if there is none."""
    features = [
        bytearray(data[i : i + FEATURE_SIZE])
        for i in range(0, len(data) - FEATURE_SIZE + 1, FEATURE_SIZE)
        if any(data[i : i + FEATURE_SIZE])
    ]
    if not features:
        raise NoFingerprintDataError("the card holds no fingerprint data: use the face check")
    return features


def create(url: str, options: IdcardOptions | Mapping[str, Any]) -> IdCardDriver:
    """The edge agent's entry point (drivers.registry)."""
    opts = options_of(IdcardOptions, options)
    reader = make_reader(url, opts)
    return IdCardDriver(reader, fingerprint=opts.fingerprint, lock_timeout=opts.lock_timeout)
