"""What the hub does with each batch of messages from the broker.

Runs in the ingest writer thread: validate against the wire contract, refuse what a device may
not say, drop duplicates, store telemetry in one batch, update presence and health, and hand the
accepted messages to listeners (commands, configs, rules). Nothing here raises for bad input:
every refusal is counted by reason and logged once with its facts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec
import sqlalchemy as sa

from govedge.contract import (
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
from govedge.contract.topics import DEFAULT_ROOT, DEVICE_CHANNELS
from govedge.logs import fields
from hub.db import sqlite_json_batch, streams
from hub.ingest.dedup import Delta, Record, StreamTracker, merge
from hub.ingest.message_identity import Claims, insert_events
from hub.ingest.prioritylock import PriorityLock
from hub.ingest.ratelimit import RateGate
from hub.metrics import HubMetrics
from hub.registry import Registry
from hub.storage.base import Reading, TelemetryStore

log = logging.getLogger("govedge.hub.ingest")

STREAMS_SAVE_INTERVAL_S = 1.0
STREAMS_OVERDUE_S = 2.0  # the alarm lane's storer saves stream state only if the bulk lane has not
TOUCH_INTERVAL_S = 0.5
TOUCH_OVERDUE_S = 2.0  # an urgent batch writes last_seen only when the bulk lane has not
TOUCH_CHUNK = 25  # devices' last_seen written per hold of the ingest lock
STREAMS_CHUNK = 100  # streams saved per hold of the ingest lock
TOTALS_MAX_AGE_S = 1.0  # the shared gap and duplicate sums are read at most this often
MAX_COPIES = 1024  # per stream: readings whose second copy (the other lane's) is still due
MAX_COPY_STREAMS = 100_000
DEFER_MAX_S = 0.02
"""The longest an ordinary thread steps aside at once for an urgent taker (``defer``)."""


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
Writer = Callable[[sa.Connection, Accepted], None]


@dataclass(slots=True)
class Decided:
    """A batch judged by ``Pipeline.decide``: its telemetry is still to be stored."""

    started: float = 0.0
    out: Accepted = field(default_factory=Accepted)
    readings: list[Reading] = field(default_factory=list)
    keys: list[tuple[str, str, int]] = field(default_factory=list)
    """(device, boot id, seq) of every message the tracker accepted (not a duplicate), those
    later lost at their claim to another worker included (see ``Pipeline._claim``)."""
    ingested: dict[str, int] = field(default_factory=dict)
    marks: dict[tuple[str, str], int] = field(default_factory=dict)
    """Set once stored if the pipeline acknowledges after the save (``ack_after_save``): each
    stream's saves so far (``StreamTracker.save_marks``); the batch is in the shared records
    once ``Pipeline.saved(marks)``."""
    duplicates: int = 0
    repeats: list[tuple[str, str]] = field(default_factory=list)
    """(device, boot id) of each duplicate dropped, counted into its stream's shared record."""
    copies: list[tuple[str, str, int]] = field(default_factory=list)
    """(device, boot id, seq) of the other lane's copies dropped (not counted as repeats)."""
    oldest_ts: float = 0.0
    """The oldest device timestamp in the batch: how far behind real time its storage is."""

    @classmethod
    def merge(cls, parts: Sequence[Decided]) -> Decided:
        """Several decided batches as one, to be stored in one write (in this order)."""
        if len(parts) == 1:
            return parts[0]
        whole = cls(started=min(p.started for p in parts))
        out = whole.out
        for p in parts:
            whole.readings += p.readings
            whole.keys += p.keys
            whole.duplicates += p.duplicates
            whole.repeats += p.repeats
            whole.copies += p.copies
            for label, n in p.ingested.items():
                whole.ingested[label] = whole.ingested.get(label, 0) + n
            out.telemetry += p.out.telemetry
            out.events += p.out.events
            out.acks += p.out.acks
            out.reports += p.out.reports
            out.births += p.out.births
            out.deaths += p.out.deaths
        stamps = [p.oldest_ts for p in parts if p.oldest_ts]
        whole.oldest_ts = min(stamps) if stamps else 0.0
        return whole


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
        shared: bool = False,
    ) -> None:
        self.registry = registry
        self.store = store
        self.metrics = metrics
        self.root = root
        self.limits = limits
        self.auto_register = auto_register
        self.tracker = StreamTracker()
        self.listeners: list[Listener] = []
        """Called after a batch is stored (commands, configs, counters)."""
        self.doubled: set[str] | None = set()
        """Devices whose telemetry the hub receives twice, on both MQTT sessions (None: all):
        the second copy of each reading is dropped without being counted as a duplicate."""
        self._copies: dict[tuple[str, str], set[int]] = {}
        self.shared = shared
        """One of several workers on this database (an MQTT 5 shared subscription group): a
        stored batch's events, acks and reports are claimed before its listeners run
        (``_claim``). A single worker claims nothing."""
        self.claims = Claims()
        self.ack_after_save = False
        """Acknowledge a stored message to the broker only once its stream's delta is saved
        (``Decided.marks``; the link holds the PUBACK until ``saved``). For workers sharing
        the streams' records: one killed after a PUBACK and before its next save (a second at
        most) left what it had stored out of the records for good, counted as gaps by every
        worker; held back, those messages are sent again to its successor and counted there."""
        self._willed: set[str] = set()  # offline by their last will, no birth since
        self._seen: dict[str, float] = {}  # heard from, last_seen not yet written
        self._touched = 0.0
        self.writers: list[Writer] = []
        """Called with a batch's events, acks and reports inside the transaction that stores its
        events (``_store_registry``): what they change (a command acknowledged, a config
        applied, an update's outcome in a release rollout) is
        part of storing the batch, committed before the broker is acknowledged, so a worker
        killed at any point leaves it either done or to the broker's redelivery. They must be
        idempotent: two workers may each store a copy."""
        self.evaluators: list[Listener] = []
        """Called before a batch's telemetry is stored (the rules engine): see ``decide``."""
        self.preparers: list[Callable[[Sequence[Message | None]], None]] = []
        """Called with a batch's decoded messages before the ingest lock is taken: what the
        evaluators will read (the devices' facts) is fetched there, not under the lock."""
        self.rejected: dict[str, int] = {}
        self.rate_gate = RateGate(limits.max_rate_per_device_hz)
        """Telemetry past the contract's rate per device is shed (counted: ``rate_exceeded``)."""
        self.accepted_total = 0
        self._lock = PriorityLock()
        """Deduplication, registry writes and evaluation; the alarm lane takes it first."""
        self._last_reject_log: dict[str, float] = {}
        self._streams_saved = 0.0
        self._streams_upsert = _upsert_streams(registry.engine.dialect.name)
        self._streams_lock = _lock_streams_pg()
        self._totals: tuple[int, int] = (0, 0)
        self._totals_read = -TOTALS_MAX_AGE_S
        self._load_streams()

    def _load_streams(self) -> None:
        """Start from the streams' shared records: what every worker received, so that a late
        seq filling a gap (or the broker's redelivery of what this worker held when it died) is
        taken, and a copy another worker stored is not."""
        with self.registry.engine.connect() as conn:
            for row in conn.execute(sa.select(streams)):
                if row.received:
                    self.tracker.load(
                        row.device_id,
                        row.boot_id,
                        row.max_seq,
                        row.received,
                        row.gaps,
                        row.missing,
                        row.min_seq,
                    )

    def stream_totals(self) -> tuple[int, int]:
        """(gaps, duplicates) summed over every stream's shared record: the figures of the whole
        hub, every worker's saves merged (as of each worker's last save, at most a second or so
        behind). Read at most every TOTALS_MAX_AGE_S, so that a scrape or a health poll does not
        scan the table each time; any thread."""
        now = time.monotonic()
        if now - self._totals_read >= TOTALS_MAX_AGE_S:
            query = sa.select(
                sa.func.coalesce(sa.func.sum(streams.c.gaps), 0),
                sa.func.coalesce(sa.func.sum(streams.c.duplicates), 0),
            )
            with self.registry.engine.connect() as conn:
                gaps, duplicates = conn.execute(query).one()
            self._totals = (int(gaps), int(duplicates))
            self._totals_read = now
        return self._totals

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
        """Handle one batch; returns what was accepted (already stored).

        On a storage failure the batch is forgotten (its redelivery is taken whole) and the
        error is raised.
        """
        decided = self.decide(batch)
        self.store_telemetry(decided)
        return self.finish(decided)

    def decide(self, batch: Sequence[Raw], urgent: bool = False) -> Decided:
        """Everything but the telemetry store: validate, deduplicate, write events, health and
        presence to the registry, and run the evaluators (the rules engine) on the result.

        Alarms are decided here, before the batch's telemetry waits for its store: a slow or
        stalled telemetry store delays acknowledgements, never an alarm. Evaluation happens
        under the same lock as deduplication, so two ingest paths evaluate a device's messages
        in the order they were accepted.

        ``urgent`` (the alarm lane): take the lock ahead of ordinary batches, and leave the
        last_seen writes to them unless they have fallen behind (a stalled bulk lane).
        Ordinary batches should be small (see ``mqtt_link.DECIDE_CHUNK``): an urgent one waits
        for at most the section an ordinary one is in.
        """
        started = time.perf_counter()
        decided = Decided(started=started)
        out = decided.out
        readings = decided.readings
        seen: dict[str, float] = {}
        now = time.time()
        health: dict[str, Health] = {}
        event_rows: list[dict[str, object]] = []
        statuses: list[Status] = []
        ingested = decided.ingested
        messages = [self._validate(raw) for raw in batch]  # decoding needs no lock
        for prepare in self.preparers:
            try:
                prepare(messages)
            except Exception:  # the evaluator reads what is missing itself
                log.exception("preparer_failed", extra=fields(preparer=repr(prepare)))
        if not urgent:
            self.defer()  # an alarm that came in while this chunk was decoded goes first
        with self._lock.urgent() if urgent else self._lock:
            accept = self.tracker.accept
            for msg in messages:
                if msg is None:
                    continue
                device_id = msg.device_id
                if isinstance(msg, Status):
                    statuses.append(msg)
                    continue
                if not accept(device_id, msg.boot_id, msg.seq):
                    if self._second_copy(msg):
                        self.tracker.duplicates -= 1  # the other lane's copy, not a repeat
                        decided.copies.append((device_id, msg.boot_id, msg.seq))
                    else:
                        decided.duplicates += 1
                        decided.repeats.append((device_id, msg.boot_id))
                    continue
                decided.keys.append((device_id, msg.boot_id, msg.seq))
                seen[device_id] = now  # when the hub heard it; device clocks may be wrong
                if isinstance(msg, Telemetry):
                    # Before the rate gate: a reading shed here still comes on the other lane,
                    # and that copy is no repeat of the device's.
                    doubled = self.doubled
                    if doubled is None or device_id in doubled:
                        self._expect_copy(msg)
                        self.tracker.expect_copy(device_id, msg.boot_id, msg.seq)
                    if not self.rate_gate.allow(device_id, msg.ts):
                        self._reject(
                            "rate_exceeded",
                            device_id,
                            f"over {self.limits.max_rate_per_device_hz:g} Hz: telemetry shed "
                            f"({self.rate_gate.shed[device_id]} from this device)",
                        )
                        continue
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
                            "boot_id": msg.boot_id,
                            "seq": msg.seq,
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
                self._store_registry(event_rows, health, seen, statuses, out)
            except Exception:
                self._forget(decided)
                raise
            if messages:
                stamps = [m.ts for m in messages if m is not None]
                decided.oldest_ts = min(stamps) if stamps else 0.0
            self._evaluate(out)
        back = self._touch_due(urgent)
        if back:  # devices back by traffic (after a heartbeat timeout): rare
            out.births += back
            with self._lock.urgent() if urgent else self._lock:
                self._evaluate(Accepted(births=back))
        return decided

    def defer(self, timeout: float = DEFER_MAX_S) -> None:
        """Step aside while an urgent batch (the alarm lane) waits for the ingest lock or holds
        it: for the bulk lane's threads, before work that needs no lock (reading from the
        broker, decoding).

        An urgent taker waits for at most one ordinary section, but that section's holder
        shares the GIL (and, on a busy machine, the CPU) with every other thread of the bulk
        lane; while they go on reading and decoding, the holder takes several times its own
        CPU time to let go, and the alarm waits throughout. Under the overload bench's flood
        that wait was the largest part of an alarm's way (p99 0.15 to 1.2 s, the holder
        running a fifth of it). Bounded by ``timeout``: a stuck alarm lane slows the bulk
        lane, never stops it.
        """
        lock = self._lock
        if lock.wanted:
            lock.wait_clear(timeout)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """The ingest lock, at the bulk lane's priority, for a registry writer outside ingestion
        (the rules engine's periodic check, the hub's own alarms): its writes queue behind the
        lanes' and give way to the alarm lane's, in this process rather than on SQLite's busy
        handler. Not reentrant: never taken from an evaluator."""
        self.defer()
        with self._lock:
            yield

    def announce(self, n: int = 1) -> None:
        """Urgent messages have come in (the alarm lane's network thread): ordinary threads
        step aside (``defer``) until ``settle`` says they are decided."""
        self._lock.announce(n)

    def settle(self, n: int = 1) -> None:
        """``n`` announced urgent messages are decided."""
        self._lock.done(n)

    def _evaluate(self, acc: Accepted) -> None:
        for evaluator in self.evaluators:
            try:
                evaluator(acc)
            except Exception:  # a rule's bug must not stop ingestion
                log.exception("evaluator_failed", extra=fields(evaluator=repr(evaluator)))

    def idle(self, urgent: bool = False) -> None:
        """Write the last_seen still pending (ingest is idle), with the births it finds, and
        (the bulk lane) the streams' deltas when a save is due.

        ``urgent`` (the alarm lane, idle between alarms while the bulk lane is busy): only if
        the bulk lane has not written them for TOUCH_OVERDUE_S, so that an alarm arriving
        meanwhile does not wait for a city's last_seen write.
        """
        due = TOUCH_OVERDUE_S if urgent else TOUCH_INTERVAL_S
        if self._seen and time.monotonic() - self._touched >= due:
            decided = self.decide([], urgent=urgent)
            if decided.out.births:
                self.finish(decided)
        if not urgent:  # the last batches' streams: the shared figures must not wait for traffic
            self._save_streams_due()

    def _expect_copy(self, msg: Telemetry) -> None:
        """A watched device's reading comes on both MQTT sessions: its second copy is no repeat."""
        key = (msg.device_id, msg.boot_id)
        copies = self._copies.get(key)
        if copies is None:
            copies = self._copies[key] = set()
            if len(self._copies) > MAX_COPY_STREAMS:
                self._copies.pop(next(iter(self._copies)))  # the oldest stream
        copies.add(msg.seq)
        if len(copies) > MAX_COPIES:  # a copy that never came (subscribed late): forget it
            copies.discard(min(copies))

    def _second_copy(self, msg: Message) -> bool:
        copies = self._copies.get((msg.device_id, msg.boot_id))
        if copies is None or msg.seq not in copies:
            return False
        copies.discard(msg.seq)
        return True

    def store_telemetry(self, decided: Decided, forget: bool = True, urgent: bool = False) -> None:
        """Store a decided batch's telemetry; on failure (``forget``: forget the batch) raise.

        The MQTT link retries a failed batch in place instead (``forget=False``), and forgets
        it only if it gives up. ``urgent`` (the alarm lane's storer): leave the stream state's
        save to the bulk lane unless it has not saved it for STREAMS_OVERDUE_S.
        """
        readings = decided.readings
        try:
            if readings:
                self.store.write_readings(readings)
        except Exception:
            if forget:
                self.forget(decided)
            raise
        if readings:
            self.metrics.points.inc(sum(len(data) for _, _, data in readings))
        with self._lock:
            self.tracker.stored(decided.keys)
            if self.ack_after_save and decided.keys:
                decided.marks = self.tracker.save_marks(decided.keys)
        self._save_streams_due(STREAMS_OVERDUE_S if urgent else STREAMS_SAVE_INTERVAL_S)

    def saved(self, decided_marks: dict[tuple[str, str], int]) -> bool:
        """Whether a stored batch (its ``Decided.marks``) is in its streams' shared records."""
        return self.tracker.saved(decided_marks)

    def forget(self, decided: Decided) -> None:
        """Not stored, so not seen: the broker's redelivery must not count as a repeat."""
        with self._lock:
            self._forget(decided)

    def _forget(self, decided: Decided) -> None:
        self.tracker.forget(decided.keys, decided.duplicates)
        # The other lane's copies it dropped: the batch comes again (retried, or redelivered),
        # and those copies are then still no repeats.
        for device_id, boot_id, seq in decided.copies:
            self._copies.setdefault((device_id, boot_id), set()).add(seq)

    def finish(self, decided: Decided) -> Accepted:
        """Count a stored batch and hand it to the listeners.

        One of several workers (``shared``) first claims the batch's events, acks and reports
        (``_claim``): the listeners get only what this worker won. The rules have already seen
        the whole batch (``decide``): their shared state takes a copy once.
        """
        out = decided.out
        with self._lock:
            if self.shared and (out.events or out.acks or out.reports):
                self._claim(decided)
                out = decided.out
            if decided.duplicates:
                self.metrics.duplicates.inc(decided.duplicates)
                self.tracker.count_repeats(decided.repeats)
            for label, count in decided.ingested.items():
                self.metrics.ingested.labels(label).inc(count)
                self.accepted_total += count
        self.metrics.write_latency.observe(time.perf_counter() - decided.started)
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
        if channel not in DEVICE_CHANNELS:
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
        self, conn: sa.Connection, deltas: list[tuple[str, str, Delta]], now: float
    ) -> dict[tuple[str, str], Record]:
        """Merge deltas into their streams' shared records, in one transaction: the rows are
        locked first (inserted if new), so that two workers saving the same stream merge one
        after the other, whatever the order. Returns the merged records."""
        keys = sorted((d, b) for d, b, _ in deltas)
        held = self._lock_streams(conn, keys)
        merged: dict[tuple[str, str], Record] = {}
        for device_id, boot_id, delta in deltas:
            key = (device_id, boot_id)
            merged[key] = merge(held[key], delta)
        rows = [
            (
                d,
                b,
                r.max_seq,
                r.received,
                r.gaps,
                now,
                sorted(r.missing),
                r.min_seq,
                r.duplicates,
            )
            for (d, b), r in sorted(merged.items())
        ]
        if conn.dialect.name == "sqlite":
            sqlite_json_batch(conn, _SQLITE_STREAMS_UPSERT, rows)
        else:
            conn.execute(
                self._streams_upsert,
                [dict(zip(_STREAM_COLUMNS, r, strict=True)) for r in rows],
            )
        return merged

    def _lock_streams(
        self, conn: sa.Connection, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], Record]:
        """Insert the streams' rows that are missing (no seq yet), lock every row of ``keys``
        (in key order) and read them, like the rule state's ``lock`` (hub/alarms/state.py)."""
        blank: list[tuple[Any, ...]] = [(d, b, 0, 0, 0, 0.0, [], 0, 0) for d, b in keys]
        if conn.dialect.name == "sqlite":
            # One statement: the insert takes SQLite's write lock (no other writer until this
            # one commits) and returns every row (each statement under the ingest lock gives up
            # the interpreter lock once more). The driver's plain tuples, the missing lists
            # decoded here: SQLAlchemy's rows and JSON type took most of the chunk's time.
            found = conn.exec_driver_sql(
                _SQLITE_STREAMS_LOCK, (_JSON.encode(blank).decode(),)
            ).fetchall()
            return {
                (d, b): Record(lo, hi, n, gaps, set(_decode_seqs(missing)), dups)
                for d, b, lo, hi, n, gaps, missing, dups in found
            }
        # One statement inserts the missing rows, locks every row (in key order) and returns
        # it: the upsert waits for another worker's lock and returns the row as it committed.
        rows = conn.execute(
            self._streams_lock,
            [dict(zip(_STREAM_COLUMNS, r, strict=True)) for r in blank],
        )
        return {
            (r.device_id, r.boot_id): Record(
                r.min_seq, r.max_seq, r.received, r.gaps, set(r.missing), r.duplicates
            )
            for r in rows
        }

    def _save_streams_due(self, interval: float = STREAMS_SAVE_INTERVAL_S) -> None:
        """Stream state is saved at most once a second: it is bookkeeping, and stored points
        are idempotent, so a crash costs only a slightly stale gap count. What is saved is each
        stream's delta (the seqs accepted since the last save, and the duplicates dropped),
        merged into the stream's shared record under its row lock (``_save_streams``); the
        merged record becomes the tracker's view. Only streams whose accepted messages are all
        stored are written (see StreamTracker).

        Saved if ``interval`` has passed since the last save: a city's streams take dozens of
        chunks, each a registry write under the ingest lock, and the alarm lane's storer, which
        stores the watched devices' readings, came to it first whenever a watched device
        reported (under the overload bench's flood it held the lock for 10 to 100 ms a chunk
        while an alarm waited for it); it now saves them only when the bulk lane has not.
        """
        now = time.time()
        # Under the ingest lock: registry writes of both lanes (and the alarms their rules
        # write) then queue in this process, never on SQLite's busy handler, whose sleeps
        # (1, 2, 5, 10 ... 100 ms) would land on an alarm.
        if now - self._streams_saved < interval:
            return
        with self._lock:
            if now - self._streams_saved < interval:
                return
            self._streams_saved = now
            dirty = self.tracker.take_dirty()
        # In chunks, each copied and written under the lock: an alarm waits for one chunk at
        # most (copying every stream at once held both lanes for tens of ms).
        for i in range(0, len(dirty), STREAMS_CHUNK):
            self.defer()  # the alarm lane first: its messages wait for no chunk of this
            with self._lock:
                ready = self.tracker.snapshot(dirty[i : i + STREAMS_CHUNK])
                if not ready:
                    continue
                try:
                    with self.registry.engine.begin() as conn:
                        merged = self._save_streams(conn, ready, now)
                except Exception:
                    self.tracker.restore(ready)  # saved next time
                    raise
                for (device_id, boot_id), record in merged.items():
                    self.tracker.refresh(device_id, boot_id, record)
                self.tracker.mark_saved((d, b) for d, b, _ in ready)

    def _claim(self, decided: Decided) -> None:
        """Claim a stored batch's events, acks and reports in the shared database (one
        statement); drop from it what another worker claimed first. Under the ingest lock.

        A copy that reaches a second worker before the first's save of its stream (about a
        second) is new to the second worker's tracker; both store it (idempotently) and both
        workers' rules judge it (once, by their shared state), but only the worker that claims
        it hands it to its listeners. The claim is taken here, once the batch is stored, so a
        worker killed before it leaves nothing claimed and the broker's redelivery is acted on
        wherever it lands; only a kill between this commit and the listeners' call (no I/O in
        between) loses the listeners' action. What an ack, a report or an update's outcome
        changes is not left to the listeners: it is written with the batch (``writers``), so
        no kill loses it; what is left to them is made up later (a birth's queued commands by
        ``CommandService.send_queued``, a rollout's next step by its loop). A
        message this worker lost is a duplicate
        (``govedge_hub_duplicates_total``) and not ingested; it is not counted as a repeat into
        its stream's record: both workers' deltas hold its seq, and ``dedup.merge`` counts it
        there once already. If the claim statement fails, the batch (stored) is handed to the
        listeners whole, as with a single worker: acting twice rather than never.
        """
        out = decided.out
        claimable: list[Event | CommandAck | ConfigReported] = [
            *out.events,
            *out.acks,
            *out.reports,
        ]
        try:
            with self.registry.engine.begin() as conn:
                won = self.claims.claim(conn, [(m.device_id, m.boot_id, m.seq) for m in claimable])
        except Exception:
            log.exception("claim_failed", extra=fields(messages=len(claimable)))
            return
        if len(won) == len(claimable):
            return
        lost = 0

        def mine(msg: Event | CommandAck | ConfigReported) -> bool:
            nonlocal lost
            if (msg.device_id, msg.boot_id, msg.seq) in won:
                return True
            lost += 1
            label = _channel_label(msg)
            decided.ingested[label] -= 1
            if not decided.ingested[label]:
                del decided.ingested[label]
            return False

        # A new Accepted: the evaluators' (the whole batch) is left as they were handed it.
        decided.out = replace(
            out,
            events=[m for m in out.events if mine(m)],
            acks=[m for m in out.acks if mine(m)],
            reports=[m for m in out.reports if mine(m)],
        )
        decided.duplicates += lost
        self.tracker.duplicates += lost

    def _store_registry(
        self,
        event_rows: list[dict[str, object]],
        health: dict[str, Health],
        seen: dict[str, float],
        statuses: list[Status],
        out: Accepted,
    ) -> None:
        writing = bool(self.writers and (out.acks or out.reports or out.events))
        if event_rows or writing:
            with self.registry.engine.begin() as conn:
                if event_rows:
                    insert_events(conn, event_rows)  # a copy another worker stored: skipped
                if writing:
                    for write in self.writers:
                        write(conn, out)
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
            if status.data.online:
                self._willed.discard(status.device_id)
            elif changed is False:
                self._willed.add(status.device_id)
        self._seen.update(seen)  # written by ``_touch_due``

    def _touch_due(self, urgent: bool) -> list[str]:
        """Write the pending last_seen when due; return the devices that came back by traffic.

        last_seen is written at most every TOUCH_INTERVAL_S (presence is judged within a tenth
        of a keepalive): fewer registry transactions for an alarm to queue behind. A city's
        worth of devices is written in chunks, each under the ingest lock (registry writes of
        both lanes queue in this process, never on SQLite's busy handler), so that an alarm
        waits for one chunk at most; an urgent batch leaves it to the bulk lane unless that
        lane has not done it for TOUCH_OVERDUE_S.
        """
        since = time.monotonic() - self._touched
        if not self._seen or since < (TOUCH_OVERDUE_S if urgent else TOUCH_INTERVAL_S):
            return []
        back: list[str] = []
        with self._lock.urgent() if urgent else self._lock:
            if time.monotonic() - self._touched < TOUCH_INTERVAL_S:
                return back  # the other lane did it meanwhile
            self._touched = time.monotonic()
            pending, self._seen = self._seen, {}
        devices = list(pending)
        try:
            self.registry.refresh_presence_due()  # outside the lock: it reads every device
        except Exception as exc:  # noqa: BLE001 - ``touch`` tries again under the lock
            log.warning("presence_refresh_failed", extra=fields(error=str(exc)[:300]))
        for i in range(0, len(devices), TOUCH_CHUNK):
            if not urgent:
                self.defer()
            with self._lock.urgent() if urgent else self._lock:
                # A device gone by its will comes back with its birth, not with traffic: the
                # alarm lane may apply the will before the bulk lane stores readings sent
                # before it. Judged per chunk, under the lock that applies the wills.
                willed = self._willed
                chunk = {d: pending[d] for d in devices[i : i + TOUCH_CHUNK] if d not in willed}
                try:
                    if chunk:
                        # Reloaded above, outside the lock: a city's last_seen takes many
                        # chunks, and a reload falling due meanwhile held both lanes for it.
                        back.extend(self.registry.touch(chunk, refresh=False))
                except Exception as exc:  # noqa: BLE001 - kept for the next batch, not lost
                    # The batch is decided: what is left is written next time, not retried
                    # with the batch (whose messages would then count as repeats).
                    left = {d: pending[d] for d in devices[i:]}
                    self._seen = {**left, **self._seen}
                    log.warning("last_seen_write_failed", extra=fields(error=str(exc)[:300]))
                    break
        return back


