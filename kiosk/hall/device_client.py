"""The device client: HTTP to the edge agent's local device API (contract A).

The app opens no device, port or file of its own except the agent's token file. Ordinary calls
are JSON; the face session is an NDJSON stream (one step per line) and the events are
Server-Sent Events. The agent writes a fresh token at each start, so a 401 re-reads the token
file once. Card fields are copied into a ``CardData`` (photo as a bytearray the session can
zero) and the response dict is cleared at once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from typing_extensions import override

from govedge.errors import GovedgeError
from govedge.logs import fields, get_logger
from kiosk.hall.errors import DeviceError
from kiosk.hall.models import CardData, DeviceEvent, FaceStep, FingerResult
from kiosk.hall.protocols import DeviceClient

log = get_logger(__name__)

FACE_SESSION_S = 90.0
FINGER_S = 45.0
MAX_LINE = 64 * 1024


class AgentDeviceClient(DeviceClient):
    """``DeviceClient`` over HTTP (``http://host:port`` or ``unix:/path/to/socket``)."""

    def __init__(self, url: str, token: Callable[[], str], timeout_s: float = 10.0) -> None:
        self._token_source = token
        self._token = ""
        self.timeout_s = timeout_s
        if url.startswith("unix:"):
            self.base = "http://localhost"
            connector: aiohttp.BaseConnector = aiohttp.UnixConnector(path=url[len("unix:") :])
        else:
            self.base = url.rstrip("/")
            connector = aiohttp.TCPConnector(limit=8)
        self.session = aiohttp.ClientSession(connector=connector)

    @override
    async def close(self) -> None:
        await self.session.close()

    def _headers(self, fresh: bool = False) -> dict[str, str]:
        if fresh or not self._token:
            try:
                self._token = self._token_source()
            except GovedgeError as exc:
                raise DeviceError(f"the agent's token cannot be read: {exc}") from None
        return {"Authorization": f"Bearer {self._token}"}

    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=timeout_s or self.timeout_s)
        for attempt in (0, 1):
            try:
                async with self.session.request(
                    method,
                    self.base + path,
                    json=body,
                    headers=self._headers(attempt == 1),
                    timeout=timeout,
                ) as resp:
                    if resp.status == 401 and attempt == 0:
                        continue
                    data = await resp.json(content_type=None)
                    if resp.status >= 400 or not isinstance(data, dict):
                        raise _error(resp.status, data, path)
                    return data
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise DeviceError(
                    f"the device service did not answer {path}: {type(exc).__name__}"
                ) from None
        raise DeviceError(f"{path}: the agent refused the token", 401, "unauthorized")

    # -- events -------------------------------------------------------------------------------

    @override
    async def events(self) -> AsyncIterator[DeviceEvent]:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout_s)
        try:
            async with self.session.get(
                self.base + "/v1/events", headers=self._headers(True), timeout=timeout
            ) as resp:
                if resp.status != 200:
                    raise _error(resp.status, await _json_or_none(resp), "/v1/events")
                async for raw in resp.content:
                    line = raw.decode("utf-8", errors="replace").strip()
                    if not line.startswith("data:"):
                        continue
                    try:
                        data = json.loads(line[5:].strip())
                    except json.JSONDecodeError:
                        log.warning("device_event_unreadable")
                        continue
                    if isinstance(data, dict):
                        yield DeviceEvent(
                            event=str(data.get("event", "")),
                            reader=str(data.get("reader", "")),
                            document=str(data.get("document", "")),
                            state=str(data.get("state", "")),
                        )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeviceError(f"the device events stream dropped: {type(exc).__name__}") from None

    # -- identity documents -------------------------------------------------------------------

    @override
    async def read_id_card(self) -> CardData:
        data = await self._request("POST", "/v1/card/read", {})
        return _card(data, "resident_id")

    @override
    async def read_social_security_card(self) -> CardData:
        data = await self._request("POST", "/v1/smartcard/read", {})
        return _card(data, "social_security")

    # -- identity check -----------------------------------------------------------------------

    @override
    async def face_session(self, reference: bytes, attempt: int) -> AsyncIterator[FaceStep]:
        body = {"reference_image": base64.b64encode(reference).decode(), "attempt": attempt}
        timeout = aiohttp.ClientTimeout(total=FACE_SESSION_S, sock_connect=self.timeout_s)
        try:
            async with self.session.post(
                self.base + "/v1/face/session",
                json=body,
                headers=self._headers(),
                timeout=timeout,
            ) as resp:
                if resp.status >= 400:
                    raise _error(resp.status, await _json_or_none(resp), "/v1/face/session")
                async for raw in resp.content:
                    if len(raw) > MAX_LINE or not raw.strip():
                        continue
                    try:
                        data = json.loads(raw)
                    except json.JSONDecodeError:
                        log.warning("face_step_unreadable")
                        continue
                    step = _face_step(data)
                    if step is not None:
                        yield step
                        if step.step == "verdict":
                            return
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeviceError(f"the face session broke off: {type(exc).__name__}") from None
        finally:
            body.clear()

    @override
    async def match_fingerprint(self) -> FingerResult:
        data = await self._request("POST", "/v1/fingerprint/match-card", {}, FINGER_S)
        return FingerResult(bool(data.get("matched")), int(data.get("score", 0) or 0))

    # -- printer, camera, health --------------------------------------------------------------

    @override
    async def printer_status(self) -> str:
        data = await self._request("GET", "/v1/printer/status")
        return str(data.get("state", "offline"))

    @override
    async def print_receipt(self, receipt: dict[str, Any]) -> None:
        await self._request("POST", "/v1/print", {"receipt": receipt}, 30.0)

    @override
    async def scan_qr(self, timeout_s: float) -> str:
        data = await self._request(
            "POST", "/v1/camera/scan-qr", {"timeout_s": timeout_s}, timeout_s + 10.0
        )
        return str(data.get("text", ""))

    @override
    async def health(self) -> dict[str, Any]:
        return await self._request("GET", "/v1/health")


