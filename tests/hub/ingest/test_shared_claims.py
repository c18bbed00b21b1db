"""Two hub workers' pipelines on one registry (SQLite file, and PostgreSQL): a copy of an event, a
command ack or a config report that reaches the second worker within the second (before the
first's save of its stream, so new to the second's tracker) is judged by both workers' rules,
stored once, and handed to one worker's listeners only: the one that claimed it when its batch was
stored (hub/ingest/message_identity.py). A worker killed before that claim leaves the copy to the
other; a single worker claims nothing."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from govedge.contract import (
    CommandAck,
    CommandAckData,
    ConfigReported,
    ConfigReportedData,
    Event,
    EventData,
    EventKind,
    Health,
    HealthData,
    Telemetry,
    encode,
)
from govedge.contract.topics import Channel, topic
from hub.app import acks_and_reports_writer
from hub.commands import CommandService
from hub.db import create_schema, events, make_engine, message_claims, streams
from hub.device_configs import ConfigService
from hub.ingest.message_identity import CLAIM_PRUNE_INTERVAL_S, CLAIM_RETENTION_S, Claims
from hub.ingest.pipeline import Accepted, Pipeline, Raw
from hub.metrics import HubMetrics
from hub.registry import Registry
from hub.releases.service import SENT, UPDATED, ReleaseService
from hub.releases.settings import ReleasesConfig
from hub.releases.setup import reports_writer
from hub.releases.tables import create_tables, device_releases
from hub.storage.sqlite_store import SQLiteTelemetryStore

_CHANNEL: dict[type[Any], Channel] = {
    Telemetry: Channel.TELEMETRY,
    Event: Channel.EVENT,
    Health: Channel.HEALTH,
    CommandAck: Channel.CMD_ACK,
    ConfigReported: Channel.CONFIG_REPORTED,
}


def _raw(msg: Any) -> Raw:
    return Raw(topic(msg.device_id, _CHANNEL[type(msg)]), encode(msg), time.time())


def _messages(device_id: str, boot_id: str = "b") -> list[Any]:
    """An event, a command ack and a config report (seqs 1, 2, 3), and a reading (seq 4)."""
    envelope: dict[str, Any] = {"device_id": device_id, "boot_id": boot_id, "ts": 1e9}
    return [
        Event(**envelope, seq=1, data=EventData(kind="update_succeeded", severity="info")),
        CommandAck(**envelope, seq=2, data=CommandAckData(id="cmd-1", ok=True)),
        ConfigReported(**envelope, seq=3, data=ConfigReportedData(version=4, ok=True)),
        Telemetry(**envelope, seq=4, data={"level": 1.0}),
    ]


class Heard:
    """What a pipeline's listeners and evaluators were handed."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.listened: list[Accepted] = []
        self.evaluated: list[Accepted] = []
        pipeline.listeners.append(self.listened.append)
        pipeline.evaluators.append(self.evaluated.append)

    @staticmethod
    def _seqs(batches: list[Accepted]) -> dict[str, list[int]]:
        return {
            "events": [m.seq for b in batches for m in b.events],
            "acks": [m.seq for b in batches for m in b.acks],
            "reports": [m.seq for b in batches for m in b.reports],
            "telemetry": [m.seq for b in batches for m in b.telemetry],
        }

    def listeners(self) -> dict[str, list[int]]:
        return self._seqs(self.listened)

    def evaluators(self) -> dict[str, list[int]]:
        return self._seqs(self.evaluated)


_ALL = {"events": [1], "acks": [2], "reports": [3], "telemetry": [4]}


def _worker(registry_url: str, tmp_path: Path, shared: bool = True) -> Pipeline:
    """A worker's pipeline: an engine of its own (another process's), the one telemetry store."""
    engine = make_engine(registry_url)
    create_schema(engine)
    store = SQLiteTelemetryStore(str(tmp_path / "t.db"))
    return Pipeline(Registry(engine), store, HubMetrics(), shared=shared)


def _claimed(pipeline: Pipeline, device_id: str) -> list[int]:
    with pipeline.registry.engine.connect() as conn:
        claims = conn.execute(
            sa.select(message_claims.c.seq).where(message_claims.c.device_id == device_id)
        )
        return sorted(claims.scalars())


def _close(*pipelines: Pipeline) -> None:
    for p in pipelines:
        p.store.close()
        p.registry.engine.dispose()


def _save(pipeline: Pipeline) -> None:
    pipeline._streams_saved = 0.0  # due
    pipeline._save_streams_due()