_STREAM_COLUMNS = (
    "device_id",
    "boot_id",
    "max_seq",
    "received",
    "gaps",
    "updated",
    "missing",
    "min_seq",
    "duplicates",
)
_SQLITE_ROWS = (
    f"INSERT INTO streams ({', '.join(_STREAM_COLUMNS)}) SELECT "  # noqa: S608 - names from code
    + ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(_STREAM_COLUMNS)))
    + " FROM json_each(?) WHERE true ON CONFLICT (device_id, boot_id) "
)
_SQLITE_STREAMS_LOCK = (
    _SQLITE_ROWS + "DO UPDATE SET max_seq = max_seq RETURNING device_id, boot_id, min_seq, "
    "max_seq, received, gaps, missing, duplicates"
)
_JSON = msgspec.json.Encoder()
_decode_seqs = msgspec.json.Decoder(list[int]).decode
_SQLITE_STREAMS_UPSERT = (
    _SQLITE_ROWS + "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _STREAM_COLUMNS[2:])
)


def _upsert_streams(dialect: str) -> Any:
    """One INSERT .. ON CONFLICT UPDATE for a whole batch of streams, in either database."""
    from sqlalchemy.dialects import postgresql, sqlite

    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(streams)
    return stmt.on_conflict_do_update(
        index_elements=[streams.c.device_id, streams.c.boot_id],
        set_={c: stmt.excluded[c] for c in _STREAM_COLUMNS[2:]},
    )


def _lock_streams_pg() -> Any:
    """PostgreSQL: insert the missing rows of a batch of streams, lock all and return them."""
    from sqlalchemy.dialects import postgresql

    stmt = postgresql.insert(streams)
    return stmt.on_conflict_do_update(
        index_elements=[streams.c.device_id, streams.c.boot_id],
        set_={"max_seq": streams.c.max_seq},
    ).returning(*streams.c)


def _channel_label(msg: Message) -> str:
    return type(msg).__name__.lower()
