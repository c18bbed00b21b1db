"""Webhook subscriptions and their deliveries: signed, retried with backoff, dead-lettered.

Delivery state lives in the database so that a restart or a second hub worker neither loses nor
doubles a delivery: a subscription's cursor moves by compare-and-set when its events become
delivery rows, and a worker leases a due delivery before it posts it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from govedge.contract import SEVERITIES
from govedge.logs import fields
from hub.alarms.tables import alarm_events
from hub.background import in_thread
from hub.db import found
from hub.emergency.alarmview import event_dict
from hub.emergency.feed import settled_cursor
from hub.emergency.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)
from hub.emergency.tables import webhook_deliveries, webhooks
from hub.errors import ValidationError

log = logging.getLogger("govedge.hub.webhooks")


@dataclass(slots=True)
class RetryPolicy:
    """Delay before attempt n+1 is ``base_s * factor**(n-1)``, at most ``max_s``."""

    base_s: float = 2.0
    factor: float = 2.0
    max_s: float = 600.0
    max_attempts: int = 8
    timeout_s: float = 10.0
    lease_s: float = 60.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failed attempts before the next one."""
        return float(min(self.max_s, self.base_s * self.factor ** max(0, attempts - 1)))


def _hook_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "severities": list(row.severities),
        "enabled": bool(row.enabled),
        "cursor": int(row.cursor),
        "created": row.created,
    }


def _delivery_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "webhook_id": row.webhook_id,
        "event_id": int(row.event_id),
        "state": row.state,
        "attempts": row.attempts,
        "next_at": row.next_at,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "created": row.created,
        "updated": row.updated,
    }


def _check_url(url: Any) -> str:
    if not isinstance(url, str) or not url:
        raise ValidationError("field 'url' is required and must be a string")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError("field 'url' must be an http:// or https:// URL")
    if len(url) > 1000:
        raise ValidationError("field 'url' is longer than 1000 characters")
    return url