def _stored_events(pipeline: Pipeline, device_id: str) -> list[tuple[Any, ...]]:
    with pipeline.registry.engine.connect() as conn:
        query = sa.select(events.c.boot_id, events.c.seq).where(events.c.device_id == device_id)
        return [tuple(r) for r in conn.execute(query)]


def test_a_fresh_batch_is_handed_out_whole(registry_url: str, tmp_path: Path) -> None:
    pipeline = _worker(registry_url, tmp_path)
    heard = Heard(pipeline)
    device_id = f"fresh-{uuid.uuid4().hex[:6]}"
    pipeline.registry.register(device_id)
    out = pipeline.process([_raw(m) for m in _messages(device_id)])
    assert heard.listeners() == heard.evaluators() == Heard._seqs([out]) == _ALL
    assert pipeline.accepted_total == 4
    assert pipeline.tracker.duplicates == 0
    assert _stored_events(pipeline, device_id) == [("b", 1)]
    _close(pipeline)


def test_a_copy_at_a_second_worker_within_the_second_reaches_one_workers_listeners(
    registry_url: str, tmp_path: Path
) -> None:
    one, two = _worker(registry_url, tmp_path), _worker(registry_url, tmp_path)
    heard_one, heard_two = Heard(one), Heard(two)
    device_id = f"claim-{uuid.uuid4().hex[:6]}"
    one.registry.register(device_id)
    messages = _messages(device_id)
    one.process([_raw(m) for m in messages])
    two.process([_raw(m) for m in messages])  # no save in between: all new to two's tracker
    # Both workers' rules judge every copy (their shared state takes it once); the listeners
    # of the worker that claimed the event, ack and report first act on them, the other's get
    # the reading only (not claimed: no listener acts on it but to count it).
    assert heard_one.evaluators() == heard_two.evaluators() == _ALL
    assert heard_one.listeners() == _ALL
    assert heard_two.listeners() == {"events": [], "acks": [], "reports": [], "telemetry": [4]}
    # What two lost at its claim: its duplicates, not ingested.
    assert (one.tracker.duplicates, two.tracker.duplicates) == (0, 3)
    assert (one.accepted_total, two.accepted_total) == (4, 1)
    assert two.metrics.duplicates._value.get() == 3
    assert _stored_events(one, device_id) == [("b", 1)]
    assert _claimed(one, device_id) == [1, 2, 3]

    # The stream's record counts each copy once: both workers' deltas hold seqs 1 to 4.
    _save(one)
    _save(two)
    with one.registry.engine.connect() as conn:
        r = conn.execute(sa.select(streams).where(streams.c.device_id == device_id)).one()
    assert (r.min_seq, r.max_seq, r.received, r.gaps, r.duplicates) == (1, 4, 4, 0, 4)

    # Later copies are the trackers' repeats, as before: handed to no one.
    one.process([_raw(m) for m in messages])
    assert heard_one.listeners() == heard_one.evaluators() == _ALL
    _close(one, two)


def test_a_worker_killed_after_deciding_leaves_the_copy_to_the_other(
    registry_url: str, tmp_path: Path
) -> None:
    """Worker one decides the batch (its rules judge it, its events are stored) and is killed
    before finishing it (no claim, no PUBACK): the broker's redelivery at worker two is acted
    on there, stored once."""
    one, two = _worker(registry_url, tmp_path), _worker(registry_url, tmp_path)
    heard_one, heard_two = Heard(one), Heard(two)
    device_id = f"killed-{uuid.uuid4().hex[:6]}"
    one.registry.register(device_id)
    messages = _messages(device_id)
    decided = one.decide([_raw(m) for m in messages])
    one.store_telemetry(decided)
    del decided  # killed here: finish never runs
    assert heard_one.evaluators() == _ALL
    assert heard_one.listeners() == {"events": [], "acks": [], "reports": [], "telemetry": []}
    assert _claimed(one, device_id) == []

    two.process([_raw(m) for m in messages])  # the redelivery, at the other worker
    assert heard_two.listeners() == heard_two.evaluators() == _ALL
    assert (two.tracker.duplicates, two.accepted_total) == (0, 4)
    assert _stored_events(two, device_id) == [("b", 1)]
    assert _claimed(two, device_id) == [1, 2, 3]
    _close(one, two)


