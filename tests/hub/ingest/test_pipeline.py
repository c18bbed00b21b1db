"""The ingest pipeline without MQTT: what it keeps between batches and across a restart."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from govedge.contract import Telemetry, encode
from govedge.contract.topics import Channel, topic
from hub.db import create_schema, devices, make_engine, streams
from hub.errors import StorageError
from hub.ingest.pipeline import STREAMS_SAVE_INTERVAL_S, Pipeline, Raw
from hub.metrics import HubMetrics
from hub.registry import Registry
from hub.storage.base import Reading
from hub.storage.sqlite_store import SQLiteTelemetryStore


def _raw(device_id: str, boot_id: str, seq: int, value: float, ts: float = 0.0) -> Raw:
    msg = Telemetry(
        device_id=device_id, boot_id=boot_id, seq=seq, ts=ts or 1e9 + seq, data={"level": value}
    )
    return Raw(topic(device_id, Channel.TELEMETRY), encode(msg), time.time())


def _pipeline(registry_url: str, tmp_path: Path) -> tuple[Pipeline, SQLiteTelemetryStore]:
    engine = make_engine(registry_url)
    create_schema(engine)
    store = SQLiteTelemetryStore(str(tmp_path / "telemetry.db"))
    return Pipeline(Registry(engine), store, HubMetrics()), store


def test_streams_and_last_seen_are_saved_and_survive_a_restart(
    registry_url: str, tmp_path: Path
) -> None:
    ids = [f"pipe-{i:03d}" for i in range(300)]
    first, store = _pipeline(registry_url, tmp_path)
    first.registry.register_many({"id": d} for d in ids)
    first.process([_raw(d, "boot-a", seq, 1.0) for d in ids for seq in (1, 2, 5)])
    time.sleep(STREAMS_SAVE_INTERVAL_S)
    first.process([_raw(ids[0], "boot-a", 6, 1.0)])  # past the interval: streams are saved
    engine = first.registry.engine
    with engine.connect() as conn:
        saved = {r.device_id: r for r in conn.execute(sa.select(streams))}
        seen = dict(conn.execute(sa.select(devices.c.id, devices.c.last_seen)).all())
    assert len(saved) == 300
    assert (saved[ids[0]].max_seq, saved[ids[0]].received, saved[ids[0]].gaps) == (6, 4, 2)
    assert (saved[ids[1]].max_seq, saved[ids[1]].received, saved[ids[1]].gaps) == (5, 3, 2)
    assert all(seen[d] is not None for d in ids)
    store.close()

    # A new hub process on the same registry: the repeats are duplicates, the gap fills.
    second, store = _pipeline(registry_url, tmp_path)
    out = second.process([_raw(ids[1], "boot-a", 2, 9.0), _raw(ids[1], "boot-a", 3, 3.0)])
    assert [m.seq for m in out.telemetry] == [3]
    assert second.tracker.duplicates == 1
    assert second.tracker.streams[(ids[1], "boot-a")].gaps == 1
    store.close()
    engine.dispose()


class _FailingOnce(SQLiteTelemetryStore):
    """A telemetry store whose first batch fails, like a disk that filled and was freed."""

    failures = 0

    def write_readings(self, readings: Sequence[Reading]) -> None:
        if self.failures:
            self.failures -= 1
            raise StorageError("disk full")
        super().write_readings(readings)


def test_a_batch_that_failed_to_store_is_taken_whole_when_redelivered(
    registry_url: str, tmp_path: Path
) -> None:
    engine = make_engine(registry_url)
    create_schema(engine)
    store = _FailingOnce(str(tmp_path / "telemetry.db"))
    pipeline = Pipeline(Registry(engine), store, HubMetrics())
    pipeline.registry.register("pipe-fail")
    pipeline.process([_raw("pipe-fail", "b", 1, 1.0)])
    batch = [_raw("pipe-fail", "b", seq, float(seq)) for seq in (2, 3, 5)]
    store.failures = 1
    with pytest.raises(StorageError):
        pipeline.process(batch)
    assert pipeline.accepted_total == 1
    out = pipeline.process(batch)  # the broker redelivers what was never acknowledged
    assert [m.seq for m in out.telemetry] == [2, 3, 5]
    assert pipeline.tracker.duplicates == 0
    assert pipeline.tracker.streams[("pipe-fail", "b")].gaps == 1
    assert [p["value"] for p in store.query("pipe-fail", "level", 0, 2e9, 10)] == [1, 2, 3, 5]
    store.close()
    engine.dispose()


def _status(device_id: str, boot_id: str, seq: int, online: bool) -> Raw:
    from govedge.contract import Status, StatusData

    msg = Status(
        device_id=device_id,
        boot_id=boot_id,
        seq=seq,
        ts=time.time(),
        data=StatusData(online=online, keepalive=60),
    )
    return Raw(topic(device_id, Channel.STATUS), encode(msg), time.time())


def test_a_stream_is_persisted_only_once_its_accepted_messages_are_stored(
    registry_url: str, tmp_path: Path
) -> None:
    # Two ingest lanes decide and store apart: a stream state saved while one of its messages
    # waits for the telemetry store would, after a crash, turn that message's redelivery into a
    # "duplicate" and lose it.
    pipeline, store = _pipeline(registry_url, tmp_path)
    pipeline.registry.register_many({"id": d} for d in ("pipe-a", "pipe-b"))
    waiting = pipeline.decide([_raw("pipe-a", "b", 1, 1.0)])  # decided, not yet stored
    pipeline._streams_saved = 0.0
    pipeline.process([_raw("pipe-b", "b", 1, 1.0)])  # stored: streams are saved now
    with pipeline.registry.engine.connect() as conn:
        saved = {r.device_id for r in conn.execute(sa.select(streams))}
    assert saved == {"pipe-b"}
    pipeline.store_telemetry(waiting)
    pipeline.finish(waiting)
    pipeline._streams_saved = 0.0
    pipeline.process([_raw("pipe-b", "b", 2, 1.0)])
    with pipeline.registry.engine.connect() as conn:
        saved = {r.device_id for r in conn.execute(sa.select(streams))}
    assert saved == {"pipe-a", "pipe-b"}
    store.close()
    pipeline.registry.engine.dispose()


def test_the_other_lanes_copy_is_not_a_duplicate_but_a_repeat_is(
    registry_url: str, tmp_path: Path
) -> None:
    pipeline, store = _pipeline(registry_url, tmp_path)
    pipeline.registry.register("pipe-watched")
    pipeline.doubled = {"pipe-watched"}  # its telemetry comes on both MQTT sessions
    first = pipeline.process([_raw("pipe-watched", "b", 1, 1.0)])
    copy = pipeline.process([_raw("pipe-watched", "b", 1, 1.0)])
    assert [m.seq for m in first.telemetry] == [1] and copy.telemetry == []
    assert pipeline.tracker.duplicates == 0
    pipeline.process([_raw("pipe-watched", "b", 1, 1.0)])  # a third copy: a real repeat
    assert pipeline.tracker.duplicates == 1
    store.close()
    pipeline.registry.engine.dispose()


def test_a_device_gone_by_its_will_comes_back_with_its_birth_not_with_older_traffic(
    registry_url: str, tmp_path: Path
) -> None:
    # The alarm lane may apply a will before the bulk lane stores readings sent before it.
    pipeline, store = _pipeline(registry_url, tmp_path)
    pipeline.registry.register("pipe-gone")
    births = pipeline.process([_status("pipe-gone", "b", 1, True)]).births
    assert births == ["pipe-gone"]
    assert pipeline.process([_status("pipe-gone", "b", 3, False)]).deaths == ["pipe-gone"]
    pipeline._touched = 0.0
    late = pipeline.process([_raw("pipe-gone", "b", 2, 1.0)])  # sent before the will
    assert late.births == [] and not pipeline.registry.get("pipe-gone").online
    assert pipeline.process([_status("pipe-gone", "c", 1, True)]).births == ["pipe-gone"]
    assert pipeline.registry.get("pipe-gone").online
    store.close()
    pipeline.registry.engine.dispose()


def test_a_will_one_worker_applied_is_not_undone_by_older_traffic_another_worker_takes(
    registry_url: str, tmp_path: Path
) -> None:
    # Several workers: the will reaches one, a reading sent before it reaches another, later.
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, first_store = _pipeline(registry_url, tmp_path / "a")
    second, second_store = _pipeline(registry_url, tmp_path / "b")
    first.registry.register("pipe-gone")
    second.registry.reload_known()
    assert second.process([_status("pipe-gone", "b", 1, True)]).births == ["pipe-gone"]
    assert first.process([_status("pipe-gone", "b", 3, False)]).deaths == ["pipe-gone"]
    second._touched = 0.0
    late = second.process([_raw("pipe-gone", "b", 2, 1.0)])  # sent before the will
    assert late.births == [] and not second.registry.get("pipe-gone").online
    assert first.process([_status("pipe-gone", "c", 1, True)]).births == ["pipe-gone"]
    for store in (first_store, second_store):
        store.close()
    for pipeline in (first, second):
        pipeline.registry.engine.dispose()


def test_the_other_lanes_copy_of_a_shed_reading_is_not_a_duplicate(
    registry_url: str, tmp_path: Path
) -> None:
    pipeline, store = _pipeline(registry_url, tmp_path)
    pipeline.registry.register("pipe-fast")
    pipeline.doubled = {"pipe-fast"}
    # Past the contract's rate (its bucket holds RATE_BURST_S of it): the last one is shed.
    burst = int(pipeline.rate_gate.capacity) + 1
    readings = [_raw("pipe-fast", "b", seq, 1.0, ts=1e9) for seq in range(1, burst + 1)]
    first = pipeline.process(readings)
    assert len(first.telemetry) == burst - 1 and pipeline.rejected == {"rate_exceeded": 1}
    pipeline.process(readings)  # the other lane's copies, the shed one included
    assert pipeline.tracker.duplicates == 0
    store.close()
    pipeline.registry.engine.dispose()


class _HealthFailingOnce(Registry):
    """A registry whose first health write fails, like a database locked for too long."""

    failures = 1

    def set_health(self, device_id: str, health: dict[str, object]) -> None:
        if self.failures:
            self.failures -= 1
            raise sa.exc.OperationalError("UPDATE devices", {}, Exception("database is locked"))
        super().set_health(device_id, health)


def test_a_batch_retried_after_a_registry_failure_does_not_count_the_other_lanes_copies(
    registry_url: str, tmp_path: Path
) -> None:
    from govedge.contract import Health, HealthData

    engine = make_engine(registry_url)
    create_schema(engine)
    store = SQLiteTelemetryStore(str(tmp_path / "telemetry.db"))
    pipeline = Pipeline(_HealthFailingOnce(engine), store, HubMetrics())
    pipeline.registry.register_many([{"id": "pipe-watched"}, {"id": "pipe-other"}])
    pipeline.doubled = {"pipe-watched"}
    pipeline.process([_raw("pipe-watched", "b", 1, 1.0)])  # the alarm lane's copy
    health = Health(device_id="pipe-other", boot_id="b", seq=1, ts=1e9, data=HealthData())
    batch = [  # the bulk lane's batch: the other copy, and a message the registry fails on
        _raw("pipe-watched", "b", 1, 1.0),
        Raw(topic("pipe-other", Channel.HEALTH), encode(health), time.time()),
    ]
    with pytest.raises(sa.exc.OperationalError):
        pipeline.decide(batch)
    pipeline.process(batch)  # retried in place, as the MQTT link does
    assert pipeline.tracker.duplicates == 0
    store.close()
    engine.dispose()


def test_readings_sent_before_the_alarm_lanes_first_copy_are_stored_not_dropped(
    registry_url: str, tmp_path: Path
) -> None:
    # The alarm lane subscribes to a newly watched device mid-stream, while the bulk lane still
    # holds the readings sent before: those are new to the hub, not repeats.
    pipeline, store = _pipeline(registry_url, tmp_path)
    pipeline.registry.register("pipe-new")
    pipeline.doubled = {"pipe-new"}
    pipeline.process([_raw("pipe-new", "b", 5, 5.0)])  # the alarm lane's first copy
    bulk = pipeline.process([_raw("pipe-new", "b", seq, float(seq)) for seq in range(1, 6)])
    assert [m.seq for m in bulk.telemetry] == [1, 2, 3, 4]
    assert pipeline.tracker.duplicates == 0
    assert len(store.query("pipe-new", "level", 0, 2e9, 100)) == 5
    # Seq 2 came first on the bulk lane, so one more copy is expected from the alarm lane; a
    # copy beyond that is a repeat.
    pipeline.process([_raw("pipe-new", "b", 2, 2.0), _raw("pipe-new", "b", 2, 2.0)])
    assert pipeline.tracker.duplicates == 1
    store.close()
    pipeline.registry.engine.dispose()


def test_the_bulk_lanes_lockless_work_waits_while_an_alarm_batch_is_decided(
    registry_url: str, tmp_path: Path
) -> None:
    import threading

    from hub.ingest.pipeline import Accepted

    pipeline, store = _pipeline(registry_url, tmp_path)
    pipeline.registry.register("gauge-1")
    evaluating = threading.Event()
    done = threading.Event()

    def slow_rules(acc: Accepted) -> None:
        if acc.telemetry:
            evaluating.set()
            done.wait(10)

    pipeline.evaluators.append(slow_rules)
    alarm = threading.Thread(
        target=pipeline.decide, args=([_raw("gauge-1", "b1", 1, 6.0)],), kwargs={"urgent": True}
    )
    alarm.start()
    assert evaluating.wait(10)
    started = time.monotonic()
    pipeline.defer(0.2)  # the alarm lane holds the lock: the bulk lane steps aside, bounded
    assert time.monotonic() - started >= 0.15
    resumed = threading.Event()
    bulk = threading.Thread(target=lambda: (pipeline.defer(10), resumed.set()))
    bulk.start()
    assert not resumed.wait(0.1)
    done.set()  # the alarm batch is decided
    alarm.join(10)
    assert resumed.wait(10)
    bulk.join(10)
    started = time.monotonic()
    pipeline.defer(5)  # nothing urgent: no wait
    assert time.monotonic() - started < 1.0
    store.close()


def test_an_ordinary_batch_steps_aside_for_announced_alarm_messages(
    registry_url: str, tmp_path: Path
) -> None:
    """Alarm messages waiting in the alarm lane's inbox: the bulk lane, its chunk decoded, steps
    aside (bounded) before it takes the lock, rather than make them wait for its chunk."""
    pipeline, store = _pipeline(registry_url, tmp_path)
    pipeline.registry.register("meter-1")
    pipeline.announce()
    started = time.monotonic()
    pipeline.decide([_raw("meter-1", "b1", 1, 1.0)])
    assert time.monotonic() - started >= 0.015  # DEFER_MAX_S, 20 ms: bounded, never stuck
    deferred: list[bool] = []
    defer = pipeline.defer
    pipeline.defer = lambda timeout=0.02: (deferred.append(True), defer(timeout))[1]  # type: ignore[method-assign]
    pipeline.settle()
    pipeline.decide([_raw("meter-1", "b1", 2, 1.0)])
    assert deferred
    deferred.clear()
    pipeline.decide([_raw("meter-1", "b1", 3, 1.0)], urgent=True)  # the alarm lane never does
    assert not deferred
    store.close()


def test_presence_is_reloaded_outside_the_ingest_lock(registry_url: str, tmp_path: Path) -> None:
    """The reload reads every device: an alarm waiting for the lock must not wait for it."""
    pipeline, store = _pipeline(registry_url, tmp_path)
    registry = pipeline.registry
    registry.register("meter-1")
    reload = registry._refresh_presence
    held_while_reloading: list[bool] = []

    def watched_reload(now: float) -> None:
        held_while_reloading.append(pipeline._lock._lock.locked())
        reload(now)
        # Due again at once, as when a city's last_seen chunks outlast the reload interval:
        # the reload must still not come inside a chunk, under the lock.
        registry._presence_loaded = 0.0

    registry._refresh_presence = watched_reload  # type: ignore[method-assign]
    registry._presence_loaded = 0.0  # due
    pipeline.decide([_raw("meter-1", "b1", 1, 1.0)])
    assert held_while_reloading == [False]
    store.close()


def test_the_gap_and_duplicate_sums_are_read_from_the_streams_table_once_a_second(
    registry_url: str, tmp_path: Path
) -> None:
    """Every worker's figures, merged in the streams table; read outside the ingest lock (an
    alarm waiting for it must not wait for a sum over a city's streams), and at most once a
    second, so that scrapes and health polls do not scan the table each time."""
    import threading

    from hub.ingest.pipeline import TOTALS_MAX_AGE_S

    pipeline, store = _pipeline(registry_url, tmp_path)
    pipeline.registry.register("meter-1")
    pipeline._streams_saved = 0.0  # due
    pipeline.process([_raw("meter-1", "b1", 1, 1.0), _raw("meter-1", "b1", 3, 1.0)])
    pipeline._streams_saved = 0.0
    pipeline.process([_raw("meter-1", "b1", 3, 1.0)])  # a repeat: counted at the next save
    pipeline._streams_saved = 0.0
    pipeline.idle()  # the last batch's stream is saved though no batch follows
    totals: list[tuple[int, int]] = []
    with pipeline._lock:  # held by an ingest thread
        reader = threading.Thread(target=lambda: totals.append(pipeline.stream_totals()))
        reader.start()
        reader.join(5)
    assert totals == [(1, 1)]
    pipeline.process([_raw("meter-1", "b1", 6, 1.0)])
    pipeline._streams_saved = 0.0
    pipeline.idle()
    assert pipeline.stream_totals() == (1, 1)  # read less than a second ago
    pipeline._totals_read -= TOTALS_MAX_AGE_S
    assert pipeline.stream_totals() == (3, 1)
    store.close()


def test_the_alarm_lanes_storer_leaves_stream_state_to_the_bulk_lane(
    registry_url: str, tmp_path: Path
) -> None:
    """Saving a city's stream state takes dozens of registry writes under the ingest lock: the
    alarm lane's storer (a watched device's readings) does it only when the bulk lane has not
    for STREAMS_OVERDUE_S, so that the next alarm does not wait for those chunks."""
    from hub.ingest.pipeline import STREAMS_OVERDUE_S

    pipeline, store = _pipeline(registry_url, tmp_path)
    pipeline.registry.register("gauge-1")

    def saved() -> int:
        with pipeline.registry.engine.connect() as conn:
            return len(conn.execute(sa.select(streams)).all())

    # Due for the bulk lane (past STREAMS_SAVE_INTERVAL_S), not overdue.
    pipeline._streams_saved = time.time() - STREAMS_SAVE_INTERVAL_S - 0.2
    decided = pipeline.decide([_raw("gauge-1", "b1", 1, 6.0)], urgent=True)
    pipeline.store_telemetry(decided, urgent=True)
    assert saved() == 0
    # Overdue: the bulk lane is idle or stalled, so the alarm lane's storer saves it.
    pipeline._streams_saved = time.time() - STREAMS_OVERDUE_S - 0.2
    decided = pipeline.decide([_raw("gauge-1", "b1", 2, 6.0)], urgent=True)
    pipeline.store_telemetry(decided, urgent=True)
    assert saved() == 1
    # The bulk lane saves it once the ordinary interval has passed.
    pipeline._streams_saved = time.time() - STREAMS_SAVE_INTERVAL_S - 0.2
    pipeline.registry.register("meter-1")
    pipeline.process([_raw("meter-1", "b1", 1, 1.0)])
    assert saved() == 2
    store.close()


def test_stream_state_is_saved_in_chunks_that_step_aside_for_alarms(
    registry_url: str, tmp_path: Path
) -> None:
    """Each chunk of stream state is a registry write under the ingest lock: before each one the
    saving thread steps aside for alarm messages on their way, as before a bulk chunk."""
    from hub.ingest.pipeline import STREAMS_CHUNK

    pipeline, store = _pipeline(registry_url, tmp_path)
    ids = [f"meter-{i:03d}" for i in range(STREAMS_CHUNK * 2 + 10)]
    pipeline.registry.register_many({"id": d} for d in ids)
    pipeline._streams_saved = time.time()  # not due while the batch is stored
    pipeline.process([_raw(d, "b1", 1, 1.0) for d in ids])
    deferred: list[bool] = []
    defer = pipeline.defer
    pipeline.defer = lambda timeout=0.02: (deferred.append(True), defer(timeout))[1]  # type: ignore[method-assign]
    pipeline._streams_saved = 0.0  # due
    pipeline._save_streams_due()
    assert len(deferred) == 3  # one per chunk
    with pipeline.registry.engine.connect() as conn:
        assert len(conn.execute(sa.select(streams)).all()) == len(ids)
    store.close()
