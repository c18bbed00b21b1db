"""``POST /v1/face/session``: the camera's face session streamed to the app as NDJSON.

The session runs in a worker thread holding the camera (drivers.camera.session); each step it
emits crosses to the event loop, goes out as one JSON line, and is broadcast on ``/v1/events``
as a ``face_prompt`` event with the same object. An error before the first step (bad photo,
no camera, camera busy) is an ordinary JSON error; a fault after the stream began ends it with
a ``camera_fault`` verdict.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from drivers.base import FaceSessionCapability
from drivers.camera.errors import ImageError
from drivers.errors import DriverError
from edge_agent.errors import AgentError
from govedge.logs import fields, get_logger

if TYPE_CHECKING:
    from edge_agent.local_api import LocalApi

log = get_logger(__name__)

ACTIONS = ("blink", "turn_left", "turn_right")
NDJSON = "application/x-ndjson"
_DONE = object()


def _fault_verdict() -> dict[str, Any]:
    return {
        "step": "verdict",
        "matched": False,
        "live": False,
        "passed": False,
        "reason": "camera_fault",
    }


def _parse(body: dict[str, Any]) -> tuple[bytes, int, list[str] | None] | web.Response:
    from edge_agent.local_api import error_response

    text = body.get("reference_image")
    if not isinstance(text, str) or not text:
        return error_response(
            400, "reference_image (base64 of the card photo) is required", "bad_request"
        )
    try:
        image = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return error_response(400, "reference_image must be base64", "bad_request")
    attempt = body.get("attempt", 1)
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        return error_response(400, "attempt must be a whole number from 1", "bad_request")
    challenges = body.get("challenges")
    if challenges is not None and (
        not isinstance(challenges, list)
        or not challenges
        or any(c not in ACTIONS for c in challenges)
    ):
        return error_response(
            400, f"challenges must be a list of {', '.join(ACTIONS)}", "bad_request"
        )
    return image, attempt, challenges


async def stream_face_session(
    api: LocalApi, request: web.Request, body: dict[str, Any]
) -> web.StreamResponse:
    """Run one session and stream its steps (see the module docstring)."""
    from edge_agent.local_api import driver_error_response, error_response

    parsed = _parse(body)
    if isinstance(parsed, web.Response):
        return parsed
    image, attempt, challenges = parsed
    try:
        sup = api._pick(FaceSessionCapability, request, body)
    except AgentError as exc:
        return error_response(404, str(exc), "no_driver")
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def emit(event: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, dict(event))

    async def run() -> Any:
        try:
            return await api.call_locked(sup, lambda d: d.face_session(image, emit, challenges))
        finally:
            queue.put_nowait(_DONE)

    task = asyncio.create_task(run())
    first = await queue.get()
    if first is _DONE:
        try:
            task.result()
        except ImageError as exc:
            return error_response(400, f"reference_image: {exc}", "bad_image")
        except DriverError as exc:
            return driver_error_response(exc)
        return error_response(502, "the face session ended without a step", "camera_fault")
    response = web.StreamResponse(headers={"Content-Type": NDJSON, "Cache-Control": "no-cache"})
    await response.prepare(request)
    verdict_sent = False
    item = first
    try:
        while item is not _DONE:
            verdict_sent = verdict_sent or item.get("step") == "verdict"
            await _send(api, response, item)
            item = await queue.get()
        try:
            task.result()
        except DriverError as exc:
            log.warning("face_session_failed", extra=fields(error=type(exc).__name__))
            if not verdict_sent:
                await _send(api, response, _fault_verdict())
        await response.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        log.info("face_session_client_left", extra=fields(attempt=attempt))
    return response


async def _send(api: LocalApi, response: web.StreamResponse, event: dict[str, Any]) -> None:
    api.agent.broadcast({"event": "face_prompt", **event})
    await response.write(json.dumps(event).encode() + b"\n")