def _with_commands_and_configs(pipeline: Pipeline) -> tuple[CommandService, ConfigService]:
    """The hub's command and config services on the pipeline's database, their acks and
    reports written with each batch as the hub wires them."""
    engine = pipeline.registry.engine
    commands = CommandService(engine, lambda t, p: True, pipeline.metrics, "govedge", "h", int)
    configs = ConfigService(engine, lambda t, p, r: True, "govedge", "h", int)
    pipeline.writers.append(acks_and_reports_writer(commands, configs, pipeline.registry))
    return commands, configs


def test_an_ack_and_a_report_are_written_with_their_batch_so_no_kill_loses_them(
    registry_url: str, tmp_path: Path
) -> None:
    """Worker one stores the batch and claims its ack and report, and is killed before its
    listeners run (no PUBACK): the broker's redelivery at worker two loses the claim, so what
    the ack and the report change must already be written. Left to the listeners, the command
    stayed 'sent' until it expired and the config 'pending'."""
    one, two = _worker(registry_url, tmp_path), _worker(registry_url, tmp_path)
    commands, configs = _with_commands_and_configs(one)
    _with_commands_and_configs(two)
    device_id = f"acked-{uuid.uuid4().hex[:6]}"
    one.registry.register(device_id)
    command = commands.create([device_id], "reboot", {}, 600)["commands"][0]
    version = configs.set_desired([device_id], {"interval_s": 5})
    envelope: dict[str, Any] = {"device_id": device_id, "boot_id": "b", "ts": 1e9}
    batch = [
        _raw(CommandAck(**envelope, seq=1, data=CommandAckData(id=command, ok=True))),
        _raw(ConfigReported(**envelope, seq=2, data=ConfigReportedData(version=version, ok=True))),
    ]
    decided = one.decide(batch)
    one.store_telemetry(decided)
    with one._lock:
        one._claim(decided)  # killed here, before the listeners
    assert _claimed(one, device_id) == [1, 2]

    two.process(batch)  # the redelivery, at the other worker: its claim is lost
    assert two.tracker.duplicates == 2
    assert commands.get(command)["state"] == "acknowledged"
    assert configs.get(device_id)["state"] == "applied"
    assert one.registry.get(device_id).config_version == version
    _close(one, two)


def test_an_update_outcome_is_written_with_its_batch_so_no_kill_loses_it(
    registry_url: str, tmp_path: Path
) -> None:
    """As the ack above: a device's update_succeeded, claimed by a worker killed before its
    listeners, must already have moved the device's row of the release rollout. Left to the
    listeners, the row stayed 'sent' and the rollout failed the device after its report
    timeout."""
    one, two = _worker(registry_url, tmp_path), _worker(registry_url, tmp_path)
    engine = one.registry.engine
    create_tables(engine)
    for worker in (one, two):
        commands = CommandService(engine, lambda t, p: True, worker.metrics, "govedge", "h", int)
        service = ReleaseService(engine, worker.registry, commands, ReleasesConfig())
        worker.writers.append(reports_writer(service))
    device_id = f"updated-{uuid.uuid4().hex[:6]}"
    one.registry.register(device_id)
    row = {"rollout_id": "r1", "device_id": device_id, "version": "2.1.0", "state": SENT}
    with engine.begin() as conn:
        conn.execute(device_releases.insert().values(**row, updated=time.time()))
    data = EventData(
        kind=EventKind.UPDATE_SUCCEEDED, severity="info", message="", attrs={"version": "2.1.0"}
    )
    batch = [_raw(Event(device_id=device_id, boot_id="b", ts=1e9, seq=1, data=data))]
    decided = one.decide(batch)
    one.store_telemetry(decided)
    with one._lock:
        one._claim(decided)  # killed here, before the listeners
    two.process(batch)  # the redelivery: its claim is lost
    assert two.tracker.duplicates == 1
    with engine.connect() as conn:
        state = conn.execute(
            sa.select(device_releases.c.state).where(device_releases.c.device_id == device_id)
        ).scalar_one()
    assert state == UPDATED
    _close(one, two)


def test_the_claim_is_taken_in_one_statement_and_a_telemetry_batch_takes_none(
    registry_url: str, tmp_path: Path
) -> None:
    pipeline = _worker(registry_url, tmp_path)
    device_id = f"cost-{uuid.uuid4().hex[:6]}"
    pipeline.registry.register(device_id)
    statements = _Statements(pipeline)
    envelope: dict[str, Any] = {"device_id": device_id, "boot_id": "b", "ts": 1e9}
    pipeline.process([_raw(Telemetry(**envelope, seq=s, data={"v": 1.0})) for s in (1, 2, 3)])
    assert statements.matching("events") == statements.matching("message_claims") == []

    statements.clear()
    pipeline.process([_raw(m) for m in _messages(device_id, "b2")])
    assert len(statements.matching("insert into events")) == 1
    assert len(statements.matching("message_claims")) <= 2  # with at most a prune
    assert len(statements.matching("insert into message_claims")) == 1
    statements.remove()
    _close(pipeline)


