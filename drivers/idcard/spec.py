"""Options of the ID-card reader driver (dependency-free: msgspec only)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from msgspec import Meta

from drivers.spec import SERIAL_SCHEMES, DriverOptions


class IdcardOptions(DriverOptions, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A GA/T 467 SAM reader on a serial transport, or a reader behind the vendor SDK."""

    KIND: ClassVar[str] = "idcard"
    SCHEMES: ClassVar[tuple[str, ...]] = (*SERIAL_SCHEMES, "sdtapi")
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("card_reader", "card_fingerprint")

    timeout: Annotated[float, Meta(gt=0, le=60, description="seconds per SAM command")] = 3.0
    frame_attempts: Annotated[int, Meta(ge=1, le=10, description="resends of a torn frame")] = 2
    find_attempts: Annotated[int, Meta(ge=1, le=10, description="card searches per read")] = 2
    card_attempts: Annotated[int, Meta(ge=1, le=10, description="card selects per read")] = 3
    retry_delay: Annotated[float, Meta(ge=0, le=10, description="seconds between attempts")] = 0.05
    baudrate: Annotated[
        int, Meta(ge=1200, le=4_000_000, description="bit/s; the URL's ?baudrate= wins")
    ] = 115200
    fingerprint: Annotated[bool, Meta(description="read the card's fingerprint data too")] = False
    wlt_library: Annotated[
        str, Meta(max_length=4096, description="vendor photo decoder; '': $GOVEDGE_WLT_LIBRARY")
    ] = ""
    wlt_function: Annotated[
        str, Meta(min_length=1, max_length=64, description="the decoder's entry point")
    ] = "unpack"
    lock_timeout: Annotated[
        float, Meta(gt=0, le=600, description="seconds to wait for a concurrent call")
    ] = 5.0
    simulated: Annotated[bool, Meta(description="accept the simulator's photo format")] = False
    sdtapi_library: Annotated[
        str, Meta(max_length=4096, description="vendor SDK for sdtapi: URLs; '': its env var")
    ] = ""