def _check_severities(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("field 'severities' must be a list of strings")
    for v in value:
        if v not in SEVERITIES:
            raise ValidationError(f"field 'severities': unknown severity {v!r}")
    return sorted(set(value), key=SEVERITIES.index)


class WebhookService:
    """Subscriptions (CRUD), enqueueing of alarm events and the delivery loop."""

    def __init__(self, engine: Engine, policy: RetryPolicy | None = None) -> None:
        self.engine = engine
        self.policy = policy or RetryPolicy()
        self.delivered = 0
        self.failed_attempts = 0

    # --- subscriptions -------------------------------------------------------------------

    def create(self, data: dict[str, Any]) -> dict[str, Any]:
        """Subscribe a URL to alarm events. The secret (16 characters or more) signs every post;
        without ``from_cursor`` only events raised from now on are delivered.

        Raises ValidationError on an unknown field or a bad value."""
        unknown = set(data) - {"url", "secret", "severities", "enabled", "from_cursor"}
        if unknown:
            raise ValidationError(f"unknown field {sorted(unknown)[0]!r}")
        url = _check_url(data.get("url"))
        secret = data.get("secret")
        if not isinstance(secret, str) or len(secret) < 16:
            raise ValidationError("field 'secret' is required: a string of 16 characters or more")
        severities = _check_severities(data.get("severities"))
        start = data.get("from_cursor")
        if start is not None and (not isinstance(start, int) or start < 0):
            raise ValidationError("field 'from_cursor' must be an integer, 0 or more")
        if start is None:  # only events from now on, an event still to commit among them
            start = settled_cursor(self.engine)
        with self.engine.begin() as conn:
            new_id = conn.execute(
                webhooks.insert().values(
                    url=url,
                    secret=secret,
                    severities=severities,
                    enabled=bool(data.get("enabled", True)),
                    cursor=start,
                    created=time.time(),
                )
            ).inserted_primary_key
        assert new_id is not None  # noqa: S101 - narrowing: a one-row INSERT has a primary key
        return self.get(int(new_id[0]))

    def get(self, hook_id: int) -> dict[str, Any]:
        """A subscription as the API shows it (never its secret); NotFoundError if there is none."""
        with self.engine.connect() as conn:
            row = found(conn, webhooks.c.id, hook_id, "webhook")
        return _hook_dict(row)

    def all(self) -> list[dict[str, Any]]:
        """Every subscription, in id order, without secrets."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(webhooks).order_by(webhooks.c.id))
            return [_hook_dict(r) for r in rows]

    def update(self, hook_id: int, data: dict[str, Any]) -> dict[str, Any]:
        """Change the given fields of a subscription; the cursor is not among them, so no event is
        delivered twice or skipped. Raises ValidationError or NotFoundError."""
        unknown = set(data) - {"url", "secret", "severities", "enabled"}
        if unknown:
            raise ValidationError(f"unknown field {sorted(unknown)[0]!r}")
        values: dict[str, Any] = {}
        if "url" in data:
            values["url"] = _check_url(data["url"])
        if "secret" in data:
            if not isinstance(data["secret"], str) or len(data["secret"]) < 16:
                raise ValidationError("field 'secret' must be a string of 16 characters or more")
            values["secret"] = data["secret"]
        if "severities" in data:
            values["severities"] = _check_severities(data["severities"])
        if "enabled" in data:
            if not isinstance(data["enabled"], bool):
                raise ValidationError("field 'enabled' must be true or false")
            values["enabled"] = data["enabled"]
        self.get(hook_id)
        if values:
            with self.engine.begin() as conn:
                conn.execute(webhooks.update().where(webhooks.c.id == hook_id).values(**values))
        return self.get(hook_id)

    def delete(self, hook_id: int) -> None:
        """Remove a subscription with all its deliveries, pending and dead ones included."""
        self.get(hook_id)
        with self.engine.begin() as conn:
            conn.execute(
                webhook_deliveries.delete().where(webhook_deliveries.c.webhook_id == hook_id)
            )
            conn.execute(webhooks.delete().where(webhooks.c.id == hook_id))

    # --- deliveries ----------------------------------------------------------------------

    def deliveries(
        self, state: str | None = None, webhook_id: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The newest deliveries, optionally only those in one state or of one subscription."""
        query = sa.select(webhook_deliveries).order_by(webhook_deliveries.c.id.desc()).limit(limit)
        if state:
            query = query.where(webhook_deliveries.c.state == state)
        if webhook_id is not None:
            query = query.where(webhook_deliveries.c.webhook_id == webhook_id)
        with self.engine.connect() as conn:
            return [_delivery_dict(r) for r in conn.execute(query)]

    def retry(self, delivery_id: int) -> dict[str, Any]:
        """Put a dead letter back in the queue, with its attempts reset."""
        now = time.time()
        with self.engine.begin() as conn:
            row = found(conn, webhook_deliveries.c.id, delivery_id, "delivery")
            if row.state != "dead":
                raise ValidationError(f"delivery {delivery_id} is {row.state}, not dead")
            conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id == delivery_id)
                .values(state="pending", attempts=0, next_at=now, lease_until=0.0, updated=now)
            )
        log.info("webhook_retry_requested", extra=fields(delivery=delivery_id))
        return self.deliveries_by_id(delivery_id)

    def deliveries_by_id(self, delivery_id: int) -> dict[str, Any]:
        """One delivery as the API shows it; NotFoundError if there is none."""
        with self.engine.connect() as conn:
            row = found(conn, webhook_deliveries.c.id, delivery_id, "delivery")
        return _delivery_dict(row)

    def enqueue(self, limit: int = 500) -> int:
        """Turn new alarm events into pending deliveries, once per subscription and event."""
        made = 0
        now = time.time()
        hooks = [hook for hook in self.all() if hook["enabled"]]
        if not hooks:
            return 0
        # Not past an event still to commit below the newest (another worker's, on PostgreSQL):
        # the cursor moves past what it reads, so that event would never be delivered.
        settled = settled_cursor(self.engine)
        for hook in hooks:
            with self.engine.begin() as conn:
                rows = conn.execute(
                    sa.select(alarm_events.c.id, alarm_events.c.severity)
                    .where(alarm_events.c.id > hook["cursor"], alarm_events.c.id <= settled)
                    .order_by(alarm_events.c.id)
                    .limit(limit)
                ).all()
                if not rows:
                    continue
                moved = conn.execute(
                    webhooks.update()
                    .where(webhooks.c.id == hook["id"], webhooks.c.cursor == hook["cursor"])
                    .values(cursor=int(rows[-1].id))
                ).rowcount
                if moved != 1:
                    continue  # another worker took these events
                wanted = [
                    r for r in rows if not hook["severities"] or r.severity in hook["severities"]
                ]
                if wanted:
                    conn.execute(
                        webhook_deliveries.insert(),
                        [
                            {
                                "webhook_id": hook["id"],
                                "event_id": int(r.id),
                                "state": "pending",
                                "attempts": 0,
                                "next_at": now,
                                "lease_until": 0.0,
                                "last_error": "",
                                "created": now,
                                "updated": now,
                            }
                            for r in wanted
                        ],
                    )
                made += len(wanted)
        return made

    def claim_due(self, limit: int = 50) -> list[dict[str, Any]]:
        """Lease due deliveries (with what to post); a lease held elsewhere is skipped."""
        now = time.time()
        out: list[dict[str, Any]] = []
        with self.engine.begin() as conn:
            due = conn.execute(
                sa.select(webhook_deliveries.c.id)
                .where(
                    webhook_deliveries.c.state == "pending",
                    webhook_deliveries.c.next_at <= now,
                    webhook_deliveries.c.lease_until <= now,
                )
                .order_by(webhook_deliveries.c.next_at)
                .limit(limit)
            ).all()
        for (delivery_id,) in due:
            with self.engine.begin() as conn:
                got = conn.execute(
                    webhook_deliveries.update()
                    .where(
                        webhook_deliveries.c.id == delivery_id,
                        webhook_deliveries.c.state == "pending",
                        webhook_deliveries.c.lease_until <= now,
                    )
                    .values(lease_until=now + self.policy.lease_s)
                ).rowcount
                if got != 1:
                    continue
                row = conn.execute(
                    sa.select(
                        webhook_deliveries,
                        webhooks.c.url,
                        webhooks.c.secret,
                        alarm_events,
                    )
                    .select_from(
                        webhook_deliveries.join(
                            webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id
                        ).join(alarm_events, alarm_events.c.id == webhook_deliveries.c.event_id)
                    )
                    .where(webhook_deliveries.c.id == delivery_id)
                ).first()
            if row is None:
                continue
            m = row._mapping
            event = event_dict(
                _EventRow(
                    m[alarm_events.c.id],
                    m[alarm_events.c.kind],
                    m[alarm_events.c.alarm_id],
                    m[alarm_events.c.device_id],
                    m[alarm_events.c.rule_id],
                    m[alarm_events.c.severity],
                    m[alarm_events.c.ts],
                    m[alarm_events.c.payload],
                )
            )
            out.append(
                {
                    "id": delivery_id,
                    "url": m[webhooks.c.url],
                    "secret": m[webhooks.c.secret],
                    "attempts": m[webhook_deliveries.c.attempts],
                    "event": event,
                }
            )
        return out

    def record(self, delivery_id: int, attempts: int, status: int | None, error: str) -> str:
        """Store the outcome of one attempt; returns the new state."""
        now = time.time()
        attempts += 1
        if status is not None and 200 <= status < 300:
            state, next_at = "delivered", now
        elif attempts >= self.policy.max_attempts:
            state, next_at = "dead", now
        else:
            state, next_at = "pending", now + self.policy.delay(attempts)
        with self.engine.begin() as conn:
            conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id == delivery_id)
                .values(
                    state=state,
                    attempts=attempts,
                    next_at=next_at,
                    lease_until=0.0,
                    last_status=status,
                    last_error=error[:500],
                    updated=now,
                )
            )
        return state

    async def post(self, session: aiohttp.ClientSession, item: dict[str, Any]) -> str:
        """Post one claimed delivery, signed, and record the outcome; return the delivery's new
        state.

        Network errors and non-2xx answers are not raised: they count as a failed attempt, which is
        retried after the policy's delay or dead-lettered."""
        body = msgspec.json.encode(item["event"])
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(item["secret"], ts, body),
            TIMESTAMP_HEADER: str(ts),
            EVENT_HEADER: str(item["event"]["cursor"]),
            DELIVERY_HEADER: str(item["id"]),
            "User-Agent": "govedge-hub-webhooks",
        }
        status: int | None = None
        error = ""
        try:
            async with session.post(
                item["url"],
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.policy.timeout_s),
                allow_redirects=False,
            ) as resp:
                status = resp.status
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        state = await asyncio.to_thread(self.record, item["id"], item["attempts"], status, error)
        if state == "delivered":
            self.delivered += 1
        else:
            self.failed_attempts += 1
            log.warning(
                "webhook_attempt_failed",
                extra=fields(
                    delivery=item["id"],
                    url=item["url"][:200],
                    attempt=item["attempts"] + 1,
                    state=state,
                    error=error,
                ),
            )
        return state

    async def run(self, interval_s: float = 0.2) -> None:
        """Enqueue and deliver forever (a background task of each hub worker)."""
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    await in_thread(self.enqueue)
                    items = await in_thread(self.claim_due)
                    if items:
                        await asyncio.gather(*(self.post(session, it) for it in items))
                except Exception:
                    log.exception("webhook_loop_failed")
                await asyncio.sleep(interval_s)


@dataclass(slots=True)
class _EventRow:
    id: int
    kind: str
    alarm_id: int
    device_id: str
    rule_id: str
    severity: str
    ts: float
    payload: Any
