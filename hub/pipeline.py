"""What the hub does with each batch of messages from the broker.

Runs in the ingest writer thread: validate against the wire contract, refuse what a device may
not say, drop duplicates, store telemetry in one batch, update presence and health, and hand the
accepted messages to listeners (commands, configs, rules). Nothing here raises for bad input:
every refusal is counted by reason and logged once with its facts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from govedge.contract import (
    Channel,
    CommandAck,
    ConfigReported,
    ContractError,
    Event,
    Health,
    Message,
    Status,
    Telemetry,
    decode_for_topic,
)
from govedge.contract.limits import DEFAULT_LIMITS, Limits
from govedge.contract.topics import DEFAULT_ROOT
from govedge.logs import fields
from hub.db import events, sqlite_json_batch, streams
from hub.dedup import Stream, StreamTracker
from hub.metrics import HubMetrics
from hub.registry import Registry
from hub.storage.base import Reading, TelemetryStore

log = logging.getLogger("govedge.hub.ingest")

STREAMS_SAVE_INTERVAL_S = 1.0

_DEVICE_CHANNELS = {
    Channel.TELEMETRY,
    Channel.EVENT,
    Channel.HEALTH,
    Channel.STATUS,
    Channel.CMD_ACK,
    Channel.CONFIG_REPORTED,
}


@dataclass(slots=True)
class Raw:
    """One message as it came off the broker."""

    topic: str
    payload: bytes
    received: float = 0.0


@dataclass(slots=True)
class Accepted:
    """What a batch yielded, for listeners (after it is stored)."""

    telemetry: list[Telemetry] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    acks: list[CommandAck] = field(default_factory=list)
    reports: list[ConfigReported] = field(default_factory=list)
    births: list[str] = field(default_factory=list)
    deaths: list[str] = field(default_factory=list)


Listener = Callable[[Accepted], None]


class Pipeline:
    """Validation, deduplication and storage of ingest batches."""

    def __init__(
        self,
        registry: Registry,
        store: TelemetryStore,
        metrics: HubMetrics,
        root: str = DEFAULT_ROOT,
        limits: Limits = DEFAULT_LIMITS,
        auto_register: bool = False,
    ) -> None:
        self.registry = registry
        self.store = store
        self.metrics = metrics
        self.root = root
        self.limits = limits
        self.auto_register = auto_register
        self.tracker = StreamTracker()
        self.listeners: list[Listener] = []
        self.rejected: dict[str, int] = {}
        self.accepted_total = 0
        self._lock = threading.Lock()
        self._last_reject_log: dict[str, float] = {}
        self._streams_saved = 0.0
        self._streams_upsert = _upsert_streams(registry.engine.dialect.name)
        self._load_streams()

    def _load_streams(self) -> None:
        with self.registry.engine.connect() as conn:
            for row in conn.execute(sa.select(streams)):
                self.tracker.load(
                    row.device_id, row.boot_id, row.max_seq, row.received, row.gaps, row.missing
                )

    def _reject(self, reason: str, topic: str, detail: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        self.metrics.rejected.labels(reason).inc()
        now = time.monotonic()
        # One line per event, but a flood of one reason is summarised once a second.
        if now - self._last_reject_log.get(reason, 0.0) >= 1.0:
            self._last_reject_log[reason] = now
            log.warning(
                "message_rejected",
                extra=fields(
                    reason=reason,
                    topic=topic[:200],
                    detail=detail[:300],
                    count=self.rejected[reason],
                ),
            )

    def process(self, batch: Sequence[Raw]) -> Accepted:
        """Handle one batch; returns what was accepted (already stored)."""
        started = time.perf_counter()
        out = Accepted()
        readings: list[Reading] = []
        seen: dict[str, float] = {}
        now = time.time()
        health: dict[str, Health] = {}
        event_rows: list[dict[str, object]] = []
        statuses: list[Status] = []
        ingested: dict[str, int] = {}  # per channel, added to the metric once per batch
        duplicates = 0
        with self._lock:
            self.tracker.begin()
            for raw in batch:
                msg = self._validate(raw)
                if msg is None:
                    continue
                device_id = msg.device_id
                if isinstance(msg, Status):
                    statuses.append(msg)
                    continue
                if not self.tracker.accept(device_id, msg.boot_id, msg.seq):
                    duplicates += 1
                    continue
                seen[device_id] = now  # when the hub heard it; device clocks may be wrong
                if isinstance(msg, Telemetry):
                    out.telemetry.append(msg)
                    readings.append((device_id, msg.ts, msg.data))
                elif isinstance(msg, Event):
                    out.events.append(msg)
                    event_rows.append(
                        {
                            "device_id": device_id,
                            "ts": msg.ts,
                            "kind": msg.data.kind,
                            "severity": msg.data.severity,
                            "message": msg.data.message,
                            "attrs": dict(msg.data.attrs),
                        }
                    )
                elif isinstance(msg, Health):
                    health[device_id] = msg
                elif isinstance(msg, CommandAck):
                    out.acks.append(msg)
                elif isinstance(msg, ConfigReported):
                    out.reports.append(msg)
                label = _channel_label(msg)
                ingested[label] = ingested.get(label, 0) + 1
            try:
                self._store(readings, event_rows, health, seen, statuses, out)
            except Exception:
                # Not stored, so not seen: the broker's redelivery must not count as a repeat.
                self.tracker.rollback()
                raise
            self.tracker.commit()
            if duplicates:
                self.metrics.duplicates.inc(duplicates)
            for label, count in ingested.items():
                self.metrics.ingested.labels(label).inc(count)
                self.accepted_total += count
        self.metrics.write_latency.observe(time.perf_counter() - started)
        for listener in self.listeners:
            try:
                listener(out)
            except Exception:  # a listener's bug must not stop ingestion
                log.exception("listener_failed", extra=fields(listener=repr(listener)))
        return out

    def _validate(self, raw: Raw) -> Message | None:
        try:
            device_id, channel, msg = decode_for_topic(
                raw.topic, raw.payload, self.root, self.limits
            )
        except ContractError as exc:
            self._reject(exc.reason, raw.topic, exc.detail)
            return None
        if channel not in _DEVICE_CHANNELS:
            self._reject("not_device_channel", raw.topic, f"devices do not write {channel.value}")
            return None
        if not self.registry.is_known(device_id):
            if self.auto_register:
                self.registry.register(device_id)
            else:
                self._reject("unknown_device", raw.topic, f"device {device_id!r} is not registered")
                return None
        return msg

    def _save_streams(
        self, conn: sa.Connection, dirty: list[tuple[str, str, Stream]], now: float
    ) -> None:
        rows = [
            (d, b, st.max_seq, st.received, st.gaps, now, sorted(st.missing))
            for d, b, st in sorted(dirty, key=lambda x: (x[0], x[1]))
        ]
        if self.registry.engine.dialect.name == "sqlite":
            sqlite_json_batch(conn, _SQLITE_STREAMS_UPSERT, rows)
            return
        conn.execute(
            self._streams_upsert,
            [dict(zip(_STREAM_COLUMNS, r, strict=True)) for r in rows],
        )

    def _store(
        self,
        readings: list[Reading],
        event_rows: list[dict[str, object]],
        health: dict[str, Health],
        seen: dict[str, float],
        statuses: list[Status],
        out: Accepted,
    ) -> None:
        if readings:
            self.store.write_readings(readings)
            self.metrics.points.inc(sum(len(data) for _, _, data in readings))
        engine = self.registry.engine
        now = time.time()
        # Stream state (max seq, gaps) is kept at most once a second: it is bookkeeping, and
        # stored points are idempotent, so a crash costs only a slightly stale gap count.
        dirty = []
        if now - self._streams_saved >= STREAMS_SAVE_INTERVAL_S:
            dirty = self.tracker.take_dirty()
            self._streams_saved = now
        if event_rows or dirty:
            with engine.begin() as conn:
                if event_rows:
                    conn.execute(events.insert(), event_rows)
                if dirty:
                    self._save_streams(conn, dirty, now)
        for device_id, msg in health.items():
            self.registry.set_health(
                device_id,
                {
                    "ts": msg.ts,
                    "drivers": {
                        k: {"state": v.state, "detail": v.detail, "errors": v.errors}
                        for k, v in msg.data.drivers.items()
                    },
                    "counters": dict(msg.data.counters),
                    "uptime_s": msg.data.uptime_s,
                },
            )
        for status in statuses:
            changed = self.registry.apply_status(
                status.device_id,
                status.boot_id,
                status.data.online,
                status.data.keepalive,
                status.ts,
                model=status.data.model,
                firmware=status.data.firmware,
            )
            if changed is True:
                out.births.append(status.device_id)
            elif changed is False:
                out.deaths.append(status.device_id)
        if seen:
            out.births.extend(self.registry.touch(seen))
        self.metrics.gaps.set(self.tracker.total_gaps())


_STREAM_COLUMNS = (
    "device_id",
    "boot_id",
    "max_seq",
    "received",
    "gaps",
    "updated",
    "missing",
)
_SQLITE_STREAMS_UPSERT = (
    "INSERT INTO streams (device_id, boot_id, max_seq, received, gaps, updated, missing) "
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'), "
    "json_extract(value, '$[5]'), json_extract(value, '$[6]') FROM json_each(?) WHERE true "
    "ON CONFLICT (device_id, boot_id) DO UPDATE SET max_seq = excluded.max_seq, "
    "received = excluded.received, gaps = excluded.gaps, updated = excluded.updated, "
    "missing = excluded.missing"
)


def _upsert_streams(dialect: str) -> Any:
    """One INSERT .. ON CONFLICT UPDATE for a whole batch of streams, in either database."""
    from sqlalchemy.dialects import postgresql, sqlite

    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(streams)
    return stmt.on_conflict_do_update(
        index_elements=[streams.c.device_id, streams.c.boot_id],
        set_={
            "max_seq": stmt.excluded.max_seq,
            "received": stmt.excluded.received,
            "gaps": stmt.excluded.gaps,
            "updated": stmt.excluded.updated,
            "missing": stmt.excluded.missing,
        },
    )


def _channel_label(msg: Message) -> str:
    return type(msg).__name__.lower()
