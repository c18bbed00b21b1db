"""Byte transports to a printer, opened from a URL.

- ``tcp://HOST[:PORT]`` (or ``socket://HOST:PORT``): a network printer, port 9100 by default;
- a serial device path (``/dev/ttyUSB0?baudrate=115200``), ``serial://...`` or another pyserial
  URL (``rfc2217://``, ``loop://``): opened by ``drivers.transport.open_serial``;
- ``/dev/usb/lpN``: a USB printer through the kernel's usblp driver (a character device);
- ``usb://VID:PID`` (hex, e.g. ``usb://04b8:0202``, optional ``?in_ep=0x82&
  out_ep=0x01``): raw USB through python-escpos's ``Usb`` printer class (needs pyusb).

All of them give ``read(size)`` that returns what arrived before the timeout (possibly b""),
``write``, ``reset_input_buffer`` and ``close``, like a pyserial port.
"""

from __future__ import annotations

import os
import select
import socket
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from drivers.errors import DriverError
from drivers.printer.errors import (
    PrinterNotFound,
    PrinterTimeout,
    PrinterTransportError,
)
from drivers.transport import ByteTransport, open_serial

DEFAULT_PORT = 9100

try:
    import termios

    _SERIAL_ERRORS: tuple[type[Exception], ...] = (OSError, termios.error)
except ImportError:  # pragma: no cover - not a POSIX system
    _SERIAL_ERRORS = (OSError,)


def describe(url: str) -> str:
    """What kind of link a URL names: tcp, serial, usblp or usb."""
    if url.startswith(("tcp://", "socket://")):
        return "tcp"
    if url.startswith("usb://"):
        return "usb"
    if url.startswith("/dev/usb/lp"):
        return "usblp"
    return "serial"


