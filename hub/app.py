"""The hub as an aiohttp application: wiring, auth middleware, background tasks, consoles."""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgspec
import sqlalchemy as sa
from aiohttp import web
from prometheus_client import generate_latest

from govedge import __version__
from govedge.errors import GovedgeError
from govedge.logs import fields
from hub.api import commands as commands_api
from hub.api import device_configs as device_configs_api
from hub.api import devices as devices_api
from hub.api import fleet as fleet_api
from hub.api import telemetry as telemetry_api
from hub.api.routing import (
    API_PREFIX,
    INSTALLED_GROUPS,
    ROLES_ATTR,
    ApiRoutes,
    openapi_document,
)
from hub.api.util import error_response
from hub.auth import TokenStore
from hub.background import in_thread
from hub.commands import CommandService
from hub.context import HUB_KEY, OPENAPI_KEY, ROLE_KEY, Hub
from hub.db import create_schema, make_engine
from hub.device_configs import ConfigService
from hub.errors import AuthError, ForbiddenError, HubError, NotFoundError
from hub.ingest.link import MqttLink
from hub.ingest.pipeline import Accepted, Pipeline, Writer
from hub.metrics import HubMetrics
from hub.registry import Registry
from hub.schema_lock import schema_lock
from hub.settings import HubConfig
from hub.storage.base import open_store

log = logging.getLogger("govedge.hub")

STATIC = Path(__file__).parent / "static"

API_GROUPS: list[ApiRoutes] = [
    devices_api.routes,
    telemetry_api.routes,
    commands_api.routes,
    device_configs_api.routes,
    fleet_api.routes,
]

Startup = Callable[[Hub, web.Application], None]

EXTENSION_MODULES: tuple[str, ...] = (
    "hub.alarms.setup",
    "hub.ingest.broker_backlog",
    "hub.enrollment",
    "hub.emergency.setup",
    "hub.services.setup",
    "hub.inspection.setup",
    "hub.releases.setup",
    "hub.watchdog",
    "hub.api.console",
    "hub.audit.setup",
)
"""Modules whose ``install(hub, app)`` adds routes, listeners and background tasks (rules and
alarms, the emergency feed, enrollment) to a hub being built, in this order. What one installs
for others is under a typed key (``hub.extensions``); asking for it before its module has run is
an error naming both."""


def build_hub(config: HubConfig) -> Hub:
    """Build the hub's parts on its database and telemetry store, before the web app is made."""
    engine = make_engine(config.database_url)
    create_schema(engine)
    registry = Registry(engine)
    if config.devices_file:
        registry.register_many(msgspec.json.decode(Path(config.devices_file).read_bytes()))
    store = open_store(config.telemetry_url)
    metrics = HubMetrics()
    pipeline = Pipeline(
        registry,
        store,
        metrics,
        root=config.root,
        auto_register=config.auto_register,
        shared=bool(config.shared_group),  # several workers: the listeners' messages are claimed
    )
    # Several workers share the streams' records: a PUBACK waits for the stream's save. MQTT 5
    # only, whose Receive Maximum (65535) lets a second's messages wait unacknowledged.
    pipeline.ack_after_save = bool(config.shared_group) and config.mqtt_version == "5"
    tls = alarm_tls = None
    if config.tls_ca:
        tls = {"ca": config.tls_ca, "cert": config.tls_cert, "key": config.tls_key}
        if config.alarm_tls_cert:
            alarm_tls = {**tls, "cert": config.alarm_tls_cert, "key": config.alarm_tls_key}
    link = MqttLink(
        config.broker_url,
        pipeline,
        metrics,
        client_id=config.client_id,
        mqtt_version=config.mqtt_version,
        shared_group=config.shared_group,
        queue_size=config.ingest_queue,
        batch_size=config.ingest_batch,
        tls=tls,
        alarm_tls=alarm_tls,
    )
    commands = CommandService(
        engine,
        lambda t, p: link.publish(t, p),
        metrics,
        config.root,
        link.hub_boot_id,
        link.next_seq,
    )
    signer = None
    if config.config_signing_key:
        from provisioning.bundles import BundleSigner
        from provisioning.ca import passphrase_from_env

        key = BundleSigner.from_file(config.config_signing_key, passphrase_from_env())
        signer = key.config_signature
    configs = ConfigService(
        engine,
        lambda t, p, retain: link.publish(t, p, retain=retain),
        config.root,
        link.hub_boot_id,
        link.next_seq,
        signer=signer,
    )
    hub = Hub(
        config,
        engine,
        registry,
        store,
        metrics,
        TokenStore(engine),
        pipeline,
        link,
        commands,
        configs,
    )

    def on_batch(acc: Accepted) -> None:
        if acc.births:
            commands.device_online(acc.births)
            configs.republish(acc.births)

    pipeline.writers.append(acks_and_reports_writer(commands, configs, registry))
    pipeline.listeners.append(on_batch)
    return hub


