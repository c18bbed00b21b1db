"""Helpers of the route modules: the hub, JSON answers, the one error body, times, threads."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from hub.context import HUB_KEY, Hub
from hub.errors import NotFoundError, ValidationError

T = TypeVar("T")

MAX_BODY = 1024 * 1024

MAX_ROW_ID = 2**63 - 1
"""The largest integer a database row id (SQLite, PostgreSQL bigint) holds."""


def row_id(raw: str, what: str) -> int:
    """A numeric id from a URL: anything that cannot be a row's id is simply not found."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= MAX_ROW_ID):
        raise NotFoundError(f"no {what} {raw!r}")
    return int(raw)


def hub_of(request: web.Request) -> Hub:
    """The hub a request is served by."""
    return request.app[HUB_KEY]


def json_ok(data: Any, status: int = 200) -> web.Response:
    """A JSON answer encoded by msgspec."""
    return web.Response(
        body=msgspec.json.encode(data), status=status, content_type="application/json"
    )


ERROR_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    500: "internal",
    502: "bad_gateway",
}


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """The one error body of every route: ``error`` for a person (the consoles show it), ``code``
    for a program, and ``path`` where the fault is (a JSON path into the body or a query
    parameter's name) when there is one."""

    error: str
    code: str
    path: str | None = None


def error_response(
    status: int,
    message: str,
    path: str | None = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> web.Response:
    """The one error body; only the hub's error middleware answers with it."""
    body = ErrorBody(message, code or ERROR_CODES.get(status, f"http_{status}"), path)
    return web.Response(
        body=msgspec.json.encode(body),
        status=status,
        content_type="application/json",
        headers=headers,
    )


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(raw: str, name: str, default: float) -> float:
    """A time as Unix seconds, or relative to now as -3600 / -1h / -15m / -30s."""
    if raw == "":
        return default
    try:
        if raw[-1] in UNITS:
            value = time.time() + float(raw[:-1]) * UNITS[raw[-1]]
        else:
            value = float(raw)
            value = time.time() + value if value < 0 else value
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValidationError(
            f"query parameter {name!r}: Unix seconds or a relative time such as -1h", name
        )
    return value


async def blocking(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking registry or store call off the event loop."""
    return await asyncio.to_thread(func, *args, **kwargs)
