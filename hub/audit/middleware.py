"""The aiohttp middleware that records every state-changing API call in the audit log.

It is placed outermost (before the hub's auth and error middleware) so that refused calls (401,
403, 400) are recorded too, with the status the caller saw. Request bodies are not stored: only
the device selector and the command name of the fleet-wide actions, never citizen data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from govedge.logs import fields
from hub.api.routing import API_PREFIX
from hub.api.util import MAX_BODY
from hub.audit.store import AuditStore
from hub.context import HUB_KEY, ROLE_KEY
from hub.errors import AuthError

log = logging.getLogger("govedge.hub.audit")

CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SELECTOR_BODIES = ("/commands", "/rollouts")
"""Routes whose body's ``selector`` and ``name`` say which devices an action touches."""
MAX_IDS = 100

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_middleware(store: AuditStore) -> Any:
    """A middleware that records every changing API call (who, what, on which target, outcome)."""

    @web.middleware
    async def audit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in CHANGING or not request.path.startswith(API_PREFIX):
            return await handler(request)
        body: dict[str, Any] = {}
        if (
            request.path[len(API_PREFIX) :] in SELECTOR_BODIES
            and request.content_length is not None
            and request.content_length <= MAX_BODY  # a larger one is the handler's 413
        ):
            try:
                raw = await request.read()  # cached: the handler reads it again
                decoded = msgspec.json.decode(raw) if raw else {}
                body = decoded if isinstance(decoded, dict) else {}
            except (msgspec.DecodeError, ValueError):
                body = {}
        status, error = 500, ""
        response: web.StreamResponse | None = None
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status, error = exc.status, exc.reason
            raise
        finally:
            try:
                await _record(store, request, body, status, error, response)
            except Exception:
                log.exception("audit_write_failed", extra=fields(path=request.path))

    return audit


async def _record(
    store: AuditStore,
    request: web.Request,
    body: dict[str, Any],
    status: int,
    error: str,
    response: web.StreamResponse | None,
) -> None:
    hub = request.app[HUB_KEY]
    role = str(request.get(ROLE_KEY, ""))
    actor = ""
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else request.query.get("access_token", "")
    if token:
        try:
            role, actor = await asyncio.to_thread(hub.tokens.identity_of, token)
        except (AuthError, SQLAlchemyError):
            actor = "(unknown token)"
    result: Any = None
    if (
        isinstance(response, web.Response)
        and response.body is not None
        and response.content_type == "application/json"
    ):
        try:
            result = msgspec.json.decode(bytes(response.body))  # type: ignore[arg-type]
        except (msgspec.DecodeError, TypeError):
            result = None
    if status >= 400 and isinstance(result, dict):
        error = error or str(result.get("error", ""))
    targets = _targets(request, body, result)
    resource = request.match_info.route.resource
    pattern = resource.canonical if resource is not None else request.path
    action = f"{request.method} {pattern[len(API_PREFIX) :] or pattern}"
    if body.get("name") and isinstance(body["name"], str):
        targets["command"] = body["name"][:64]
    await asyncio.to_thread(
        store.append,
        actor=actor,
        role=role,
        method=request.method,
        path=request.path,
        action=action,
        status=status,
        remote=request.remote or "",
        targets=targets,
        error=error,
    )


def _targets(request: web.Request, body: dict[str, Any], result: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    device_id = request.match_info.get("device_id")
    if device_id:
        out["ids"] = [device_id]
        out["count"] = 1
    selector = body.get("selector")
    if isinstance(selector, dict):
        kept = {k: selector[k] for k in ("model", "site", "labels") if selector.get(k)}
        ids = selector.get("ids")
        if isinstance(ids, list):
            kept["ids"] = [str(i) for i in ids[:MAX_IDS]]
        out["selector"] = kept
    if isinstance(result, dict):
        devices = result.get("targets")
        if isinstance(devices, list):
            out["count"] = len(devices)
            out.setdefault("ids", [str(d) for d in devices[:MAX_IDS]])
        commands = result.get("commands")
        if isinstance(commands, list):
            out["count"] = len(commands)
        for key in ("batch", "id", "rollout_id"):
            if isinstance(result.get(key), str | int) and key not in out:
                out[key] = result[key]
    return out
