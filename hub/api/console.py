"""Read routes the operator console needs, and the rollout and certificate actions it offers.

A hub extension (``install(hub, app)``). The device list here filters by state (online, offline,
degraded), site, model, label, firmware and config version, searches and pages on the server:
one pass over the devices table (10 000 rows in tens of milliseconds), cached for a second so a
wall of consoles costs one scan. ``/console/overview`` counts per site and per model, lists the
devices that need attention first and their positions; ``/console/stream`` is a WebSocket that
pushes the overview counts whenever they change, so the page never reloads.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from aiohttp import WSMsgType, web

from hub.api.routing import ApiRoutes, one_of, optional_body_of, query_of
from hub.api.util import blocking, hub_of, json_ok
from hub.auth import OPERATE, READ
from hub.context import ROLE_KEY, Hub
from hub.db import commands, device_configs, devices, events, rollouts
from hub.errors import NotFoundError, ValidationError

routes = ApiRoutes("console")

FAULTED = frozenset({"offline", "no_device", "hardware_error"})
STATES = ("online", "offline", "degraded")
CACHE_S = 1.0
STREAM_S = 1.0
CONFIG_LATE_S = 300.0
ATTENTION_LIMIT = 50


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


class ResumeBody(msgspec.Struct, forbid_unknown_fields=True):
    """The optional body of POST /api/v1/rollouts/{id}/resume."""

    max_failures: Annotated[int, msgspec.Meta(ge=0)] | None = None


class RevokeBody(msgspec.Struct, forbid_unknown_fields=True):
    """The optional body of POST /api/v1/devices/{id}/certificate/revoke."""

    reason: Annotated[str, msgspec.Meta(description="RFC 5280 reason, e.g. key_compromise")] = ""


def device_state(online: bool, health: dict[str, Any] | None) -> str:
    """online, offline, or degraded (online with a driver not online)."""
    if not online:
        return "offline"
    drivers = (health or {}).get("drivers") or {}
    if any(isinstance(d, dict) and d.get("state") != "online" for d in drivers.values()):
        return "degraded"
    return "online"


def _problems(row: dict[str, Any]) -> list[dict[str, str]]:
    """What is wrong with a device: each a kind and a detail an operator can act on."""
    out: list[dict[str, str]] = []
    drivers = (row.get("health") or {}).get("drivers") or {}
    for name, d in sorted(drivers.items()):
        if not isinstance(d, dict):
            continue
        state, detail = str(d.get("state", "")), str(d.get("detail", ""))
        if state == "user_error" and "paper" in detail.lower():
            out.append({"kind": "paper_out", "detail": f"{name}: {detail}"})
        elif state in FAULTED or state == "user_error":
            out.append({"kind": "driver_faulted", "detail": f"{name}: {state} {detail}".strip()})
    return out


class FleetView:
    """The devices table as the console reads it, cached for ``CACHE_S``."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._rows: list[dict[str, Any]] = []
        self._at = 0.0
        self._lock = asyncio.Lock()

    def _load(self) -> list[dict[str, Any]]:
        # JSON columns come as text and are decoded with msgspec: SQLAlchemy's JSON type and
        # row mappings cost more than the query itself at 10 000 devices.
        text = sa.Text
        cols = [
            devices.c.id,
            devices.c.model,
            devices.c.site,
            devices.c.lat,
            devices.c.lon,
            devices.c.firmware,
            devices.c.config_version,
            sa.cast(devices.c.labels, text),
            devices.c.online,
            devices.c.last_seen,
            sa.cast(devices.c.health, text),
        ]
        with self.hub.engine.connect() as conn:
            raw = conn.execute(sa.select(*cols).order_by(devices.c.id)).all()
            configs = {
                r[0]: (r[1], r[2], r[3], r[4])
                for r in conn.execute(
                    sa.select(
                        device_configs.c.device_id,
                        device_configs.c.version,
                        device_configs.c.state,
                        device_configs.c.updated,
                        device_configs.c.error,
                    )
                )
            }
        now = time.time()
        decode = msgspec.json.decode
        rows: list[dict[str, Any]] = []
        for dev_id, model, site, lat, lon, fw, cfg, labels, online, last_seen, health in raw:
            health_doc = decode(health) if health and health != "null" else None
            row: dict[str, Any] = {
                "id": dev_id,
                "model": model,
                "site": site,
                "lat": lat,
                "lon": lon,
                "firmware": fw,
                "config_version": cfg,
                "labels": decode(labels) if labels and labels != "null" else {},
                "online": bool(online),
                "last_seen": last_seen,
                "health": health_doc,
            }
            row["state"] = device_state(row["online"], health_doc)
            problems = _problems(row) if health_doc else []
            desired = configs.get(dev_id)
            row["config_desired"] = desired[0] if desired else None
            row["config_state"] = desired[1] if desired else ""
            if desired is not None:
                late = desired[1] == "pending" and now - desired[2] > CONFIG_LATE_S
                if desired[1] == "failed" or late:
                    problems.append(
                        {
                            "kind": "config_not_applied",
                            "detail": f"v{desired[0]} {desired[1]} {desired[3]}".strip(),
                        }
                    )
            if not row["online"]:
                problems.insert(0, {"kind": "offline", "detail": ""})
            row["problems"] = problems
            rows.append(row)
        return rows

    async def rows(self) -> list[dict[str, Any]]:
        async with self._lock:
            if time.monotonic() - self._at > CACHE_S:
                self._rows = await blocking(self._load)
                self._at = time.monotonic()
            return self._rows


