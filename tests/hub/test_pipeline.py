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
from hub.metrics import HubMetrics
from hub.pipeline import STREAMS_SAVE_INTERVAL_S, Pipeline, Raw
from hub.registry import Registry
from hub.storage.base import Reading
from hub.storage.sqlite_store import SQLiteTelemetryStore


def _raw(device_id: str, boot_id: str, seq: int, value: float) -> Raw:
    msg = Telemetry(
        device_id=device_id, boot_id=boot_id, seq=seq, ts=1e9 + seq, data={"level": value}
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
