"""Two hub workers' pipelines on one registry (SQLite file, and PostgreSQL): each takes a share of
a stream, and the stream's shared record (the ``streams`` row) comes out as one worker taking it
all would have made it, whatever the order of their saves; the fleet figures are read from it."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from govedge.contract import Telemetry, encode
from govedge.contract.topics import Channel, topic
from hub.db import create_schema, make_engine, streams
from hub.ingest.pipeline import STREAMS_CHUNK, Pipeline, Raw
from hub.metrics import HubMetrics
from hub.registry import Registry
from hub.storage.sqlite_store import SQLiteTelemetryStore


def _raw(device_id: str, boot_id: str, seq: int) -> Raw:
    msg = Telemetry(device_id=device_id, boot_id=boot_id, seq=seq, ts=1e9 + seq, data={"v": 1.0})
    return Raw(topic(device_id, Channel.TELEMETRY), encode(msg), time.time())


def _worker(registry_url: str, tmp_path: Path) -> Pipeline:
    """A worker's pipeline: an engine of its own (another process's), the one telemetry store."""
    engine = make_engine(registry_url)
    create_schema(engine)
    return Pipeline(Registry(engine), SQLiteTelemetryStore(str(tmp_path / "t.db")), HubMetrics())


def _save(pipeline: Pipeline) -> None:
    pipeline._streams_saved = 0.0  # due
    pipeline._save_streams_due()


def _row(pipeline: Pipeline, device_id: str) -> tuple[object, ...]:
    with pipeline.registry.engine.connect() as conn:
        r = conn.execute(sa.select(streams).where(streams.c.device_id == device_id)).one()
    return (r.min_seq, r.max_seq, r.received, r.gaps, r.missing, r.duplicates)


def _close(*pipelines: Pipeline) -> None:
    for p in pipelines:
        p.store.close()
        p.registry.engine.dispose()


def test_two_workers_shares_of_a_stream_merge_into_one_record(
    registry_url: str, tmp_path: Path
) -> None:
    one, two = _worker(registry_url, tmp_path), _worker(registry_url, tmp_path)
    for first, second in ((one, two), (two, one)):
        device_id = f"share-{uuid.uuid4().hex[:6]}"
        one.registry.register(device_id)
        # Alternate seqs; 4 reaches both workers (a QoS 1 copy); 8 reaches neither.
        dropped = (one.tracker.duplicates, two.tracker.duplicates)
        one.process([_raw(device_id, "b", s) for s in (1, 3, 4, 5, 7, 9)])
        two.process([_raw(device_id, "b", s) for s in (2, 4, 6, 10)])
        assert (one.tracker.duplicates, two.tracker.duplicates) == dropped  # neither saw both
        _save(first)
        _save(second)
        assert _row(one, device_id) == (1, 10, 9, 1, [8], 1)
        # Each worker's view is the merged record now: a copy the other stored is a repeat.
        out = second.process([_raw(device_id, "b", 2), _raw(device_id, "b", 3)])
        assert out.telemetry == []
        _save(second)
        assert _row(one, device_id) == (1, 10, 9, 1, [8], 3)
    for p in (one, two):
        p._totals_read = float("-inf")  # past the cache's second
        assert p.stream_totals() == (2, 6)  # the fleet stats and /metrics read these

    # A worker restarted on the records takes the late seq that fills the shared gap, once.
    restarted = _worker(registry_url, tmp_path)
    out = restarted.process([_raw(device_id, "b", 8), _raw(device_id, "b", 8)])
    assert [m.seq for m in out.telemetry] == [8]
    _save(restarted)
    assert _row(one, device_id) == (1, 10, 10, 0, [], 4)
    _close(one, two, restarted)


def test_workers_saving_at_once_lose_no_seq_and_count_no_false_gap(
    registry_url: str, tmp_path: Path
) -> None:
    """Two workers save the same streams at the same moments, many times over: the rows are
    locked before they are merged, so no save overwrites another's."""
    one, two = _worker(registry_url, tmp_path), _worker(registry_url, tmp_path)
    ids = [f"race-{uuid.uuid4().hex[:6]}-{i}" for i in range(STREAMS_CHUNK + 20)]
    one.registry.register_many({"id": d} for d in ids)
    rounds = 8
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(pipeline: Pipeline, parity: int) -> None:
        try:
            for r in range(rounds):
                seqs = [2 * r + 1, 2 * r + 2] if parity else [2 * r + 2]  # 2r+2: to both
                pipeline.process([_raw(d, "b", s) for d in ids for s in seqs])
                start.wait(10)
                _save(pipeline)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=run, args=(p, i)) for i, p in enumerate((one, two))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    with one.registry.engine.connect() as conn:
        rows = conn.execute(sa.select(streams).where(streams.c.device_id.in_(ids))).all()
    top = 2 * rounds
    # Seqs 1..top, the odd ones from one worker, the even ones from both: each a duplicate.
    assert {(r.min_seq, r.max_seq, r.received, r.gaps, r.duplicates) for r in rows} == {
        (1, top, top, 0, rounds)
    }
    assert len(rows) == len(ids)
    _close(one, two)


def test_a_streams_table_from_before_is_upgraded_and_keeps_its_rows(
    registry_url: str, tmp_path: Path
) -> None:
    engine = make_engine(registry_url)
    old = sa.MetaData()
    table = sa.Table(  # the streams table as hubs before merged records created it
        "streams",
        old,
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("boot_id", sa.String(64), primary_key=True),
        sa.Column("max_seq", sa.BigInteger, nullable=False),
        sa.Column("received", sa.BigInteger, nullable=False, default=0),
        sa.Column("gaps", sa.BigInteger, nullable=False, default=0),
        sa.Column("updated", sa.Float, nullable=False),
        sa.Column("missing", sa.JSON, nullable=False, default=list),
    )
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [{"device_id": "old-1", "boot_id": "b", "max_seq": 5, "received": 4, "gaps": 1,
              "updated": 1.0, "missing": [3]}],
        )  # fmt: skip
    create_schema(engine)
    create_schema(engine)  # a second start finds it done
    pipeline = _worker(registry_url, tmp_path)
    pipeline.registry.register("old-1")
    out = pipeline.process([_raw("old-1", "b", s) for s in (3, 4, 6)])
    assert [m.seq for m in out.telemetry] == [3, 6]
    _save(pipeline)
    assert _row(pipeline, "old-1") == (0, 6, 6, 0, [], 1)
    _close(pipeline)
    engine.dispose()
