"""``install(hub, app)``: the emergency feed, webhooks, dispatch and console on a hub worker."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from hub.alarms.api import ALARM_ENGINE
from hub.alarms.store import Change
from hub.background import while_serving
from hub.context import Hub
from hub.emergency.api import EMERGENCY_SERVICE, Emergency, routes
from hub.emergency.dispatch import DispatchService
from hub.emergency.feed import FeedNotifier
from hub.emergency.tables import create_tables
from hub.emergency.webhooks import RetryPolicy, WebhookService

log = logging.getLogger("govedge.hub.emergency")

CONSOLE = Path(__file__).resolve().parent.parent / "static" / "emergency" / "index.html"


@dataclass
class EmergencySettings:
    """Timings of the feed and the webhook deliveries."""

    poll_s: float = 0.05  # how often each worker looks for new alarm events
    gap_wait_s: float = 1.0  # how long a client waits for a hole in the ids to fill
    webhook_interval_s: float = 0.2
    retry: RetryPolicy = field(default_factory=RetryPolicy)


SETTINGS = EmergencySettings()


async def console(_: web.Request) -> web.FileResponse:
    """Serve the emergency console's page."""
    return web.FileResponse(CONSOLE)


def install(hub: Hub, app: web.Application) -> None:
    """Install the emergency service: tables, feed notifier, webhook sender, routes."""
    settings = SETTINGS
    create_tables(hub.engine)
    notifier = FeedNotifier(hub.engine, settings.poll_s)
    svc = Emergency(
        DispatchService(hub.engine),
        WebhookService(hub.engine, settings.retry),
        notifier,
        settings.gap_wait_s,
    )
    hub.extensions.add(EMERGENCY_SERVICE, svc)
    # When the rules engine of this worker has written an alarm event, hand it to the feed at
    # once instead of at the next poll (and do not look after every ingest batch: at 10 k msg/s
    # that is a hundred queries a second for nothing).
    alarm_engine = hub.extensions.get(ALARM_ENGINE)
    if alarm_engine is not None:
        pipeline = hub.pipeline

        def on_change(change: Change) -> None:
            # The bulk lane steps aside until the event is on the clients' sockets: the event
            # loop's turn and the sends wait for the GIL, which its threads hold under a flood.
            pipeline.announce()
            notifier.publish(change.event, pipeline.settle)

        alarm_engine.on_change.append(on_change)

    routes.install(app)
    app.router.add_get("/emergency", console)

    async def webhooks() -> None:
        await svc.webhooks.run(settings.webhook_interval_s)

    while_serving(app, notifier.run, webhooks)
