"""Byte transports opened from a URL.

Accepted forms:

* a device path: ``/dev/ttyUSB0``, ``/dev/pts/3``, with ``?baudrate=N`` (``baud`` also accepted),
  ``bytesize``, ``parity`` (N/E/O), ``stopbits``;
* ``serial:///dev/ttyUSB0?baud=115200`` (the same, with a scheme);
* any pyserial URL handler: ``socket://host:port``, ``rfc2217://host:port``, ``loop://``, ``spy://``.

The returned object is a pyserial port; drivers use only ``read``, ``write``, ``flush``,
``reset_input_buffer``, ``timeout`` and ``close`` so that every handler behaves the same.
"""

from __future__ import annotations

import os
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from drivers.errors import NoDeviceError, TransportError

_SERIAL_OPTIONS = {"baudrate", "bytesize", "parity", "stopbits", "timeout", "rtscts", "xonxoff"}


class ByteTransport(Protocol):
    """What a driver needs of a transport."""

    timeout: float | None

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes; fewer (or none) when the transport's ``timeout`` expires first."""

    def write(self, data: bytes, /) -> int | None:
        """Send ``data``; pyserial returns the count written, some handlers return None."""

    def flush(self) -> None:
        """Block until the written bytes have left the host's buffers."""

    def reset_input_buffer(self) -> None:
        """Drop bytes received but not yet read (stale answers before a new command)."""

    def close(self) -> None:
        """Release the port; drivers call it once and then drop the transport."""


def parse_serial_url(url: str, **defaults: Any) -> tuple[str, dict[str, Any]]:
    """Split a serial URL into the pyserial port string and its settings.

    >>> parse_serial_url("/dev/ttyUSB0?baudrate=9600")
    ('/dev/ttyUSB0', {'baudrate': 9600})
    """
    options: dict[str, Any] = dict(defaults)
    if url.startswith("serial://"):
        url = url[len("serial://") :]
    if "://" in url:
        # A pyserial URL keeps its own query string; only our settings are taken out.
        parts = urlsplit(url)
        keep = []
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key in ("baud", "baudrate") or key in _SERIAL_OPTIONS:
                options[_option_name(key)] = _option_value(key, value, url)
            else:
                keep.append(f"{key}={value}" if value else key)
        port = f"{parts.scheme}://{parts.netloc}{parts.path}"
        if keep:
            port += "?" + "&".join(keep)
        return port, options
    path, _, query = url.partition("?")
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in ("baud", "baudrate") and key not in _SERIAL_OPTIONS:
            raise TransportError(f"unknown serial option {key!r} in {url!r}")
        options[_option_name(key)] = _option_value(key, value, url)
    if not path:
        raise TransportError(f"no port in serial URL {url!r}")
    return path, options


def _option_name(key: str) -> str:
    return "baudrate" if key == "baud" else key


def _option_value(key: str, value: str, url: str) -> Any:
    try:
        if key in ("baud", "baudrate", "bytesize"):
            return int(value)
        if key in ("stopbits", "timeout"):
            return float(value) if "." in value else int(value)
        if key in ("rtscts", "xonxoff"):
            return value.lower() in ("1", "true", "yes", "on")
        if key == "parity":
            if value.upper() not in ("N", "E", "O", "M", "S"):
                raise ValueError(value)
            return value.upper()
    except ValueError:
        raise TransportError(f"bad value {value!r} for {key} in {url!r}") from None
    return value


def open_serial(url: str, *, timeout: float = 1.0, **defaults: Any) -> ByteTransport:
    """Open a serial-like transport from ``url``; raise NoDeviceError if nothing is there."""
    import serial  # pyserial; imported here so the kernel imports without the agent extra

    port, options = parse_serial_url(url, **defaults)
    options.setdefault("timeout", timeout)
    if "://" not in port and not os.path.exists(port):
        raise NoDeviceError(f"no serial device at {port}")
    try:
        handle: ByteTransport = serial.serial_for_url(port, **options)
    except serial.SerialException as exc:
        text = str(exc)
        if "could not open port" in text or "Connection refused" in text or "No such" in text:
            raise NoDeviceError(f"cannot open {port}: {text}") from None
        raise TransportError(f"cannot open {port}: {text}") from None
    except ValueError as exc:
        raise TransportError(f"bad settings for {port}: {exc}") from None
    return handle
