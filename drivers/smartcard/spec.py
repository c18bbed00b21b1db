"""Options of the PC/SC smart-card driver (dependency-free: msgspec only)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from msgspec import Meta

from drivers.spec import DriverOptions


class SmartcardOptions(DriverOptions, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A PC/SC reader: ``pcsc://`` (the first reader) or ``pcsc://<part of its name>``."""

    KIND: ClassVar[str] = "smartcard"
    SCHEMES: ClassVar[tuple[str, ...]] = ("pcsc",)
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("social_security",)

    reader: Annotated[
        str, Meta(max_length=256, description="part of the reader's name; '': the URL's")
    ] = ""
