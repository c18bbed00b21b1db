"""Read routes the operator console needs, and the rollout and certificate actions it offers.

A hub extension (``install(hub, app)``). The device list here filters by state (online, offline,
degraded), site, model, label, firmware and config version, searches and pages on the server, in
SQL (``console_fleet``): the first page of 10 000 devices costs a few milliseconds, the values
each filter offers come from ``/console/facets``. ``/console/overview`` counts per site and per
model, lists the devices that need attention first and their positions; ``/console/stream`` is a
WebSocket that pushes the overview counts whenever they change (read at most once a second,
however many consoles are open), so the page never reloads.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from aiohttp import WSMsgType, web

from hub.api import console_fleet as fleet
from hub.api.console_fleet import STATES, DeviceFilter
from hub.api.routing import ApiRoutes, one_of, optional_body_of, query_of
from hub.api.util import blocking, hub_of, json_ok
from hub.auth import OPERATE, READ
from hub.context import ROLE_KEY, ExtensionKey, Hub
from hub.db import commands, device_configs, events, rollouts
from hub.enrollment import ENROLLMENT
from hub.errors import NotFoundError, ValidationError

routes = ApiRoutes("console")

STREAM_S = 1.0
CACHE_S = 1.0
ATTENTION_LIMIT = 50
CERT_WARN = ("expiring", "expired")


class DeviceQuery(msgspec.Struct, forbid_unknown_fields=True):
    """The filters, order and page of GET /api/v1/console/devices."""

    state: Annotated[str, one_of(("", *STATES), "online, offline or degraded")] = ""
    site: str = ""
    model: str = ""
    label: Annotated[str, msgspec.Meta(description="key=value")] = ""
    firmware: str = ""
    config_version: Annotated[int, msgspec.Meta(ge=0, le=2**31)] | None = None
    q: Annotated[str, msgspec.Meta(description="text in the id, site, model or a label")] = ""
    sort: Annotated[str, one_of(("", "id", "last_seen"), "id (default) or last_seen")] = ""
    offset: Annotated[int, msgspec.Meta(ge=0, le=10**9)] = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000, description="default 50")] = 50
    facets: Annotated[bool, msgspec.Meta(description="include the facets (default true)")] = True


class ResumeBody(msgspec.Struct, forbid_unknown_fields=True):
    """The optional body of POST /api/v1/rollouts/{id}/resume."""

    max_failures: Annotated[int, msgspec.Meta(ge=0)] | None = None


class RevokeBody(msgspec.Struct, forbid_unknown_fields=True):
    """The optional body of POST /api/v1/devices/{id}/certificate/revoke."""

    reason: Annotated[str, msgspec.Meta(description="RFC 5280 reason, e.g. key_compromise")] = ""


def _filter(query: DeviceQuery) -> DeviceFilter:
    label = None
    if raw := query.label:
        key, sep, value = raw.partition("=")
        if not sep:
            raise ValidationError("query parameter 'label' must be key=value", "label")
        label = (key, value)
    return DeviceFilter(
        state=query.state,
        site=query.site,
        model=query.model,
        label=label,
        firmware=query.firmware,
        config_version=query.config_version,
        text=query.q.strip().lower(),
    )


@routes.get(
    "/console/devices",
    roles=READ,
    summary="Devices filtered on the server (state, site, model, label, firmware, config "
    "version, text), paged; with facets=1 also the values to offer in each filter",
    query=DeviceQuery,
)
async def list_devices(request: web.Request) -> web.Response:
    """One page of devices for the console's table, with its filters applied."""
    hub = hub_of(request)
    query = query_of(request, DeviceQuery)
    flt = _filter(query)

    def load() -> dict[str, Any]:
        with hub.engine.connect() as conn:
            total, items = fleet.page(conn, flt, query.sort, query.offset, query.limit)
            out: dict[str, Any] = {"total": total, "offset": query.offset, "items": items}
            if query.facets:
                out["facets"] = fleet.facets(conn)
            return out

    return json_ok(await blocking(load))