VIEW_KEY = "console_view"


def _view(request: web.Request) -> FleetView:
    hub = hub_of(request)
    view = hub.extras.get(VIEW_KEY)
    if view is None:
        view = hub.extras[VIEW_KEY] = FleetView(hub)
    return view  # type: ignore[no-any-return]


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "health"} | {
        "drivers": {
            name: {"state": d.get("state", ""), "detail": d.get("detail", "")}
            for name, d in (((row.get("health") or {}).get("drivers")) or {}).items()
            if isinstance(d, dict)
        }
    }


@routes.get(
    "/console/devices",
    roles=READ,
    summary="Devices filtered on the server (state, site, model, label, firmware, config "
    "version, text), paged, with the values to offer in each filter",
    query=DeviceQuery,
)
async def list_devices(request: web.Request) -> web.Response:
    rows = await _view(request).rows()
    query = query_of(request, DeviceQuery)
    state = query.state
    label = None
    if raw := query.label:
        key, sep, value = raw.partition("=")
        if not sep:
            raise ValidationError("query parameter 'label' must be key=value", "label")
        label = (key, value)
    config_version = query.config_version
    text = query.q.strip().lower()
    site, model, firmware = query.site, query.model, query.firmware

    def keep(r: dict[str, Any]) -> bool:
        if state and r["state"] != state:
            return False
        if site and r["site"] != site:
            return False
        if model and r["model"] != model:
            return False
        if firmware and r["firmware"] != firmware:
            return False
        if config_version is not None and r["config_version"] != config_version:
            return False
        if label and r["labels"].get(label[0]) != label[1]:
            return False
        if text:
            hay = " ".join(
                [r["id"], r["site"], r["model"], *(f"{k}={v}" for k, v in r["labels"].items())]
            ).lower()
            if text not in hay:
                return False
        return True

    matched = [r for r in rows if keep(r)]
    if query.sort == "last_seen":
        matched.sort(key=lambda r: r["last_seen"] or 0.0)
    offset, limit = query.offset, query.limit
    facets = {
        "sites": sorted({r["site"] for r in rows if r["site"]}),
        "models": sorted({r["model"] for r in rows if r["model"]}),
        "firmwares": sorted({r["firmware"] for r in rows if r["firmware"]}),
        "config_versions": sorted({r["config_version"] for r in rows}),
    }
    return json_ok(
        {
            "total": len(matched),
            "offset": offset,
            "items": [_public(r) for r in matched[offset : offset + limit]],
            "facets": facets,
        }
    )


def _counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_site: dict[str, Counter[str]] = defaultdict(Counter)
    by_model: dict[str, Counter[str]] = defaultdict(Counter)
    total: Counter[str] = Counter()
    for r in rows:
        by_site[r["site"] or "-"][r["state"]] += 1
        by_model[r["model"] or "-"][r["state"]] += 1
        total[r["state"]] += 1
    shape = lambda c: {s: c.get(s, 0) for s in STATES}  # noqa: E731
    return {
        "total": {**shape(total), "devices": len(rows)},
        "by_site": {k: shape(v) for k, v in sorted(by_site.items())},
        "by_model": {k: shape(v) for k, v in sorted(by_model.items())},
    }


