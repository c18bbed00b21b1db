"""Readers driven through the vendor SDK (``sdtapi``: libsdtapi.so / sdtapi.dll), via ctypes.

Some readers are sold without a documented serial protocol and only with the vendor's SDK,
whose functions mirror the SAM commands and return the same status codes (0x90, 0x9F, 0x80, ...).
:class:`SdtapiReader` offers them behind the same :class:`IdCardReader` interface, so the
agent, the kiosk and the command line do not care which kind of reader is plugged in.

URL form: ``sdtapi:PORT`` (the SDK's port number: 1-16 serial, 1001-1016 USB), with the library
path given by the ``sdtapi_library`` option or ``$GOVEDGE_SDTAPI_LIBRARY``.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

from typing_extensions import override

from drivers.idcard.card import IdentityCard
from drivers.idcard.commands import format_sam_id
from drivers.idcard.errors import SdtapiError
from drivers.idcard.layout import (
    PHOTO_SIZE,
    TEXT_SIZE,
    encode_base_info,
    parse_base_info,
    parse_extra_address,
)
from drivers.idcard.photo import PhotoDecoderChain
from drivers.idcard.reader import IdCardReader
from drivers.idcard.status import Status, check

SDTAPI_LIBRARY_ENV = "GOVEDGE_SDTAPI_LIBRARY"
_FP_SIZE = 1024
_BUFFER = 4096


class SdtapiReader(IdCardReader):
    """An IdCardReader over the vendor SDK's C functions."""

    def __init__(
        self,
        url: str,
        *,
        library: str | None = None,
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
        try:
            self.port = int(url.partition(":")[2].strip("/") or "1001")
        except ValueError:
            raise SdtapiError(f"bad sdtapi URL {url!r}: expected sdtapi:PORT") from None
        self.library_path = library or os.environ.get(SDTAPI_LIBRARY_ENV, "")
        self._lib: Any = None

    @override
    def open(self) -> None:
        if self._lib is not None:
            return
        if not self.library_path:
            raise SdtapiError(
                f"no vendor SDK library: set {SDTAPI_LIBRARY_ENV} or the sdtapi_library option "
                "to the reader's libsdtapi.so"
            )
        try:
            lib = ctypes.CDLL(self.library_path)
        except OSError as exc:
            raise SdtapiError(f"cannot load {self.library_path}: {exc}") from None
        self._lib = lib
        code = self._call("SDT_OpenPort", self.port)
        if code != Status.OK:
            self._lib = None
            check(code, f"open reader port {self.port}")

    @override
    def close(self) -> None:
        if self._lib is not None:
            try:
                self._call("SDT_ClosePort", self.port)
            finally:
                self._lib = None

    def _call(self, name: str, *args: Any) -> int:
        if self._lib is None:
            self.open()
        try:
            func = getattr(self._lib, name)
        except AttributeError:
            raise SdtapiError(f"{self.library_path} has no function {name}") from None
        result: int = func(*args)
        return result & 0xFF if result >= 0 else result

    @override
    def reset_sam(self) -> None:
        check(self._call("SDT_ResetSAM", self.port, 1), "reset the SAM")

    @override
    def sam_status(self) -> None:
        check(self._call("SDT_GetSAMStatus", self.port, 1), "check the SAM status")

    @override
    def sam_id(self) -> str:
        if self._lib is None:
            self.open()
        text = ctypes.create_string_buffer(128)
        raw = ctypes.create_string_buffer(16)
        if hasattr(self._lib, "SDT_GetSAMIDToStr"):
            check(self._call("SDT_GetSAMIDToStr", self.port, text, 1), "read the SAM id")
            return text.value.decode("ascii", errors="replace")
        check(self._call("SDT_GetSAMID", self.port, raw, 1), "read the SAM id")
        return format_sam_id(raw.raw)

    @override
    def find_card(self) -> bool:
        info = ctypes.create_string_buffer(8)
        code = self._call("SDT_StartFindIDCard", self.port, info, 1)
        if code == Status.FIND_FAILED:
            return False
        return check(code, "find a card", Status.CARD_FOUND)

    @override
    def select_card(self) -> bytes:
        info = ctypes.create_string_buffer(8)
        check(self._call("SDT_SelectIDCard", self.port, info, 1), "select the card")
        return info.raw

    @override
    def read_base_info(self, fingerprint: bool = False) -> IdentityCard:
        text = ctypes.create_string_buffer(_BUFFER)
        photo = ctypes.create_string_buffer(_BUFFER)
        text_len = ctypes.c_uint(0)
        photo_len = ctypes.c_uint(0)
        if fingerprint:
            fp = ctypes.create_string_buffer(_BUFFER)
            fp_len = ctypes.c_uint(0)
            code = self._call(
                "SDT_ReadBaseFPMsg",
                self.port,
                text,
                ctypes.byref(text_len),
                photo,
                ctypes.byref(photo_len),
                fp,
                ctypes.byref(fp_len),
                1,
            )
            check(code, "read the card's base information and fingerprints")
            fp_bytes: bytes | None = fp.raw[: min(fp_len.value, _FP_SIZE)]
        else:
            code = self._call(
                "SDT_ReadBaseMsg",
                self.port,
                text,
                ctypes.byref(text_len),
                photo,
                ctypes.byref(photo_len),
                1,
            )
            check(code, "read the card's base information")
            fp_bytes = None
        payload = encode_base_info(
            text.raw[: min(text_len.value, TEXT_SIZE)],
            photo.raw[: min(photo_len.value, PHOTO_SIZE)],
            fp_bytes,
        )
        for buffer in (text, photo):
            ctypes.memset(buffer, 0, _BUFFER)
        return parse_base_info(payload)

    @override
    def read_extra_address(self) -> list[str]:
        data = ctypes.create_string_buffer(_BUFFER)
        size = ctypes.c_uint(0)
        code = self._call("SDT_ReadNewAppMsg", self.port, data, ctypes.byref(size), 1)
        if not check(code, "read the extra address"):
            return []
        usable = size.value - size.value % 70
        return parse_extra_address(data.raw[:usable])

    @override
    def read_chip_id(self) -> str:
        data = ctypes.create_string_buffer(8)
        check(self._call("SDT_ReadMngInfo", self.port, data, 1), "read the card's chip id")
        return data.raw.hex().upper()