@routes.get(
    "/console/facets",
    roles=READ,
    summary="The values each device-list filter can take (sites, models, firmwares, config "
    "versions)",
)
async def list_facets(request: web.Request) -> web.Response:
    """The values the console's filters offer (sites, models, labels), from the registry."""
    hub = hub_of(request)

    def load() -> dict[str, Any]:
        with hub.engine.connect() as conn:
            return fleet.facets(conn)

    return json_ok(await blocking(load))


def _certificates(hub: Hub) -> dict[str, dict[str, Any]]:
    """Newest unrevoked certificate per device, when the hub has a fleet CA."""
    service = hub.extensions.get(ENROLLMENT)
    if service is None:
        return {}
    from provisioning.rotation import DEFAULT_WARN_DAYS, fleet_expiry

    records = list(reversed(service.ca.index.all()))
    now = datetime.now(UTC)
    return {
        h.common_name: {
            "serial": h.serial,
            "days_left": round(h.days_left, 2),
            "state": h.state,
            "not_after": h.not_after.isoformat(),
        }
        for h in fleet_expiry(records, warn_days=DEFAULT_WARN_DAYS, now=now)
    }


@routes.get(
    "/console/overview",
    roles=READ,
    summary="Online, offline and degraded per site and per model; the devices that need "
    "attention first; device positions",
)
async def overview(request: web.Request) -> web.Response:
    """The console's first view: fleet counts and device positions in one answer."""
    hub = hub_of(request)
    summary = hub.extensions[CONSOLE_SUMMARY]
    # the counts and positions from one pass; the live counts the page then connects for
    counts, positions, rows = await summary.fresh()

    def load() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        certs = _certificates(hub)
        expiring = {d: cert for d, cert in certs.items() if cert["state"] in CERT_WARN}
        seen = {r["id"] for r in rows}
        with hub.engine.connect() as conn:
            more = fleet.by_ids(conn, sorted(set(expiring) - seen))
        return expiring, more

    expiring, more = await blocking(load)
    attention: list[dict[str, Any]] = []
    for r in [*rows, *more]:
        problems = list(r["problems"])
        if cert := expiring.get(r["id"]):
            problems.append({"kind": "certificate_expiring", "detail": f"{cert['days_left']} d"})
        if problems:
            keep = ("id", "site", "model", "state", "last_seen")
            attention.append({k: r[k] for k in keep} | {"problems": problems})
    # offline longest first, then the rest by how many problems they have
    attention.sort(
        key=lambda a: (a["state"] != "offline", a["last_seen"] or 0.0, -len(a["problems"]))
    )
    return json_ok(
        {
            **{k: counts[k] for k in ("total", "by_site", "by_model")},
            "attention_total": len(attention),
            "attention_kinds": dict(Counter(p["kind"] for a in attention for p in a["problems"])),
            "attention": attention[:ATTENTION_LIMIT],
            "positions": positions,
        }
    )


def _detail(hub: Hub, device_id: str) -> dict[str, Any]:
    info = hub.registry.get(device_id).as_dict()
    info["state"] = fleet.device_state(bool(info.get("online")), info.get("health"))
    with hub.engine.connect() as conn:
        desired = conn.execute(
            sa.select(device_configs).where(device_configs.c.device_id == device_id)
        ).first()
        recent = conn.execute(
            sa.select(events)
            .where(events.c.device_id == device_id)
            .order_by(events.c.id.desc())
            .limit(20)
        ).all()
    info["config"] = {
        "desired": dict(desired._mapping) if desired else None,
        "reported_version": info.get("config_version", 0),
    }
    info["events"] = [dict(r._mapping) for r in recent]
    info["commands"] = hub.commands.search(device_id=device_id, limit=20)
    info["history"] = hub.registry.history(device_id, 20)
    info["certificate"] = _certificates(hub).get(device_id)
    info["latest"] = hub.store.latest(device_id)
    return info


