"""Telemetry: raw range queries, windowed aggregates and the latest values."""

from __future__ import annotations

import time

from aiohttp import web

from hub.api.routing import ApiRoutes, Param
from hub.api.util import blocking, hub_of, json_ok, q_int, q_time
from hub.auth import READ
from hub.errors import ValidationError
from hub.storage.base import AGGREGATES

routes = ApiRoutes("telemetry")


@routes.get(
    "/devices/{device_id}/telemetry",
    roles=READ,
    summary="Telemetry of one device: raw points, or one aggregate per window",
    query=(
        Param("metric", description="quantity name; required with agg"),
        Param("start", description="Unix seconds or relative (-1h); default -1h"),
        Param("end", description="Unix seconds or relative; default now"),
        Param("limit", "integer", "raw points, 1..100000, default 1000"),
        Param("agg", description="mean, min, max, count, sum or last"),
        Param("every", "integer", "window in seconds, default 60"),
    ),
)
async def device_telemetry(request: web.Request) -> web.Response:
    hub = hub_of(request)
    device_id = request.match_info["device_id"]
    await blocking(hub.registry.get, device_id)
    now = time.time()
    start = q_time(request, "start", now - 3600)
    end = q_time(request, "end", now + 1)
    if end <= start:
        raise ValidationError("'end' must be after 'start'")
    metric = request.query.get("metric") or None
    agg = request.query.get("agg")
    if agg:
        if agg not in AGGREGATES:
            raise ValidationError(f"'agg' must be one of {', '.join(AGGREGATES)}")
        if not metric:
            raise ValidationError("'metric' is required with 'agg'")
        every = q_int(request, "every", 60, 1, 86400 * 31)
        items = await blocking(hub.store.aggregate, device_id, metric, start, end, every, agg)
        return json_ok(
            {"device_id": device_id, "metric": metric, "agg": agg, "every": every, "items": items}
        )
    limit = q_int(request, "limit", 1000, 1, 100_000)
    items = await blocking(hub.store.query, device_id, metric, start, end, limit)
    return json_ok({"device_id": device_id, "items": items})


@routes.get(
    "/devices/{device_id}/telemetry/latest",
    roles=READ,
    summary="The newest value of each metric of one device",
)
async def latest(request: web.Request) -> web.Response:
    hub = hub_of(request)
    device_id = request.match_info["device_id"]
    await blocking(hub.registry.get, device_id)
    return json_ok({"device_id": device_id, "metrics": await blocking(hub.store.latest, device_id)})