def parse_tcp_url(url: str) -> tuple[str, int]:
    """``tcp://host:port`` -> (host, port), 9100 when no port is given."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise PrinterTransportError(f"no host in printer URL {url!r}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise PrinterTransportError(f"bad port in printer URL {url!r}") from None
    return parts.hostname, port


def open_transport(url: str, *, timeout: float = 1.0) -> ByteTransport:
    """Open the transport a printer URL names (see the module docstring)."""
    kind = describe(url)
    if kind == "tcp":
        host, port = parse_tcp_url(url)
        return TcpTransport(host, port, timeout=timeout)
    if kind == "usb":
        return UsbTransport(url, timeout=timeout)
    if kind == "usblp":
        return DeviceFileTransport(url, timeout=timeout)
    try:
        return SerialTransport(open_serial(url, timeout=timeout), url)
    except DriverError as exc:
        cls = PrinterNotFound if exc.health.value == "no_device" else PrinterTransportError
        raise cls(str(exc)) from None


class SerialTransport:
    """A pyserial port whose I/O errors (a vanished port) become PrinterTransportError."""

    def __init__(self, port: ByteTransport, url: str) -> None:
        self._port = port
        self.where = url

    @property
    def timeout(self) -> float | None:
        """The read timeout of the underlying port, in seconds (None: block)."""
        return self._port.timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self._port.timeout = value

    def _failed(self, exc: Exception) -> PrinterTransportError:
        reason = getattr(exc, "strerror", None) or (exc.args[-1] if exc.args else exc)
        return PrinterTransportError(f"{self.where}: {reason}")

    def read(self, size: int = 1) -> bytes:
        """What arrived before the timeout, up to ``size`` bytes; PrinterTransportError on I/O
        errors."""
        try:
            return self._port.read(size)
        except _SERIAL_ERRORS as exc:  # SerialException is an OSError; termios has its own
            raise self._failed(exc) from None

    def write(self, data: bytes, /) -> int | None:
        """Send ``data``; PrinterTransportError if the port is gone."""
        try:
            return self._port.write(data)
        except _SERIAL_ERRORS as exc:
            raise self._failed(exc) from None

    def flush(self) -> None:
        """Wait until the written bytes have left the host; PrinterTransportError if the port is
        gone."""
        try:
            self._port.flush()
        except _SERIAL_ERRORS as exc:
            raise self._failed(exc) from None

    def reset_input_buffer(self) -> None:
        """Drop unread input; PrinterTransportError if the port is gone."""
        try:
            self._port.reset_input_buffer()
        except _SERIAL_ERRORS as exc:
            raise self._failed(exc) from None

    def close(self) -> None:
        """Close the port, ignoring errors from one that is already gone."""
        try:
            self._port.close()
        except _SERIAL_ERRORS:
            pass


class TcpTransport:
    """A TCP connection to a network printer (raw port 9100, "JetDirect")."""

    def __init__(self, host: str, port: int, *, timeout: float = 1.0) -> None:
        self.timeout: float | None = timeout
        self.where = f"{host}:{port}"
        try:
            self._sock = socket.create_connection((host, port), timeout=max(timeout, 0.5))
        except ConnectionRefusedError:
            raise PrinterNotFound(f"no printer at {self.where} (connection refused)") from None
        except TimeoutError:
            raise PrinterTimeout(f"no answer from {self.where} (connect timed out)") from None
        except OSError as exc:
            raise PrinterNotFound(f"cannot reach {self.where}: {exc.strerror or exc}") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes, collecting until ``timeout`` runs out; PrinterTransportError if the
        printer closed the connection.
        """
        deadline = time.monotonic() + (self.timeout or 0.0)
        data = b""
        while len(data) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(size - len(data))
            except TimeoutError:
                break
            except OSError as exc:
                raise PrinterTransportError(f"{self.where}: {exc.strerror or exc}") from None
            if not chunk:
                raise PrinterTransportError(f"{self.where} closed the connection")
            data += chunk
        return data

    def write(self, data: bytes, /) -> int:
        """Send all of ``data``, allowing at least 5 s (a busy printer stops reading while it
        prints)."""
        self._sock.settimeout(max(self.timeout or 0.0, 5.0))
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise PrinterTransportError(f"{self.where}: {exc.strerror or exc}") from None
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered on our side of the socket."""

    def reset_input_buffer(self) -> None:
        """Drop bytes that arrived unasked (a late status answer, automatic status back)."""
        self._sock.setblocking(False)
        try:
            for _ in range(64):
                if not self._sock.recv(4096):
                    raise PrinterTransportError(f"{self.where} closed the connection")
        except BlockingIOError:
            pass
        except OSError as exc:
            raise PrinterTransportError(f"{self.where}: {exc.strerror or exc}") from None
        finally:
            self._sock.setblocking(True)

    def close(self) -> None:
        """Shut down and close the socket; safe on a connection the printer already dropped."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()


