"""Hub extension: rules and alarms (``install(hub, app)``).

Seeds the rules table from the default rule files (``hub/rules/*.json``) and from the hub
config's ``rules_dir`` when it has one (a rule already in the database, perhaps edited through
the API, is kept), hangs the engine on the ingest pipeline, mounts the API and runs the periodic
check (silence, sustained conditions, offline devices) as a background task.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from govedge.logs import fields
from hub.alarms.api import ALARM_ENGINE, routes
from hub.alarms.engine import AlarmEngine
from hub.alarms.rules import load_rule_files
from hub.alarms.store import AlarmStore
from hub.background import every, while_serving
from hub.context import Hub

log = logging.getLogger("govedge.hub.alarms")

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "rules"
TICK_MAX_S = 1.0


def rule_sources(hub: Hub) -> list[Path]:
    """The rule folders to seed from: the bundled defaults, then the config's rules_dir."""
    sources = [DEFAULT_RULES] if DEFAULT_RULES.is_dir() else []
    extra = str(getattr(hub.config, "rules_dir", "") or "")
    if extra:
        sources.append(Path(extra))
    return sources


def seed_rules(store: AlarmStore, sources: list[Path]) -> int:
    """Insert each file rule the database does not have yet; returns how many were added."""
    added = 0
    for source in sources:
        for rule in load_rule_files(source):
            added += store.seed_rule(rule.id, rule.definition, rule.enabled)
    return added


def install(hub: Hub, app: web.Application) -> None:
    """Install the alarms: seed the rules, load them into the engine, add the routes."""
    store = AlarmStore(hub.engine)
    added = seed_rules(store, rule_sources(hub))
    engine = AlarmEngine(store, hub.registry)
    engine.reload(force=True)
    log.info("rules_loaded", extra=fields(rules=len(engine.rules), seeded=added))
    hub.extensions.add(ALARM_ENGINE, engine)
    # Rules run before a batch's telemetry is stored, and the devices they watch send their
    # telemetry through the alarm lane too (see hub/ingest/link.py).
    hub.pipeline.preparers.append(engine.prepare)
    engine.serialise = hub.pipeline.exclusive
    hub.pipeline.evaluators.append(engine.on_batch)
    hub.link.watched = engine.watched_devices
    engine.on_reload.append(hub.link.sync_watched)  # a new rule's devices: watched at once
    routes.install(app)
    interval = min(hub.config.presence_interval_s, TICK_MAX_S)
    while_serving(app, every(interval, engine.tick, log, "alarm_tick_failed"))
