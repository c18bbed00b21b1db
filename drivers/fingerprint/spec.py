"""Options of the R30x fingerprint module driver (dependency-free: msgspec only)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from msgspec import Meta

from drivers.spec import SERIAL_SCHEMES, DriverOptions

Word = Annotated[int, Meta(ge=0, le=0xFFFFFFFF)]
WordText = Annotated[str, Meta(pattern=r"^(0[xX][0-9a-fA-F]{1,8}|[0-9]{1,10})$")]
Seconds = Annotated[float, Meta(ge=0, le=3600)]


class FingerprintOptions(DriverOptions, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One module on a serial line. Every default suits an R307 as shipped."""

    KIND: ClassVar[str] = "fingerprint"
    SCHEMES: ClassVar[tuple[str, ...]] = SERIAL_SCHEMES
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("fingerprint", "fingerprint_features")

    password: Annotated[
        Word | WordText, Meta(description="module password, a number or text like 0x1234ABCD")
    ] = 0x00000000
    address: Annotated[
        Word | WordText, Meta(description="module address, a number or text like 0xFFFFFFFF")
    ] = 0xFFFFFFFF
    baudrate: Annotated[int, Meta(ge=1200, le=921600, description="bit/s")] = 57600
    timeout: Annotated[Seconds, Meta(description="seconds for one answer")] = 2.0
    finger_timeout: Annotated[
        Seconds, Meta(description="seconds to wait for a finger to be placed or lifted")
    ] = 10.0
    poll_interval: Annotated[
        Seconds, Meta(description="seconds between image polls while waiting for a finger")
    ] = 0.05
    quiet_gap: Annotated[
        Seconds, Meta(description="seconds of silence after which a half packet is torn")
    ] = 0.05
    retries: Annotated[int, Meta(ge=0, le=10, description="resends of a garbled command")] = 1
    high_speed_search: Annotated[
        bool, Meta(description="search with HighSpeedSearch (0x1B) instead of Search")
    ] = False
