"""The interfaces the edge agent uses to drive any device class.

Every device package provides ``drivers/<kind>/polled.py`` with
``create(url: str, options: Mapping[str, Any]) -> PolledDriver``. The agent calls the blocking
methods from a worker thread, never from its event loop. A device that can do more than report
readings also implements one of the capability protocols below, which the agent's local device
API and its commands use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from govedge.health import HealthState


@dataclass(slots=True)
class HealthReport:
    """A driver's view of its device: state, a short reason, and error counters."""

    state: HealthState
    detail: str = ""
    errors: int = 0
    counters: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class PolledDriver(Protocol):
    """A device the agent opens, polls on an interval and closes."""

    kind: str

    def open(self) -> None:
        """Open the transport; raise a DriverError (NoDeviceError, ...) if it cannot."""

    def close(self) -> None:
        """Release the transport; safe to call twice."""

    def poll(self) -> Mapping[str, float]:
        """One reading: quantity -> value (may be empty for devices without readings).

        Raises a DriverError whose ``health`` says what state the device is in.
        """

    def health(self) -> HealthReport:
        """The state after the last operation, with counters (frames rejected, timeouts)."""


@runtime_checkable
class CardReaderCapability(Protocol):
    """ID-card readers: read the card on the reader (raises UserActionError if none)."""

    def read_card(self) -> dict[str, Any]:
        """Fields name, sex, nation, birth_date, address, id_number, issuer, valid_from,
        valid_to, card_type, and photo (bytes, the decoded reference image) when present."""


@runtime_checkable
class FingerprintCapability(Protocol):
    """Fingerprint modules: 1:1 verification against a stored template, or a 1:N search."""

    def verify_finger(self, template_id: int) -> dict[str, Any]:
        """Match the finger on the sensor against the template stored at ``template_id``.

        Returns the verdict with the module's score; raises UserActionError when no usable
        finger is placed.
        """

    def search_finger(self) -> dict[str, Any]:
        """Search the finger on the sensor across the module's whole template library (1:N).

        Returns the verdict with the matched template id and score when found; raises
        UserActionError when no usable finger is placed.
        """


@runtime_checkable
class PrinterCapability(Protocol):
    """Receipt printers: print a receipt described as data (see drivers.printer)."""

    def print_receipt(self, receipt: Mapping[str, Any]) -> None:
        """Print the receipt; ReceiptError for bad data, another DriverError if it cannot print."""


@runtime_checkable
class FaceCapability(Protocol):
    """Face cameras: capture and verify the person in front against a reference image."""

    def verify_face(self, reference_image: bytes) -> dict[str, Any]:
        """Capture frames and compare the face in them with ``reference_image`` (the encoded
        card photo); the verdict with the distance and the reasons behind it."""


@runtime_checkable
class FaceSessionCapability(Protocol):
    """Kiosk face cameras: one session of prompts, liveness and 1:1 match on the same tracked
    face; ``emit`` receives each step (look, challenge, progress, verdict) as it happens."""

    def face_session(
        self,
        reference_image: bytes,
        emit: Callable[[dict[str, Any]], None],
        challenges: list[str] | None = None,
    ) -> dict[str, Any]:
        """Run the session to its verdict, blocking; ``challenges`` overrides the drawn ones.

        ``emit`` is called from the calling thread; the returned dict is the final verdict.
        """


@runtime_checkable
class QrScanCapability(Protocol):
    """Cameras that decode a QR code held up to them."""

    def scan_qr(self, timeout_s: float) -> str:
        """Return the text of the first QR code seen within ``timeout_s`` seconds.

        Raises UserActionError if none was decoded in time.
        """


@runtime_checkable
class CardFingerprintCapability(Protocol):
    """ID-card readers that read the card's fingerprint features (SAM 30 10).

    Returns a bytearray the caller zeroes once used; citizen data that never leaves the agent."""

    def read_fingerprint_features(self) -> list[bytearray]:
        """One feature block per finger on the card; UserActionError if the card holds none."""


@runtime_checkable
class FingerprintFeatureCapability(Protocol):
    """Fingerprint modules that match a live finger 1:1 against features given by the host
    (R30x DownChar, then GenImg, Img2Tz, Match)."""

    def match_features(self, features: list[bytearray]) -> dict[str, Any]:
        """Match the finger on the sensor against ``features``: {"match": bool, "score": int}."""


@runtime_checkable
class PrinterStatusCapability(Protocol):
    """Printers that report their live status: {"state": ready|paper_out|paper_low|cover_open|
    offline, "detail": str}."""

    def printer_status(self) -> dict[str, Any]:
        """Ask the printer now rather than report the last poll; the dict described above."""


@runtime_checkable
class SocialSecurityCapability(Protocol):
    """Social-security card readers (PC/SC)."""

    def read_social_security(self, reveal: bool = False) -> dict[str, str]:
        """The card's fields by name, the identifying ones masked unless ``reveal`` is true."""
