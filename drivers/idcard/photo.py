"""Decoding the 1024-byte card photo, through pluggable decoders.

Real cards hold the photo in the vendor's WLT compression, which only the vendor's library
decodes; :class:`WltLibraryDecoder` is the ctypes slot for it (``libwlt2bmp.so`` style:
``int unpack(const char *wlt, char *bmp, int flag)`` writing a 102x126 24-bit BMP and returning 1).
It is loaded from a path given as an option or by the ``GOVEDGE_WLT_LIBRARY`` environment
variable; without it, reading a real card still works and the photo is reported as undecodable.

The simulator stores its photos in its own format (:data:`SIM_PHOTO_MAGIC`, a 2-byte big-endian
length, a JPEG image, zero padding), which :class:`SimPhotoDecoder` reads, and only for a reader
whose config says it is simulated (option ``simulated``).

Decoded photos are returned as PNG or JPEG bytes.
"""

from __future__ import annotations

import ctypes
import os
import struct
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from drivers.idcard.errors import DecoderUnavailableError, PhotoDecodeError

WLT_LIBRARY_ENV = "GOVEDGE_WLT_LIBRARY"
SIM_PHOTO_MAGIC = b"GVSIMPH1"
PHOTO_SIZE = 1024
PHOTO_WIDTH = 102
PHOTO_HEIGHT = 126
BMP_SIZE = 14 + 40 + ((PHOTO_WIDTH * 3 + 3) // 4 * 4) * PHOTO_HEIGHT  # 38862


@dataclass(frozen=True, slots=True)
class DecodedPhoto:
    """An image file's bytes and its format ("png" or "jpeg")."""

    data: bytes
    format: str


class PhotoDecoder(Protocol):
    """One way of decoding card photos."""

    name: str

    def can_decode(self, raw: bytes) -> bool:
        """Whether ``raw`` is in this decoder's format (cheap; no decoding)."""

    def decode(self, raw: bytes) -> DecodedPhoto:
        """Decode ``raw``; raise PhotoDecodeError (DecoderUnavailableError if not set up)."""


def encode_sim_photo(image: bytes) -> bytes:
    """Pack a JPEG or PNG into the simulator's 1024-byte photo format."""
    room = PHOTO_SIZE - len(SIM_PHOTO_MAGIC) - 2
    if len(image) > room:
        raise ValueError(f"image of {len(image)} bytes does not fit in {room}")
    packed = SIM_PHOTO_MAGIC + len(image).to_bytes(2, "big") + image
    return packed.ljust(PHOTO_SIZE, b"\x00")


class SimPhotoDecoder:
    """The simulator's photo format: magic, length, image bytes."""

    name = "sim"

    def can_decode(self, raw: bytes) -> bool:
        """True if ``raw`` starts with the simulator's magic bytes."""
        return raw.startswith(SIM_PHOTO_MAGIC)

    def decode(self, raw: bytes) -> DecodedPhoto:
        """The JPEG or PNG packed in ``raw``; PhotoDecodeError if the packing is inconsistent."""
        if not self.can_decode(raw):
            raise PhotoDecodeError("not a simulator photo")
        start = len(SIM_PHOTO_MAGIC) + 2
        size = int.from_bytes(raw[len(SIM_PHOTO_MAGIC) : start], "big")
        image = raw[start : start + size]
        if size == 0 or len(image) != size:
            raise PhotoDecodeError(f"simulator photo declares {size} bytes, holds {len(image)}")
        if image.startswith(b"\xff\xd8"):
            return DecodedPhoto(bytes(image), "jpeg")
        if image.startswith(b"\x89PNG\r\n\x1a\n"):
            return DecodedPhoto(bytes(image), "png")
        raise PhotoDecodeError("simulator photo is neither JPEG nor PNG")


class WltLibraryDecoder:
    """The vendor's WLT decoder, loaded with ctypes from ``path`` (or $GOVEDGE_WLT_LIBRARY).

    ``function`` is the exported symbol (``unpack`` in libwlt2bmp). The library is loaded on the
    first decode, so a kiosk without it still starts; calls are serialised because vendor
    decoders are rarely thread-safe.
    """

    name = "wlt"

    def __init__(self, path: str | None = None, function: str = "unpack") -> None:
        self.path = path if path is not None else os.environ.get(WLT_LIBRARY_ENV, "")
        self.function = function
        self._func: Any = None
        self._lock = threading.Lock()

    def can_decode(self, raw: bytes) -> bool:
        """True for any non-empty, non-zero photo that is not the simulator's (assumed WLT)."""
        return bool(raw) and not raw.startswith(SIM_PHOTO_MAGIC) and any(raw)

    def _load(self) -> Any:
        if self._func is not None:
            return self._func
        if not self.path:
            raise DecoderUnavailableError(
                "the card photo is WLT-compressed and no decoder library is configured: "
                f"set {WLT_LIBRARY_ENV} (or the wlt_library option) to the vendor's library, "
                "e.g. libwlt2bmp.so"
            )
        try:
            library = ctypes.CDLL(self.path)
        except OSError as exc:
            raise DecoderUnavailableError(
                f"cannot load the WLT decoder library {self.path}: {exc}"
            ) from None
        try:
            func = getattr(library, self.function)
        except AttributeError:
            raise DecoderUnavailableError(
                f"the WLT decoder library {self.path} has no function {self.function!r}"
            ) from None
        func.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
        func.restype = ctypes.c_int
        self._func = func
        return func

    def decode(self, raw: bytes) -> DecodedPhoto:
        """Decode a WLT photo to PNG through the vendor library, one call at a time;
        DecoderUnavailableError if no library is configured or it cannot be loaded.
        """
        with self._lock:
            func = self._load()
            source = ctypes.create_string_buffer(bytes(raw), PHOTO_SIZE)
            target = ctypes.create_string_buffer(BMP_SIZE)
            result = func(source, target, 1)
            bmp = target.raw
            ctypes.memset(target, 0, BMP_SIZE)
        if result != 1:
            raise PhotoDecodeError(f"the WLT decoder returned {result}")
        return DecodedPhoto(bmp_to_png(bmp), "png")


class PhotoDecoderChain:
    """Tries each decoder that claims the photo, in order."""

    def __init__(self, decoders: Sequence[PhotoDecoder]) -> None:
        self.decoders = list(decoders)

    def decode(self, raw: bytes) -> DecodedPhoto:
        """The photo decoded by the first decoder that claims it and succeeds.

        PhotoDecodeError if the card holds no photo, no decoder claims it, or the claiming ones
        all failed (their messages joined).
        """
        if not raw or not any(raw):
            raise PhotoDecodeError("the card holds no photo")
        errors: list[str] = []
        for decoder in self.decoders:
            if decoder.can_decode(raw):
                try:
                    return decoder.decode(raw)
                except PhotoDecodeError as exc:
                    errors.append(f"{decoder.name}: {exc}")
                    if len(self.decoders) == 1:
                        raise
        if errors:
            raise PhotoDecodeError("; ".join(errors))
        raise PhotoDecodeError("no decoder for this photo format")


def default_decoders(
    wlt_library: str | None = None, wlt_function: str = "unpack", *, simulated: bool = False
) -> PhotoDecoderChain:
    """The vendor WLT library (from option or env var); the simulator's format only when the
    reader is configured as simulated, so that a forged card carrying a plain JPEG in the
    simulator's wrapper is never taken for a real card's photo."""
    wlt = WltLibraryDecoder(wlt_library, wlt_function)
    return PhotoDecoderChain([SimPhotoDecoder(), wlt] if simulated else [wlt])


def bmp_to_png(bmp: bytes) -> bytes:
    """Convert an uncompressed 24-bit BMP (the WLT decoders' output) to PNG, stdlib only."""
    if len(bmp) < 54 or bmp[:2] != b"BM":
        raise PhotoDecodeError("the WLT decoder did not produce a BMP image")
    offset = struct.unpack_from("<I", bmp, 10)[0]
    width, height = struct.unpack_from("<ii", bmp, 18)
    bits, compression = struct.unpack_from("<HI", bmp, 28)
    if bits != 24 or compression != 0 or width <= 0 or height == 0:
        raise PhotoDecodeError(f"unsupported BMP ({bits} bits, compression {compression})")
    stride = (width * 3 + 3) // 4 * 4
    rows = abs(height)
    if offset + stride * rows > len(bmp):
        raise PhotoDecodeError("the BMP image is truncated")
    lines = []
    for y in range(rows):
        src_row = rows - 1 - y if height > 0 else y  # positive height: stored bottom-up
        start = offset + src_row * stride
        bgr = bmp[start : start + width * 3]
        rgb = bytearray(len(bgr))
        rgb[0::3] = bgr[2::3]
        rgb[1::3] = bgr[1::3]
        rgb[2::3] = bgr[0::3]
        lines.append(b"\x00" + bytes(rgb))
    return _png(width, rows, b"".join(lines))


def _png(width: int, height: int, scanlines: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(scanlines, 6))
        + chunk(b"IEND", b"")
    )
