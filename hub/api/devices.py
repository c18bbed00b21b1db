"""Devices: list with filters and paging, detail, state history, registration."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from aiohttp import web

from hub.api.routing import ApiRoutes, body_of, query_of
from hub.api.util import blocking, hub_of, json_ok
from hub.auth import OPERATE, READ
from hub.errors import ValidationError

routes = ApiRoutes("devices")

Text = Annotated[str, msgspec.Meta(max_length=200)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=1000, description="1..1000, default 100")]
Offset = Annotated[int, msgspec.Meta(ge=0, le=10**9)]


class Location(msgspec.Struct, forbid_unknown_fields=True):
    """A point on the earth in degrees (WGS 84)."""

    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]


class DeviceIn(msgspec.Struct, forbid_unknown_fields=True):
    """A device to register, or the new descriptive fields of a known one."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    model: Text = ""
    site: Text = ""
    location: Location | None = None
    labels: dict[Text, Text] = {}
    firmware: Text = ""


class Device(msgspec.Struct):
    """A device as the registry knows it."""

    id: str
    model: str
    site: str
    location: Location | None
    firmware: str
    config_version: int | None
    labels: dict[str, str]
    online: bool
    boot_id: str | None
    keepalive: float | None
    last_seen: float | None
    health: dict[str, Any] | None


class DevicePage(msgspec.Struct):
    """One page of devices and the count of all that matched."""

    total: int
    items: list[Device]


class DeviceQuery(msgspec.Struct, forbid_unknown_fields=True):
    """Filters of the device list; empty fields match everything."""

    site: str = ""
    model: str = ""
    online: bool | None = None
    label: Annotated[str, msgspec.Meta(description="key=value")] = ""
    offset: Offset = 0
    limit: Limit = 100


class StateChange(msgspec.Struct):
    """A device going online or offline, and why."""

    ts: float
    online: bool
    boot_id: str | None
    reason: str | None


class StateHistory(msgspec.Struct):
    """A device's online/offline changes."""

    items: list[StateChange]


class LimitQuery(msgspec.Struct, forbid_unknown_fields=True):
    """How many items to return at most."""

    limit: Limit = 100


@routes.get(
    "/devices",
    roles=READ,
    summary="List devices, filtered and paged",
    query=DeviceQuery,
    response=DevicePage,
)
async def list_devices(request: web.Request) -> web.Response:
    """List the registered devices by site, model, state and label."""
    hub = hub_of(request)
    q = query_of(request, DeviceQuery)
    label = None
    if q.label:
        key, sep, value = q.label.partition("=")
        if not sep:
            raise ValidationError("query parameter 'label' must be key=value", "label")
        label = (key, value)
    items, total = await blocking(
        hub.registry.search,
        site=q.site,
        model=q.model,
        online=q.online,
        label=label,
        offset=q.offset,
        limit=q.limit,
    )
    return json_ok({"total": total, "items": [d.as_dict() for d in items]})


@routes.post(
    "/devices",
    roles=OPERATE,
    summary="Register or update a device",
    body=DeviceIn,
    response=Device,
    status=201,
)
async def register_device(request: web.Request) -> web.Response:
    """Register a device, or update the details of one already known."""
    hub = hub_of(request)
    device = body_of(request, DeviceIn)
    info = await blocking(
        hub.registry.register,
        device.id,
        model=device.model,
        site=device.site,
        lat=device.location.lat if device.location else None,
        lon=device.location.lon if device.location else None,
        labels=device.labels,
        firmware=device.firmware,
    )
    return json_ok(info.as_dict(), status=201)


@routes.get("/devices/{device_id}", roles=READ, summary="One device", response=Device)
async def get_device(request: web.Request) -> web.Response:
    """One device's registry entry, or a 404."""
    hub = hub_of(request)
    info = await blocking(hub.registry.get, request.match_info["device_id"])
    return json_ok(info.as_dict())


@routes.get(
    "/devices/{device_id}/history",
    roles=READ,
    summary="Online/offline state changes, newest first",
    query=LimitQuery,
    response=StateHistory,
)
async def device_history(request: web.Request) -> web.Response:
    """A device's online/offline history."""
    hub = hub_of(request)
    items = await blocking(
        hub.registry.history,
        request.match_info["device_id"],
        query_of(request, LimitQuery).limit,
    )
    return json_ok({"items": items})
