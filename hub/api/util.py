"""Request parsing helpers: every bad parameter becomes a 400 naming it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from hub.context import HUB_KEY, Hub
from hub.errors import ValidationError

T = TypeVar("T")

MAX_BODY = 1024 * 1024


def hub_of(request: web.Request) -> Hub:
    return request.app[HUB_KEY]


def json_ok(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(data), status=status, content_type="application/json"
    )


async def body_json(request: web.Request) -> dict[str, Any]:
    if request.content_length and request.content_length > MAX_BODY:
        raise ValidationError(f"body is {request.content_length} bytes, the limit is {MAX_BODY}")
    raw = await request.read()
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ValidationError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError("body must be a JSON object")
    return data


def q_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"query parameter {name!r} must be an integer") from None
    if not lo <= value <= hi:
        raise ValidationError(f"query parameter {name!r} must be between {lo} and {hi}")
    return value


def q_time(request: web.Request, name: str, default: float) -> float:
    """A time as Unix seconds, or relative to now as -3600 / -1h / -15m / -30s."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if raw[-1] in units:
            return time.time() + float(raw[:-1]) * units[raw[-1]]
        value = float(raw)
    except ValueError:
        raise ValidationError(
            f"query parameter {name!r}: Unix seconds or a relative time such as -1h"
        ) from None
    return time.time() + value if value < 0 else value


def q_bool(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise ValidationError(f"query parameter {name!r} must be true or false")


async def blocking(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking registry or store call off the event loop."""
    return await asyncio.to_thread(func, *args, **kwargs)
