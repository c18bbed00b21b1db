"""What the flow needs from the devices and from the hall's services, as Python protocols.

The default implementations are ``kiosk.hall.device_client.AgentDeviceClient`` (HTTP to the edge
agent's local API: the app opens no device, port or file of its own) and
``kiosk.hall.backend_client.HubServiceBackend`` (HTTP to the hub's services API). Errors are
``kiosk.hall.errors.DeviceError`` and ``BackendError`` subclasses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from kiosk.hall.models import (
    Application,
    CardData,
    DeviceEvent,
    Errand,
    FaceStep,
    FingerResult,
    Proof,
    RatingChoices,
)


class DeviceClient(Protocol):
    """The kiosk's hardware, through the agent's local device API (contract A)."""

    def events(self) -> AsyncIterator[DeviceEvent]:
        """Card inserted/removed, printer status, driver states; ends when the stream drops."""
        ...

    async def read_id_card(self) -> CardData:
        """Read the resident ID card in the reader; the caller owns the citizen data and wipes it.

        Raises ``DeviceError``: 409 when a person must act or the reader is busy, 503 when absent.
        """
        ...

    async def read_social_security_card(self) -> CardData:
        """Read the social security card (PC/SC); errors as for ``read_id_card``."""
        ...

    def face_session(self, reference: bytes, attempt: int) -> AsyncIterator[FaceStep]:
        """look, challenge, progress..., verdict (the last step)."""
        ...

    async def match_fingerprint(self) -> FingerResult:
        """Wait for a finger on the scanner and match it against the card's fingerprint.

        Takes up to tens of seconds while the citizen places the finger; a finger not placed in
        time is a ``DeviceError`` with ``person_must_act``.
        """
        ...

    async def printer_status(self) -> str:
        """``ready``, ``paper_out``, ``paper_low``, ``cover_open`` or ``offline``."""
        ...

    async def print_receipt(self, receipt: dict[str, Any]) -> None:
        """Print a receipt laid out by the agent; returns once printed, raises ``DeviceError``."""
        ...

    async def scan_qr(self, timeout_s: float) -> str:
        """The text of the first QR code the camera sees within ``timeout_s`` seconds."""
        ...

    async def health(self) -> dict[str, Any]:
        """The agent's device, link and driver states and counters, for the maintenance screen."""
        ...

    async def close(self) -> None:
        """Release the HTTP session; call once, on the loop that made the client."""
        ...


class ServiceBackend(Protocol):
    """The hall's services (contract C). Raise BackendUnavailable when down or slow."""

    async def errands(self, lang: str) -> list[Errand]:
        """The errands the hall offers, with names and texts in ``lang``."""
        ...

    async def application(self, number: str, lang: str) -> Application:
        """An application's status and timeline; ``BackendNotFound`` for an unknown number."""
        ...

    async def issue_proof(
        self, request_id: str, proof_type: str, id_number: str, name: str, hall: str, lang: str
    ) -> Proof:
        """Issue a proof for the citizen; ``request_id`` makes a retried request issue it once.

        The full name and ID number go to the hub only here; the returned ``Proof`` holds the
        masked forms.
        """
        ...

    async def rating_choices(self, lang: str) -> RatingChoices:
        """The satisfaction levels and tags the rating screen offers, labelled in ``lang``."""
        ...

    async def rate(self, level: int, tags: list[str], hall: str, errand_id: str) -> None:
        """Send the citizen's rating (level 1-5, chosen tag ids) of the errand done in ``hall``."""
        ...

    async def close(self) -> None:
        """Release the HTTP session; call once, on the loop that made the backend."""
        ...


ClientFactory = Callable[[], Awaitable[tuple[DeviceClient, ServiceBackend]]]
"""Makes the device client and the service backend on the flow's loop (aiohttp needs it)."""