class DeviceFileTransport:
    """A USB printer class device of the Linux usblp driver (``/dev/usb/lp0``)."""

    def __init__(self, path: str, *, timeout: float = 1.0) -> None:
        self.timeout: float | None = timeout
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        except FileNotFoundError:
            raise PrinterNotFound(f"no printer at {path}") from None
        except OSError as exc:
            raise PrinterTransportError(f"cannot open {path}: {exc.strerror}") from None

    def read(self, size: int = 1) -> bytes:
        """What the device has ready, up to ``size`` bytes; b"" if nothing came within
        ``timeout``."""
        ready, _, _ = select.select([self._fd], [], [], self.timeout or 0.0)
        if not ready:
            return b""
        try:
            return os.read(self._fd, size)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise PrinterTransportError(f"{self.path}: {exc.strerror}") from None

    def write(self, data: bytes, /) -> int:
        """Write all of ``data``, allowing at least 5 s; PrinterTimeout if the device takes none."""
        view = memoryview(data)
        deadline = time.monotonic() + max(self.timeout or 0.0, 5.0)
        while view:
            _, ready, _ = select.select([], [self._fd], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise PrinterTimeout(f"{self.path} does not take data")
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                continue
            except OSError as exc:
                raise PrinterTransportError(f"{self.path}: {exc.strerror}") from None
        return len(data)

    def flush(self) -> None:
        """Writes are unbuffered."""

    def reset_input_buffer(self) -> None:
        """Read and drop whatever the device has ready, without waiting."""
        while select.select([self._fd], [], [], 0)[0]:
            try:
                if not os.read(self._fd, 4096):
                    return
            except OSError:
                return

    def close(self) -> None:
        """Close the device file, ignoring errors from one already gone."""
        try:
            os.close(self._fd)
        except OSError:
            pass


class UsbTransport:
    """Raw USB bulk endpoints, through python-escpos's ``Usb`` printer class."""

    def __init__(self, url: str, *, timeout: float = 1.0) -> None:
        self.timeout: float | None = timeout
        vendor, product, options = parse_usb_url(url)
        try:
            from escpos.printer import Usb
        except ImportError:  # pragma: no cover - python-escpos always ships it
            raise PrinterTransportError("usb:// needs python-escpos") from None
        if not Usb.is_usable():
            raise PrinterTransportError("usb:// printers need pyusb (pip install pyusb)")
        from escpos.exceptions import DeviceNotFoundError

        self.where = f"usb://{vendor:04x}:{product:04x}"
        self._printer: Any = Usb(vendor, product, timeout=int(timeout * 1000), **options)
        try:
            self._printer.open()
        except DeviceNotFoundError:
            raise PrinterNotFound(f"no USB printer {self.where}") from None
        except Exception as exc:  # noqa: BLE001 - pyusb raises its own errors (permissions, busy interface)
            raise PrinterTransportError(f"cannot open {self.where}: {exc}") from None

    def read(self, size: int = 1) -> bytes:
        """One bulk read of up to ``size`` bytes from the IN endpoint; b"" on a USB timeout."""
        import usb.core

        device = self._printer.device
        try:
            data = device.read(self._printer.in_ep, size, timeout=int((self.timeout or 0) * 1000))
        except usb.core.USBTimeoutError:
            return b""
        except usb.core.USBError as exc:
            raise PrinterTransportError(f"{self.where}: {exc}") from None
        return bytes(data)

    def write(self, data: bytes, /) -> int:
        """Bulk-write ``data`` to the OUT endpoint; PrinterTransportError on a USB error."""
        import usb.core

        try:
            self._printer._raw(data)
        except usb.core.USBError as exc:
            raise PrinterTransportError(f"{self.where}: {exc}") from None
        return len(data)

    def flush(self) -> None:
        """Bulk writes are unbuffered."""

    def reset_input_buffer(self) -> None:
        """Drop pending status bytes: read briefly until the endpoint is quiet (at most 16
        reads)."""
        saved, self.timeout = self.timeout, 0.01
        try:
            for _ in range(16):
                if not self.read(64):
                    break
        finally:
            self.timeout = saved

    def close(self) -> None:
        """Release the USB interface through python-escpos."""
        self._printer.close()


def parse_usb_url(url: str) -> tuple[int, int, dict[str, int]]:
    """``usb://04b8:0202?in_ep=0x82&out_ep=0x01`` -> (vendor, product, options)."""
    parts = urlsplit(url)
    vid, _, pid = parts.netloc.partition(":")
    try:
        vendor, product = int(vid, 16), int(pid, 16)
    except ValueError:
        raise PrinterTransportError(f"USB printer URL must be usb://VID:PID, not {url!r}") from None
    options: dict[str, int] = {}
    for key, value in parse_qsl(parts.query):
        if key not in ("in_ep", "out_ep"):
            raise PrinterTransportError(f"unknown USB option {key!r} in {url!r}")
        try:
            options[key] = int(value, 0)
        except ValueError:
            raise PrinterTransportError(f"bad value {value!r} for {key} in {url!r}") from None
    return vendor, product, options
