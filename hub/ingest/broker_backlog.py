"""Hub extension: the broker's backlog for this hub's session, in /metrics and as an alarm.

While the hub is away or behind, the broker queues what the devices publish, up to the limits of
the generated config (``max_queued_messages`` / ``max_queued_bytes``). Past them it drops
messages the devices already had acknowledged, and the loss is final. Mosquitto publishes what
its store holds on ``$SYS/broker/store/messages/{count,bytes}`` (retained, every
``sys_interval``): queued messages of persistent sessions plus retained ones (a few per device).
This extension reads them through the hub's own MQTT link and raises the ``broker-backlog`` alarm
(source ``hub``) at ``broker_backlog_warn`` of the configured limit, critical at 95 %, and clears
it below 90 % of the warning level. With no limits in the hub config it only exports the gauges.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

from aiohttp import web

from govedge.logs import fields
from hub.alarms.api import ALARM_ENGINE
from hub.background import in_thread, while_serving
from hub.context import ExtensionKey, Hub

log = logging.getLogger("govedge.hub.broker_backlog")

RULE_ID = "broker-backlog"
SOURCE = "hub"
CRITICAL_AT = 0.95
CLEAR_BELOW = 0.9  # of the warning level: no flapping around it
TOPICS = {
    "$SYS/broker/store/messages/count": "messages",
    "$SYS/broker/store/messages/bytes": "bytes",
}
CHECK_S = 1.0


@dataclass(slots=True)
class Reading:
    """The broker's stored-message counts as last seen on $SYS; None until reported."""

    messages: int | None = None
    bytes: int | None = None


class BacklogWatch:
    """The latest $SYS store counts, and the alarm decision against the configured limits."""

    def __init__(self, limit_messages: int, limit_bytes: int, warn: float) -> None:
        self.limits = Reading(limit_messages or None, limit_bytes or None)
        self.warn = warn
        self.latest = Reading()
        self.peak = Reading()  # the most held since the last check: a brief crest still counts
        self.bad = 0
        self._lock = threading.Lock()

    def on_sys(self, topic: str, payload: bytes) -> None:
        """Network thread: keep the newest value; a payload that is no integer is counted."""
        unit = TOPICS.get(topic)
        try:
            value = int(payload.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            self.bad += 1
            return
        if unit is None or value < 0:
            self.bad += 1
            return
        with self._lock:
            setattr(self.latest, unit, value)
            setattr(self.peak, unit, max(value, getattr(self.peak, unit) or 0))

    def fill(self) -> float | None:
        """The fuller of the two queues at its peak since the last call, as a fraction of its
        limit; None if nothing to compare."""
        with self._lock:
            pairs = [
                (self.peak.messages, self.limits.messages),
                (self.peak.bytes, self.limits.bytes),
            ]
            self.peak = Reading(self.latest.messages, self.latest.bytes)
        ratios = [held / limit for held, limit in pairs if held is not None and limit]
        return max(ratios) if ratios else None

    def severity(self, fill: float, current: str | None) -> str | None:
        """The alarm severity for ``fill`` (a fraction of the limit): critical at 95 %, major past
        the warning level. A raised alarm (``current``) stays until the fill drops below 90 % of the
        warning level, so it does not flap; None means no alarm."""
        if fill >= CRITICAL_AT:
            return "critical"
        if fill >= self.warn:
            return "major"
        if current is not None and fill >= self.warn * CLEAR_BELOW:
            return current
        return None


BROKER_BACKLOG = ExtensionKey("broker backlog watch", BacklogWatch, "hub.ingest.broker_backlog")


def install(hub: Hub, app: web.Application) -> None:
    """Watch the broker's backlog on $SYS and raise an alarm when it passes the limits."""
    cfg = hub.config
    watch = BacklogWatch(
        cfg.broker_backlog_messages, cfg.broker_backlog_bytes, cfg.broker_backlog_warn
    )
    hub.extensions.add(BROKER_BACKLOG, watch)
    for topic in TOPICS:
        hub.link.side_subscriptions[topic] = watch.on_sys
    for unit, limit in (("messages", watch.limits.messages), ("bytes", watch.limits.bytes)):
        hub.metrics.broker_backlog_limit.labels(unit).set(limit or 0)
    engine = hub.extensions.get(ALARM_ENGINE)

    async def check() -> None:
        current: str | None = None
        while True:
            await asyncio.sleep(CHECK_S)
            for unit in ("messages", "bytes"):
                value = getattr(watch.latest, unit)
                if value is not None:
                    hub.metrics.broker_backlog.labels(unit).set(value)
            fill = watch.fill()
            if fill is None or engine is None:
                continue
            target = watch.severity(fill, current)
            if target == current:
                continue
            message = (
                f"the broker holds {fill:.0%} of the queue it may keep for the hub "
                f"({watch.latest.messages} messages, {watch.latest.bytes} bytes): past the limit "
                "it drops acknowledged data"
            )
            try:
                await in_thread(
                    engine.system_alarm, SOURCE, RULE_ID, target, round(fill, 4), message
                )
            except Exception:
                log.exception("backlog_alarm_failed")
                continue
            log.warning(
                "broker_backlog", extra=fields(fill=round(fill, 3), severity=target or "cleared")
            )
            current = target

    while_serving(app, check)