def test_a_single_worker_claims_nothing(registry_url: str, tmp_path: Path) -> None:
    pipeline = _worker(registry_url, tmp_path, shared=False)
    heard = Heard(pipeline)
    device_id = f"single-{uuid.uuid4().hex[:6]}"
    pipeline.registry.register(device_id)
    statements = _Statements(pipeline)
    pipeline.process([_raw(m) for m in _messages(device_id)])
    assert heard.listeners() == heard.evaluators() == _ALL
    assert len(statements.matching("insert into events")) == 1
    assert statements.matching("message_claims") == []
    statements.remove()
    assert _claimed(pipeline, device_id) == []
    _close(pipeline)


class _Statements:
    """The SQL statements a pipeline's registry engine runs, lower case, spaces squeezed."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.engine = pipeline.registry.engine
        self.seen: list[str] = []
        sa.event.listen(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        self.seen.append(" ".join(sql.split()).lower())

    def matching(self, text: str) -> list[str]:
        return [
            s for s in self.seen if (s.startswith(text) if text.startswith("insert") else text in s)
        ]

    def clear(self) -> None:
        self.seen.clear()

    def remove(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._seen)


def test_a_batch_decided_again_after_a_registry_failure_is_claimed_once_stored(
    registry_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The events are committed before the health write fails, nothing is claimed: the batch,
    decided again (the MQTT link retries in place), is claimed when stored and acted on by this
    worker; a copy at another worker afterwards is not."""
    one, two = _worker(registry_url, tmp_path), _worker(registry_url, tmp_path)
    heard_one, heard_two = Heard(one), Heard(two)
    device_id = f"retry-{uuid.uuid4().hex[:6]}"
    one.registry.register(device_id)
    health = Health(
        device_id=device_id,
        boot_id="b",
        seq=5,
        ts=1e9,
        data=HealthData(uptime_s=1.0, drivers={}, counters={}),
    )
    batch = [_raw(m) for m in _messages(device_id)] + [_raw(health)]
    failures = [RuntimeError("registry down")]
    set_health = one.registry.set_health

    def failing(*args: Any, **kw: Any) -> None:
        if failures:
            raise failures.pop()
        set_health(*args, **kw)

    monkeypatch.setattr(one.registry, "set_health", failing)
    with pytest.raises(RuntimeError):
        one.process(batch)
    assert heard_one.evaluators()["events"] == []  # the failed decide ran no rule
    assert _claimed(one, device_id) == []  # nor claimed anything
    one.process(batch)
    assert heard_one.listeners() == heard_one.evaluators() == _ALL
    assert one.tracker.duplicates == 0
    two.process(batch)
    assert heard_two.listeners()["events"] == heard_two.listeners()["acks"] == []
    assert heard_two.evaluators()["events"] == [1]  # its rules judge the copy all the same
    assert _stored_events(one, device_id) == [("b", 1)]
    _close(one, two)


def test_claims_older_than_a_day_are_deleted_as_new_ones_are_made(
    registry_url: str, tmp_path: Path
) -> None:
    engine = make_engine(registry_url)
    create_schema(engine)
    claims = Claims()
    device_id = f"old-{uuid.uuid4().hex[:6]}"
    start = 1_000_000.0
    with engine.begin() as conn:
        assert claims.claim(conn, [(device_id, "b", 1), (device_id, "b", 2)], now=start) == {
            (device_id, "b", 1),
            (device_id, "b", 2),
        }
    with engine.begin() as conn:  # a copy, the next minute: not claimed again
        assert claims.claim(conn, [(device_id, "b", 2), (device_id, "b", 3)], now=start + 60) == {
            (device_id, "b", 3)
        }
    later = start + CLAIM_RETENTION_S + CLAIM_PRUNE_INTERVAL_S
    with engine.begin() as conn:
        claims.claim(conn, [(device_id, "b", 4)], now=later)
    with engine.connect() as conn:
        left = conn.execute(
            sa.select(message_claims.c.seq).where(message_claims.c.device_id == device_id)
        )
        assert sorted(left.scalars()) == [4]
    engine.dispose()