def _certificates(hub: Hub) -> dict[str, dict[str, Any]]:
    """Newest unrevoked certificate per device, when the hub has a fleet CA."""
    service = hub.extras.get("enrollment")
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
    hub = hub_of(request)
    rows = await _view(request).rows()
    certs = await blocking(_certificates, hub)
    attention: list[dict[str, Any]] = []
    for r in rows:
        problems = list(r["problems"])
        cert = certs.get(r["id"])
        if cert and cert["state"] in ("expiring", "expired"):
            problems.append({"kind": "certificate_expiring", "detail": f"{cert['days_left']} d"})
        if problems:
            attention.append(
                {
                    "id": r["id"],
                    "site": r["site"],
                    "model": r["model"],
                    "state": r["state"],
                    "last_seen": r["last_seen"],
                    "problems": problems,
                }
            )
    # offline longest first, then the rest by how many problems they have
    attention.sort(
        key=lambda a: (a["state"] != "offline", a["last_seen"] or 0.0, -len(a["problems"]))
    )
    kinds = Counter(p["kind"] for a in attention for p in a["problems"])
    positions = [
        [r["lon"], r["lat"], r["id"], r["state"], r["site"]]
        for r in rows
        if r["lat"] is not None and r["lon"] is not None
    ]
    return json_ok(
        {
            **_counts(rows),
            "attention_total": len(attention),
            "attention_kinds": dict(kinds),
            "attention": attention[:ATTENTION_LIMIT],
            "positions": positions,
        }
    )


def _detail(hub: Hub, device_id: str) -> dict[str, Any]:
    info = hub.registry.get(device_id).as_dict()
    info["state"] = device_state(bool(info.get("online")), info.get("health"))
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
    return json_ok(await blocking(_detail, hub_of(request), request.match_info["device_id"]))


@routes.get("/console/rollouts", roles=READ, summary="Recent rollouts with their progress")
async def list_rollouts(request: web.Request) -> web.Response:
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
            ro = hub.configs.rollout(rollout_id)
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
    hub = hub_of(request)
    rollout_id = request.match_info["rollout_id"]

    def load() -> list[dict[str, Any]]:
        hub.configs.rollout(rollout_id)  # 404 for an unknown rollout
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
    ro = hub.configs.rollout(rollout_id)
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
    hub = hub_of(request)
    rollout_id = request.match_info["rollout_id"]
    await blocking(_set_rollout_state, hub, rollout_id, "halted", None)
    return json_ok(await blocking(hub.configs.rollout, rollout_id))


@routes.post(
    "/rollouts/{rollout_id}/resume",
    roles=OPERATE,
    summary="Resume a halted rollout, optionally with a higher failure limit",
    body=ResumeBody,
    body_required=False,
)
async def resume_rollout(request: web.Request) -> web.Response:
    hub = hub_of(request)
    rollout_id = request.match_info["rollout_id"]
    body = optional_body_of(request, ResumeBody)
    max_failures = body.max_failures if body is not None else None
    await blocking(_set_rollout_state, hub, rollout_id, "running", max_failures)
    return json_ok(await blocking(hub.configs.rollout, rollout_id))


@routes.post(
    "/devices/{device_id}/certificate/revoke",
    roles=OPERATE,
    summary="Revoke every unrevoked certificate of a device (the CRL is rewritten)",
    body=RevokeBody,
    body_required=False,
    errors={404: "no such device, or the hub has no fleet CA"},
)
async def revoke_certificate(request: web.Request) -> web.Response:
    hub = hub_of(request)
    device_id = request.match_info["device_id"]
    await blocking(hub.registry.get, device_id)
    service = hub.extras.get("enrollment")
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
    return json_ok({"role": request.get(ROLE_KEY, "")})


@routes.get(
    "/console/stream",
    roles=READ,
    summary="WebSocket: the fleet counts now and whenever they change (every second at most)",
)
async def stream(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    view = _view(request)
    last: dict[str, Any] | None = None

    async def reader() -> None:
        async for msg in ws:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break

    read_task = asyncio.create_task(reader())
    try:
        while not ws.closed and not read_task.done():
            counts = _counts(await view.rows())
            counts["attention_total"] = sum(1 for r in await view.rows() if r["problems"])
            counts["changed"] = await blocking(_last_changes, view.hub)
            if counts != last:
                await ws.send_json({"type": "counts", **counts})
                last = counts
            await asyncio.sleep(STREAM_S)
    except ConnectionResetError:
        pass  # the page went away between two updates
    finally:
        read_task.cancel()
    return ws


def _last_changes(hub: Hub) -> list[float]:
    """When commands, configs and rollouts last changed: the page refreshes what it shows."""
    with hub.engine.connect() as conn:
        return [
            float(conn.execute(sa.select(sa.func.max(table.c.updated))).scalar() or 0.0)
            for table in (commands, device_configs, rollouts)
        ]


def install(hub: Hub, app: web.Application) -> None:
    hub.extras[VIEW_KEY] = FleetView(hub)
    routes.install(app)
    hub.extras.setdefault("api_groups", []).append(routes)
