"""``install(hub, app)``: releases on a hub worker: the API, the device download route, the
outcome listener and the rollout loop."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from aiohttp import web
from msgspec import Meta
from prometheus_client import Gauge

from hub.api.routing import ApiRoutes, body_of
from hub.api.util import blocking, hub_of, json_ok
from hub.auth import OPERATE, READ
from hub.background import every, while_serving
from hub.context import ExtensionKey, Hub
from hub.ingest.pipeline import Accepted, Writer
from hub.registry import Selector
from hub.releases.service import HALTED, ReleaseService, is_report
from hub.releases.tables import create_tables

log = logging.getLogger("govedge.hub.releases")

RELEASES = ExtensionKey("release service", ReleaseService, "hub.releases.setup")
ADVANCE_S = 1.0
PUBLIC = frozenset({"*"})

routes = ApiRoutes("releases")


def service_of(request: web.Request) -> ReleaseService:
    return hub_of(request).extensions[RELEASES]


@routes.post(
    "/releases",
    roles=OPERATE,
    summary="Upload a signed release bundle (application/x-tar); refused unless it verifies",
    status=201,
)
async def upload(request: web.Request) -> web.Response:
    svc = service_of(request)
    path = await blocking(svc.upload_file)
    try:
        with path.open("wb") as f:
            async for chunk in request.content.iter_chunked(1 << 16):
                f.write(chunk)
        release = await blocking(svc.add, path)
    finally:
        path.unlink(missing_ok=True)
    release.pop("manifest", None)
    return json_ok(release, status=201)


@routes.get("/releases", roles=READ, summary="Releases the hub holds")
async def list_releases(request: web.Request) -> web.Response:
    return json_ok({"items": await blocking(service_of(request).list)})


@routes.get(
    "/releases/{version}/bundle",
    roles=PUBLIC,
    summary="A release bundle for devices (signed: integrity comes from the signature); "
    "supports Range for resumed downloads",
)
async def bundle(request: web.Request) -> web.FileResponse:
    svc = service_of(request)
    path = await blocking(svc.bundle_path, request.match_info["version"])
    return web.FileResponse(path, headers={"Content-Type": "application/x-tar"})


@routes.get(
    "/releases/{version}/manifest",
    roles=PUBLIC,
    summary="A release's signed manifest (devices check its signature before downloading)",
)
async def manifest(request: web.Request) -> web.Response:
    release = await blocking(service_of(request).get, request.match_info["version"])
    return json_ok(release["manifest"])


class RolloutRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /releases/{version}/rollouts."""

    selector: dict[str, Any]
    steps: list[Annotated[float, Meta(gt=0, le=100)]] = msgspec.field(
        default_factory=lambda: [10.0, 50.0, 100.0]
    )
    max_failures: Annotated[int, Meta(ge=0)] = 0
    health_gate_s: Annotated[float, Meta(ge=0)] | None = None  # default: the hub config's


@routes.post(
    "/releases/{version}/rollouts",
    roles=OPERATE,
    summary="Roll a release out in stages, with a health gate and a failure limit",
    body=RolloutRequest,
    status=201,
)
async def create_rollout(request: web.Request) -> web.Response:
    hub = hub_of(request)
    svc = service_of(request)
    body = body_of(request, RolloutRequest)
    targets = [d.id for d in await blocking(hub.registry.select, Selector.from_json(body.selector))]
    rollout = await blocking(
        svc.start_rollout,
        request.match_info["version"],
        targets,
        body.selector,
        body.steps,
        body.max_failures,
        body.health_gate_s,
        str(request.url.origin()),
    )
    return json_ok(rollout, status=201)


@routes.get("/release-rollouts/{rollout_id}", roles=READ, summary="A release rollout")
async def get_rollout(request: web.Request) -> web.Response:
    return json_ok(await blocking(service_of(request).rollout, request.match_info["rollout_id"]))


def reports_writer(svc: ReleaseService) -> Writer:
    """The update outcomes of a batch's events, written in the transaction that stores the batch
    (``Pipeline.writers``): a worker killed before its listeners loses no report."""

    def write(conn: sa.Connection, acc: Accepted) -> None:
        if acc.events:
            svc.on_events(acc.events, conn)

    return write


def install(hub: Hub, app: web.Application) -> None:
    """Install the releases: tables, service, rollout loop, routes."""
    create_tables(hub.engine)
    svc = ReleaseService(hub.engine, hub.registry, hub.commands, hub.config.releases)
    hub.extensions.add(RELEASES, svc)
    halted = Gauge(
        "govedge_hub_release_rollouts_halted",
        "Release rollouts halted by their failure limit or health gate",
        registry=hub.metrics.registry,
    )

    def on_batch(acc: Accepted) -> None:
        if any(is_report(ev) for ev in acc.events):
            try:
                svc.advance()  # at once; the loop below would take up to ADVANCE_S
            except Exception:
                log.exception("release_advance_failed")

    hub.pipeline.writers.append(reports_writer(svc))
    hub.pipeline.listeners.append(on_batch)
    routes.install(app)

    def advance() -> None:
        svc.advance()
        halted.set(svc.halted_count())

    while_serving(app, every(ADVANCE_S, advance, log, "release_advance_failed"))


__all__ = ["HALTED", "install", "reports_writer"]