def acks_and_reports_writer(
    commands: CommandService, configs: ConfigService, registry: Registry
) -> Writer:
    """What a batch's command acks and config reports change, written in the transaction that
    stores the batch (``Pipeline.writers``): a command acknowledged or failed, a config applied
    and the device's config version."""

    def write(conn: sa.Connection, acc: Accepted) -> None:
        if acc.acks:
            commands.on_acks(acc.acks, conn)
        if acc.reports:
            for device_id, version in configs.on_reports(acc.reports, conn):
                registry.set_config_version(device_id, version, conn)

    return write


@web.middleware
async def auth_and_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Deny by default: an API route must declare its roles, and the token must hold one.

    Every error of every route leaves here in one shape (``hub.api.util.ErrorBody``): an unknown
    path is a 404, a known path with another method a 405 naming the allowed ones, and an
    unexpected failure a 500 whose details go to the log, never to the client.
    """
    try:
        unmatched = request.match_info.http_exception
        if unmatched is not None:
            raise unmatched
        if request.path.startswith(API_PREFIX):
            roles = getattr(handler, ROLES_ATTR, None)
            if roles is None:
                raise ForbiddenError("route declares no roles")
            if "*" not in roles:
                hub = request.app[HUB_KEY]
                header = request.headers.get("Authorization", "")
                token = header[7:] if header.startswith("Bearer ") else ""
                token = token or request.query.get("access_token", "")
                if not token:
                    raise AuthError("missing bearer token")
                role = await asyncio.to_thread(hub.tokens.role_of, token)
                if role != "admin" and role not in roles:
                    raise ForbiddenError(f"role {role!r} may not use this route")
                request[ROLE_KEY] = role
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_error(request, exc)
    except HubError as exc:
        return error_response(exc.status, str(exc), exc.path, exc.headers, exc.code)
    except GovedgeError as exc:
        return error_response(400, str(exc))
    except Exception:
        # one line (govedge.logs): the exception's type and message, never the trace
        log.exception("request_failed", extra=fields(method=request.method, path=request.path))
        return error_response(500, "internal error; the hub's log has the details")


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    """Give aiohttp's own refusals (no route, wrong method, body too big) the one error shape."""
    if exc.status == 404:
        return error_response(404, f"no route {request.path}")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return error_response(
            405,
            f"method {request.method} is not allowed on {request.path}; allowed: {allowed}",
            headers={"Allow": ",".join(sorted(exc.allowed_methods))},
        )
    return error_response(exc.status, exc.text or exc.reason)


async def metrics_handler(request: web.Request) -> web.Response:
    """Serve the Prometheus metrics, with the gauges brought up to date for this scrape."""
    hub = request.app[HUB_KEY]
    hub.link.update_gauges()
    # Every worker's streams, merged in the database (read at most once a second).
    gaps, duplicates = await asyncio.to_thread(hub.pipeline.stream_totals)
    hub.metrics.gaps.set(gaps)
    hub.metrics.stream_duplicates.set(duplicates)
    return web.Response(body=generate_latest(hub.metrics.registry), content_type="text/plain")


async def index(_: web.Request) -> web.FileResponse:
    """Serve the operator console's page."""
    return web.FileResponse(STATIC / "index.html")


async def static_file(request: web.Request) -> web.FileResponse:
    """A file of the consoles; a missing one is a 404 in the one error shape (aiohttp's own
    static route finds that out only while sending, past the error middleware)."""
    path = (STATIC / request.match_info["path"]).resolve()
    if not path.is_relative_to(STATIC.resolve()) or not path.is_file():
        raise NotFoundError(f"no file {request.path}")
    return web.FileResponse(path)


