"""Telemetry: raw range queries, windowed aggregates and the latest values."""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from aiohttp import web

from hub.api.routing import ApiRoutes, one_of, query_of
from hub.api.util import blocking, hub_of, json_ok, parse_time
from hub.auth import READ
from hub.errors import ValidationError
from hub.storage.base import AGGREGATES

routes = ApiRoutes("telemetry")

Aggregate = Annotated[str, one_of(AGGREGATES, ", ".join(AGGREGATES))]


class TelemetryQuery(msgspec.Struct, forbid_unknown_fields=True):
    """A device's telemetry between two times: raw points, or aggregated per window."""

    metric: Annotated[str, msgspec.Meta(description="quantity name; required with agg")] = ""
    start: Annotated[str, msgspec.Meta(description="Unix seconds or relative (-1h)")] = ""
    end: Annotated[str, msgspec.Meta(description="Unix seconds or relative; default now")] = ""
    limit: Annotated[int, msgspec.Meta(ge=1, le=100_000, description="raw points")] = 1000
    agg: Aggregate | None = None
    every: Annotated[int, msgspec.Meta(ge=1, le=86400 * 31, description="window, s")] = 60


class Telemetry(msgspec.Struct, omit_defaults=True):
    """Raw points, or (with ``agg``) one aggregate per window of ``every`` seconds."""

    device_id: str
    items: list[dict[str, Any]]
    metric: str | None = None
    agg: str | None = None
    every: int | None = None


class Latest(msgspec.Struct):
    """The newest value of each of a device's metrics."""

    device_id: str
    metrics: dict[str, Any]


@routes.get(
    "/devices/{device_id}/telemetry",
    roles=READ,
    summary="Telemetry of one device: raw points, or one aggregate per window",
    query=TelemetryQuery,
    response=Telemetry,
)
async def device_telemetry(request: web.Request) -> web.Response:
    """A device's telemetry, raw or aggregated (agg and every), over a time range."""
    hub = hub_of(request)
    q = query_of(request, TelemetryQuery)
    device_id = request.match_info["device_id"]
    await blocking(hub.registry.get, device_id)
    now = time.time()
    start = parse_time(q.start, "start", now - 3600)
    end = parse_time(q.end, "end", now + 1)
    if end <= start:
        raise ValidationError("'end' must be after 'start'", "end")
    metric = q.metric or None
    if q.agg:
        if not metric:
            raise ValidationError("'metric' is required with 'agg'", "metric")
        items = await blocking(hub.store.aggregate, device_id, metric, start, end, q.every, q.agg)
        answer = {"device_id": device_id, "metric": metric, "agg": q.agg, "every": q.every}
        return json_ok({**answer, "items": items})
    items = await blocking(hub.store.query, device_id, metric, start, end, q.limit)
    return json_ok({"device_id": device_id, "items": items})


@routes.get(
    "/devices/{device_id}/telemetry/latest",
    roles=READ,
    summary="The newest value of each metric of one device",
    response=Latest,
)
async def latest(request: web.Request) -> web.Response:
    """The newest value of each metric of a device."""
    hub = hub_of(request)
    device_id = request.match_info["device_id"]
    await blocking(hub.registry.get, device_id)
    return json_ok({"device_id": device_id, "metrics": await blocking(hub.store.latest, device_id)})