@routes.get(
    "/console/devices/{device_id}",
    roles=READ,
    summary="One device in depth: drivers, config desired vs reported, certificate, recent "
    "events, commands, state history, latest values",
)
async def device_detail(request: web.Request) -> web.Response:
    """Everything the console shows about one device."""
    return json_ok(await blocking(_detail, hub_of(request), request.match_info["device_id"]))


@routes.get("/console/rollouts", roles=READ, summary="Recent rollouts with their progress")
async def list_rollouts(request: web.Request) -> web.Response:
    """Recent config rollouts with their progress."""
    hub = hub_of(request)

    def load() -> list[dict[str, Any]]:
        with hub.engine.connect() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    sa.select(rollouts.c.id).order_by(rollouts.c.created.desc()).limit(20)
                )
            ]
        out = []
        for rollout_id in ids:
            ro = hub.device_configs.rollout(rollout_id)
            ro["target_count"] = len(ro.pop("targets"))
            out.append(ro)
        return out

    return json_ok({"items": await blocking(load)})


@routes.get(
    "/console/rollouts/{rollout_id}/failures",
    roles=READ,
    summary="The devices of a rollout that refused its config, and why",
)
async def rollout_failures(request: web.Request) -> web.Response:
    """The devices that failed a rollout."""
    hub = hub_of(request)
    rollout_id = request.match_info["rollout_id"]

    def load() -> list[dict[str, Any]]:
        hub.device_configs.rollout(rollout_id)  # 404 for an unknown rollout
        with hub.engine.connect() as conn:
            rows = conn.execute(
                sa.select(device_configs.c.device_id, device_configs.c.error)
                .where(
                    device_configs.c.rollout_id == rollout_id, device_configs.c.state == "failed"
                )
                .order_by(device_configs.c.device_id)
            )
            return [dict(r._mapping) for r in rows]

    return json_ok({"items": await blocking(load)})


def _set_rollout_state(hub: Hub, rollout_id: str, want: str, max_failures: int | None) -> None:
    ro = hub.device_configs.rollout(rollout_id)
    allowed = {"halted": "running", "running": "halted"}
    if ro["state"] != allowed[want]:
        raise ValidationError(
            f"rollout {rollout_id} is {ro['state']}; only a {allowed[want]} rollout can be "
            f"{'halted' if want == 'halted' else 'resumed'}"
        )
    values: dict[str, Any] = {
        "state": want,
        "reason": "halted by an operator" if want == "halted" else "",
        "updated": time.time(),
    }
    if max_failures is not None:
        values["max_failures"] = max_failures
    with hub.engine.begin() as conn:
        conn.execute(rollouts.update().where(rollouts.c.id == rollout_id).values(**values))


@routes.post(
    "/rollouts/{rollout_id}/halt",
    roles=OPERATE,
    summary="Halt a running rollout: no further step is sent",
)
async def halt_rollout(request: web.Request) -> web.Response:
    """Stop a rollout: no further devices get its config."""
    return await _move_rollout(request, "halted", None)


@routes.post(
    "/rollouts/{rollout_id}/resume",
    roles=OPERATE,
    summary="Resume a halted rollout, optionally with a higher failure limit",
    body=ResumeBody,
    body_required=False,
)
async def resume_rollout(request: web.Request) -> web.Response:
    """Resume a halted rollout, optionally with a new failure limit."""
    body = optional_body_of(request, ResumeBody)
    return await _move_rollout(request, "running", body.max_failures if body else None)


async def _move_rollout(request: web.Request, state: str, max_failures: int | None) -> web.Response:
    hub = hub_of(request)
    rollout_id = request.match_info["rollout_id"]
    await blocking(_set_rollout_state, hub, rollout_id, state, max_failures)
    return json_ok(await blocking(hub.device_configs.rollout, rollout_id))