async def _background(hub: Hub) -> None:
    """Presence timeouts, command expiry and the queued commands of online devices, rollout
    steps and store maintenance."""
    config = hub.config
    last_maintenance = time.monotonic()
    while True:
        await asyncio.sleep(config.presence_interval_s)
        try:
            gone = await in_thread(hub.registry.expire_silent)
            for device_id in gone:
                log.info("device_offline", extra=fields(device=device_id, reason="heartbeat"))
            hub.metrics.online.set(hub.registry.online_count())
            await in_thread(hub.commands.expire)
            await in_thread(hub.commands.send_queued)
            await in_thread(hub.device_configs.advance)
            if time.monotonic() - last_maintenance > config.maintenance_interval_s:
                last_maintenance = time.monotonic()
                maintain = getattr(hub.store, "maintain", None)
                if maintain:
                    await in_thread(maintain)
        except Exception:
            log.exception("background_failed")


GC_THRESHOLDS = (2_000, 10, 100)
SWITCH_INTERVAL_S = 0.001
_process_tuned = False


def tune_process() -> None:
    """Settings for a process that runs a hub worker (the ``govedge hub`` command).

    The cyclic garbage collector's full passes scanned every object of the process (SQLAlchemy
    metadata, compiled queries, caches): 25 to 30 ms each, every few seconds at 10 k msg/s, and
    each one stalled ingestion and the alarms in it. The heap built at start-up is frozen out of
    those passes once the hub has started (see ``_freeze_startup_heap``). What the hub keeps
    after that (stream state, device caches, rule states: 90 000 objects and 400 000 references
    with 4000 devices) still cost 40 to 60 ms of CPU per full pass; a full pass comes after 100
    young-generation passes rather than 10, so a flood sees one every 20 s or more instead of
    every 2 s. Young collections stay small and frequent (a large first threshold would only
    make each young pass long: 15 ms at 50 000); the MQTT link no longer leaves paho's dozen
    objects of cyclic garbage per message (``hub.ingest.link.TopicMatcher``), and its inboxes
    hold plain tuples, which the collector stops tracking.
    """
    global _process_tuned
    gc.set_threshold(*GC_THRESHOLDS)
    # A thread that wants the GIL (the alarm lane, the event loop sending an alarm) waits for a
    # busy one (the bulk lane deciding a batch) to reach its switch interval: 5 ms by default,
    # paid again at every hand-over along an alarm's path.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    _process_tuned = True


def _freeze_startup_heap() -> None:
    if _process_tuned:  # not in a test process, whose earlier objects must stay collectable
        gc.collect()
        gc.freeze()


def create_app(config: HubConfig, *, start_mqtt: bool = True) -> web.Application:
    """Build the hub and its web app; ``start_mqtt=False`` leaves the broker link down (tests)."""
    # Workers started together on one database build it one at a time (schema, seeds).
    with schema_lock(config.database_url):
        hub = build_hub(config)
        app = web.Application(middlewares=[auth_and_errors], client_max_size=1024 * 1024)
        app[HUB_KEY] = hub
        for group in API_GROUPS:
            group.install(app)
        for position, module in enumerate(EXTENSION_MODULES):
            hub.extensions.pending = EXTENSION_MODULES[position:]
            importlib.import_module(module).install(hub, app)
        hub.extensions.pending = ()
    groups: list[ApiRoutes] = app[INSTALLED_GROUPS]
    app[OPENAPI_KEY] = openapi_document(groups, __version__)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/", index)
    app.router.add_get("/static/{path:.+}", static_file)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        _freeze_startup_heap()
        if start_mqtt:
            hub.link.start()
        task = asyncio.create_task(_background(hub))
        log.info(
            "hub_started",
            extra=fields(
                broker=config.broker_url,
                database=config.database_url.split("@")[-1],
                telemetry=config.telemetry_url.split("@")[-1],
            ),
        )
        yield
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        if start_mqtt:
            await asyncio.to_thread(hub.link.stop)

    async def stores(_: web.Application) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(hub.store.close)
        hub.engine.dispose()

    app.cleanup_ctx.append(lifecycle)
    # Cleaned up last (contexts are cleaned up in reverse): the extensions' background jobs
    # have ended before the stores they use are closed.
    app.cleanup_ctx.insert(0, stores)
    return app
