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

    async def read_id_card(self) -> CardData: ...

    async def read_social_security_card(self) -> CardData: ...

    def face_session(self, reference: bytes, attempt: int) -> AsyncIterator[FaceStep]:
        """look, challenge, progress..., verdict (the last step)."""
        ...

    async def match_fingerprint(self) -> FingerResult: ...

    async def printer_status(self) -> str: ...

    async def print_receipt(self, receipt: dict[str, Any]) -> None: ...

    async def scan_qr(self, timeout_s: float) -> str: ...

    async def health(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class ServiceBackend(Protocol):
    """The hall's services (contract C). Raise BackendUnavailable when down or slow."""

    async def errands(self, lang: str) -> list[Errand]: ...

    async def application(self, number: str, lang: str) -> Application: ...

    async def issue_proof(
        self, request_id: str, proof_type: str, id_number: str, name: str, hall: str, lang: str
    ) -> Proof: ...

    async def rating_choices(self, lang: str) -> RatingChoices: ...

    async def rate(self, level: int, tags: list[str], hall: str, errand_id: str) -> None: ...

    async def close(self) -> None: ...


ClientFactory = Callable[[], Awaitable[tuple[DeviceClient, ServiceBackend]]]
"""Makes the device client and the service backend on the flow's loop (aiohttp needs it)."""