@routes.post(
    "/devices/{device_id}/certificate/revoke",
    roles=OPERATE,
    summary="Revoke every unrevoked certificate of a device (the CRL is rewritten)",
    body=RevokeBody,
    body_required=False,
    errors={404: "no such device, or the hub has no fleet CA"},
)
async def revoke_certificate(request: web.Request) -> web.Response:
    """Revoke a device's certificate (the hub must hold the fleet CA)."""
    hub = hub_of(request)
    device_id = request.match_info["device_id"]
    await blocking(hub.registry.get, device_id)
    service = hub.extensions.get(ENROLLMENT)
    if service is None:
        raise NotFoundError("this hub has no fleet CA (ca_dir is not set)")
    body = optional_body_of(request, RevokeBody)
    reason = (body.reason if body is not None else "") or "unspecified"
    from provisioning.errors import ProvisioningError

    try:
        records = await blocking(service.ca.revoke_identity, device_id, reason)
    except ProvisioningError as exc:
        raise ValidationError(str(exc)) from None
    return json_ok({"device_id": device_id, "revoked": [r.serial for r in records]})


@routes.get("/console/whoami", roles=READ, summary="The role of the caller's token")
async def whoami(request: web.Request) -> web.Response:
    """The caller's role, so the console shows only what it may do."""
    return json_ok({"role": request.get(ROLE_KEY, "")})


@routes.get(
    "/console/stream",
    roles=READ,
    summary="WebSocket: the fleet counts now and whenever they change (every second at most)",
)
async def stream(request: web.Request) -> web.StreamResponse:
    """Push the fleet summary to a console over a WebSocket whenever it changes."""
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    summary = hub_of(request).extensions[CONSOLE_SUMMARY]
    last: dict[str, Any] | None = None

    async def reader() -> None:
        async for msg in ws:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break

    read_task = asyncio.create_task(reader())
    try:
        while not ws.closed and not read_task.done():
            counts = await summary.get()
            if counts != last:
                await ws.send_json({"type": "counts", **counts})
                last = counts
            await asyncio.sleep(STREAM_S)
    except ConnectionResetError:
        pass  # the page went away between two updates
    finally:
        read_task.cancel()
    return ws


class FleetSummary:
    """The counts every console's stream pushes, read at most once per ``CACHE_S`` however
    many consoles are open."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._value: dict[str, Any] = {}
        self._at = 0.0
        self._lock = asyncio.Lock()

    def _load(
        self, with_positions: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        positions: dict[str, Any] = {}
        with self.hub.engine.connect() as conn:
            if with_positions:
                out, positions = fleet.counts_and_positions(conn)
            else:
                out = fleet.counts(conn)
            rows = fleet.troubled(conn)
        out["attention_total"] = sum(1 for r in rows if r["problems"])
        out["changed"] = _last_changes(self.hub)
        return out, positions, rows

    async def fresh(self) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """The counts read now, the device positions, and the devices with a problem."""
        async with self._lock:
            self._value, positions, rows = await blocking(self._load, True)
            self._at = time.monotonic()
            return self._value, positions, rows

    async def get(self) -> dict[str, Any]:
        """The counts, read again when older than ``CACHE_S``."""
        async with self._lock:
            if time.monotonic() - self._at > CACHE_S:
                self._value, _, _ = await blocking(self._load)
                self._at = time.monotonic()
            return self._value


CONSOLE_SUMMARY = ExtensionKey("console fleet summary", FleetSummary, "hub.api.console")


def _last_changes(hub: Hub) -> list[float]:
    """When commands, configs and rollouts last changed: the page refreshes what it shows."""
    with hub.engine.connect() as conn:
        return [
            float(conn.execute(sa.select(sa.func.max(table.c.updated))).scalar() or 0.0)
            for table in (commands, device_configs, rollouts)
        ]


def install(hub: Hub, app: web.Application) -> None:
    """Install the console routes and the fleet summary they share."""
    hub.extensions.add(CONSOLE_SUMMARY, FleetSummary(hub))
    routes.install(app)
