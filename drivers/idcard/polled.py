"""The ID-card reader as the edge agent drives it: polled for SAM health and card presence,
and asked to read the card for an errand (drivers.base.CardReaderCapability).

Options (all optional): ``timeout`` (s per command, 3.0), ``frame_attempts`` (2),
``find_attempts`` (2), ``card_attempts`` (3), ``retry_delay`` (s, 0.05), ``baudrate`` (115200;
the URL's ``?baudrate=`` wins), ``fingerprint`` (read fingerprint data too, False),
``wlt_library`` (path of the vendor photo decoder; default $GOVEDGE_WLT_LIBRARY),
``wlt_function`` ("unpack"), ``lock_timeout`` (s to wait for a concurrent call, 5.0),
``simulated`` (False: the simulator's photo format is accepted only when this is true).

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
from govedge.errors import ConfigError
from govedge.health import HealthState

_FLOAT_OPTIONS = {"timeout", "retry_delay", "lock_timeout"}
_INT_OPTIONS = {"frame_attempts", "find_attempts", "card_attempts", "baudrate", "sdtapi_port"}
_BOOL_OPTIONS = {"fingerprint", "simulated"}
_STR_OPTIONS = {"wlt_library", "wlt_function", "sdtapi_library"}
_POSITIVE_OPTIONS = {
    "timeout",
    "lock_timeout",
    "frame_attempts",
    "find_attempts",
    "card_attempts",
    "baudrate",
}
KNOWN_OPTIONS = _FLOAT_OPTIONS | _INT_OPTIONS | _BOOL_OPTIONS | _STR_OPTIONS


def validate_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check option names and types; return them converted. Raise ConfigError naming the key."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key not in KNOWN_OPTIONS:
            raise ConfigError(
                f"idcard: unknown option {key!r} (known: {', '.join(sorted(KNOWN_OPTIONS))})"
            )
        try:
            if key in _FLOAT_OPTIONS:
                if isinstance(value, bool):
                    raise ValueError
                out[key] = float(value)
                if out[key] < 0:
                    raise ValueError
            elif key in _INT_OPTIONS:
                if isinstance(value, bool) or int(value) != value:
                    raise ValueError
                out[key] = int(value)
                if out[key] < 0:
                    raise ValueError
            elif key in _BOOL_OPTIONS:
                if not isinstance(value, bool):
                    raise ValueError
                out[key] = value
            else:
                if not isinstance(value, str):
                    raise ValueError
                out[key] = value
            if key in _POSITIVE_OPTIONS and out[key] <= 0:
                raise ValueError
        except (TypeError, ValueError):
            raise ConfigError(f"idcard: bad value {value!r} for option {key!r}") from None
    return out


def make_reader(url: str, options: Mapping[str, Any]) -> IdCardReader:
    """Build (not open) the reader for ``url``: SAM over a serial transport, or the vendor SDK."""
    opts = validate_options(options)
    decoders = default_decoders(
        opts.get("wlt_library"),
        opts.get("wlt_function", "unpack"),
        simulated=opts.get("simulated", False),
    )
    common: dict[str, Any] = {
        "decoders": decoders,
        "find_attempts": opts.get("find_attempts", 2),
        "card_attempts": opts.get("card_attempts", 3),
        "retry_delay": opts.get("retry_delay", 0.05),
    }
    if url.startswith("sdtapi:"):
        from drivers.idcard.sdtapi import SdtapiReader

        return SdtapiReader(url, library=opts.get("sdtapi_library"), **common)
    return SamSerialReader(
        url,
        timeout=opts.get("timeout", 3.0),
        frame_attempts=opts.get("frame_attempts", 2),
        baudrate=opts.get("baudrate", 115200),
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
        with self._exclusive("open"):
            self.reader.open()
            self._state, self._detail = HealthState.ONLINE, ""

    def close(self) -> None:
        with self._lock:
            self.reader.close()
            self._state, self._detail = HealthState.OFFLINE, "closed"

    def poll(self) -> Mapping[str, float]:
        with self._exclusive("poll"):
            self.reader.sam_status()
            present = self.reader.find_card()
            self._state, self._detail = HealthState.ONLINE, ""
            return {"sam_ok": 1.0, "card_present": 1.0 if present else 0.0}

    def read_card(self) -> dict[str, Any]:
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


def create(url: str, options: Mapping[str, Any]) -> IdCardDriver:
    """The edge agent's entry point (drivers.registry)."""
    opts = validate_options(options)
    reader = make_reader(url, opts)
    return IdCardDriver(
        reader,
        fingerprint=opts.get("fingerprint", False),
        lock_timeout=opts.get("lock_timeout", 5.0),
    )