async def _json_or_none(resp: aiohttp.ClientResponse) -> Any:
    try:
        return await resp.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return None


def _error(status: int, data: Any, path: str) -> DeviceError:
    body = data if isinstance(data, dict) else {}
    return DeviceError(
        f"{path}: {body.get('error') or f'HTTP {status}'}",
        status,
        str(body.get("code", "")),
        str(body.get("state", "")),
    )


def _card(data: dict[str, Any], document: str) -> CardData:
    card = data.get("card")
    if not isinstance(card, dict):
        raise DeviceError("the card reader answered without a card", 502, "bad_answer")
    try:
        photo_text = card.get("photo") or ""
        try:
            photo = bytearray(base64.b64decode(photo_text)) if photo_text else bytearray()
        except (binascii.Error, ValueError):
            photo = bytearray()
        return CardData(
            document="social_security" if document == "social_security" else "resident_id",
            name=str(card.get("name", "")),
            id_number=str(card.get("id_number", "")),
            address=str(card.get("address", "")),
            photo=photo,
        )
    finally:
        card.clear()
        data.clear()


def _face_step(data: Any) -> FaceStep | None:
    if not isinstance(data, dict):
        return None
    step = data.get("step")
    if step not in ("look", "challenge", "progress", "verdict"):
        log.info("face_step_unknown", extra=fields(step=str(step)[:20]))
        return None
    value = data.get("value", 0.0)
    return FaceStep(
        step=step,
        text_key=str(data.get("text_key", "")),
        action=str(data.get("action", "")),
        value=float(value) if isinstance(value, int | float) else 0.0,
        matched=bool(data.get("matched", False)),
        live=bool(data.get("live", False)),
        passed=bool(data.get("passed", False)),
        reason=str(data.get("reason", "")),
    )
