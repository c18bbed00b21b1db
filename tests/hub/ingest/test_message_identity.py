"""A message's copies stored once, whichever hub worker takes each (hub/ingest/message_identity.py).

Two pipelines on one registry stand for two workers of one shared subscription: each has its
own in-memory deduplication, so each takes its copy of a redelivered message as new.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from govedge.contract import Event, EventData, encode
from govedge.contract.topics import Channel, topic
from hub.db import create_schema, events, make_engine
from hub.ingest.pipeline import Pipeline, Raw
from hub.metrics import HubMetrics
from hub.registry import Registry
from hub.storage import open_store
from hub.storage.sqlite_store import SQLiteTelemetryStore


def _event(device_id: str, boot_id: str, seq: int, kind: str = "paper_out") -> Raw:
    msg = Event(
        device_id=device_id,
        boot_id=boot_id,
        seq=seq,
        ts=1e9 + seq,
        data=EventData(kind=kind, severity="warning", message="tray empty", attrs={"tray": "2"}),
    )
    return Raw(topic(device_id, Channel.EVENT), encode(msg), time.time())


def _stored_events(engine: sa.Engine, device_id: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        query = sa.select(events.c.boot_id, events.c.seq, events.c.kind).where(
            events.c.device_id == device_id
        )
        return [tuple(r) for r in conn.execute(query.order_by(events.c.id))]


def test_an_event_taken_by_two_workers_is_stored_once(registry_url: str, tmp_path: Path) -> None:
    engine = make_engine(registry_url)
    create_schema(engine)
    Registry(engine).register("ident-1")
    workers = [
        Pipeline(
            Registry(engine),
            SQLiteTelemetryStore(str(tmp_path / f"t{i}.db")),
            HubMetrics(),
            shared=True,
        )
        for i in range(2)
    ]
    first, copy = _event("ident-1", "boot-a", 7), _event("ident-1", "boot-a", 7)
    assert [e.seq for e in workers[0].process([first]).events] == [7]
    # New to the other worker's tracker, but the first claimed it: not that worker's to act on.
    assert workers[1].process([copy]).events == []
    # The same seq in another boot is another message; so is the next seq.
    workers[1].process([_event("ident-1", "boot-b", 7), _event("ident-1", "boot-a", 8)])
    assert _stored_events(engine, "ident-1") == [
        ("boot-a", 7, "paper_out"),
        ("boot-b", 7, "paper_out"),
        ("boot-a", 8, "paper_out"),
    ]
    with engine.connect() as conn:
        stored = conn.execute(sa.select(events).where(events.c.seq == 8)).one()
    assert (stored.ts, stored.severity, stored.message, stored.attrs) == (
        1e9 + 8,
        "warning",
        "tray empty",
        {"tray": "2"},
    )
    for pipeline in workers:
        pipeline.store.close()
    engine.dispose()


def test_an_events_table_from_before_is_upgraded_and_keeps_its_rows(
    registry_url: str, tmp_path: Path
) -> None:
    engine = make_engine(registry_url)
    old = sa.MetaData()
    sa.Table(  # the events table as hubs before message identity created it
        "events",
        old,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(64), nullable=False, index=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False, default=""),
        sa.Column("attrs", sa.JSON, nullable=False, default=dict),
    )
    old.create_all(engine)
    with engine.begin() as conn:
        row = {"device_id": "ident-2", "ts": 1.0, "kind": "k", "severity": "info", "attrs": {}}
        conn.execute(old.tables["events"].insert(), [row, row])  # no identity: both kept
    create_schema(engine)
    create_schema(engine)  # a second start finds it done
    Registry(engine).register("ident-2")
    pipeline = Pipeline(
        Registry(engine), SQLiteTelemetryStore(str(tmp_path / "t.db")), HubMetrics()
    )
    pipeline.process([_event("ident-2", "boot-a", 1, kind="new")])
    pipeline.tracker = type(pipeline.tracker)()  # another worker's (empty) memory
    pipeline.process([_event("ident-2", "boot-a", 1, kind="new")])
    assert _stored_events(engine, "ident-2") == [
        (None, None, "k"),
        (None, None, "k"),
        ("boot-a", 1, "new"),
    ]
    pipeline.store.close()
    engine.dispose()


def test_influxdb_keeps_one_point_for_a_reading_written_by_two_workers(influx: Any) -> None:
    """InfluxDB's point identity is (measurement, tags, time): the hub writes a copy of a reading
    as the identical point (device tag, the device's timestamp, the same fields), so the second
    write overwrites the first with the same values, and a count sees one."""
    url = f"influxdb://{influx.forwarder_url.split('//')[1]}/govedge/autogen?org=-"
    workers = [open_store(url), open_store(url)]
    ts = 1_700_000_123.0
    reading = ("ident-influx", ts, {"level": 3.5, "temp": 21.0})
    workers[0].write_readings([reading])
    workers[1].write_readings([reading])
    workers[1].write_readings([("ident-influx", ts + 1.0, {"level": 4.0, "temp": 21.5})])
    rows = workers[0].query("ident-influx", None, ts - 1, ts + 2, 100)
    assert sorted((r["ts"], r["metric"], r["value"]) for r in rows) == [
        (ts, "level", 3.5),
        (ts, "temp", 21.0),
        (ts + 1.0, "level", 4.0),
        (ts + 1.0, "temp", 21.5),
    ]
    count = workers[0].aggregate("ident-influx", "level", ts - 1, ts + 2, 60, "count")
    assert [c["value"] for c in count] == [2]
    for store in workers:
        store.close()
