"""The registry's presence: what a worker holds in memory against what the database says."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

import hub.registry
from hub.db import create_schema, make_engine
from hub.registry import Registry


def _registry(registry_url: str) -> Registry:
    engine = make_engine(registry_url)
    create_schema(engine)
    return Registry(engine)


def test_a_reload_read_before_a_birth_does_not_undo_it(registry_url: str) -> None:
    """The alarm lane applies births while the bulk lane reloads presence outside the ingest
    lock: rows read before a birth must not mark the device offline again."""
    registry = _registry(registry_url)
    registry.register_many({"id": d} for d in ("kiosk-1", "kiosk-2"))
    rows, started = registry._read_presence()  # the reload reads: nobody online yet
    assert registry.apply_status("kiosk-1", "boot-a", True, 60, time.time()) is True
    registry._apply_presence(rows, started, time.time())  # ...and applies what it read
    assert registry.online_count() == 1

    registry._refresh_presence(time.time())  # a later reload agrees with the database
    assert registry.online_count() == 1


def test_a_reload_read_before_a_will_does_not_bring_the_device_back(registry_url: str) -> None:
    registry = _registry(registry_url)
    registry.register("kiosk-1")
    registry.apply_status("kiosk-1", "boot-a", True, 60, time.time())
    rows, started = registry._read_presence()  # read while the kiosk is online
    assert registry.apply_status("kiosk-1", "boot-a", False, 60, time.time()) is False
    registry._apply_presence(rows, started, time.time())
    assert registry.online_count() == 0


def test_the_will_of_an_earlier_connection_taken_after_the_newer_birth_is_stale(
    registry_url: str,
) -> None:
    """Workers of a shared group take a device's messages in any order: the will of its first
    connection (stamped as that connection's birth) may be applied after the second birth, by
    another worker. It must not take the device offline; the second connection's will must."""
    first, second = _registry(registry_url), _registry(registry_url)
    first.register("gauge-7")
    assert first.apply_status("gauge-7", "boot-a", True, 60, 100.0) is True
    assert second.apply_status("gauge-7", "boot-a", True, 60, 101.5) is None  # reconnected
    assert first.apply_status("gauge-7", "boot-a", False, 60, 100.0) is None  # the first will
    assert second.get("gauge-7").online
    assert first.apply_status("gauge-7", "boot-a", True, 60, 100.0) is None  # a late copy
    assert first.apply_status("gauge-7", "boot-a", False, 60, 101.5) is False  # the second's
    assert not second.get("gauge-7").online
    reasons = [s["reason"] for s in second.history("gauge-7")]
    assert reasons == ["will", "birth"]


def test_a_reload_takes_what_other_workers_wrote(registry_url: str) -> None:
    first, second = _registry(registry_url), _registry(registry_url)
    first.register_many({"id": d} for d in ("gauge-1", "gauge-2"))
    second.apply_status("gauge-2", "boot-b", True, 30, time.time())
    first._refresh_presence(time.time())
    assert first.online_count() == 1


def test_a_device_another_worker_registered_is_known_at_once(registry_url: str) -> None:
    """Workers behind one proxy: a device registered through one worker's API is taken by the
    others from its next message (they loaded the registered ids at start). Only an id this
    worker found unregistered within the last second waits for that second (below)."""
    first, second = _registry(registry_url), _registry(registry_url)
    first.register("meter-9")
    assert second.is_known("meter-9")


def test_last_seen_only_moves_forward_whichever_worker_writes_it(registry_url: str) -> None:
    """Two workers each hear part of a device's traffic: the one that writes last may hold the
    older time, which must not pull last_seen back (and hasten a heartbeat timeout)."""
    first, second = _registry(registry_url), _registry(registry_url)
    first.register("gauge-1")  # keepalive 60 s until its birth says otherwise
    t0 = time.time()
    second.touch({"gauge-1": t0})
    first.touch({"gauge-1": t0 + 30})
    second.touch({"gauge-1": t0 + 10})  # an older message, taken later by the other worker
    assert first.get("gauge-1").last_seen == t0 + 30
    assert first.expire_silent(t0 + 30 + 60) == []  # 60 s after the newest: still online


def test_a_flood_from_an_unregistered_id_costs_one_lookup_a_second(
    registry_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Messages from an unregistered (or forged) id are rejected without a query each; a
    device another worker registers meanwhile is taken once the answer has expired."""
    first, second = _registry(registry_url), _registry(registry_url)
    queries: list[str] = []
    sa.event.listen(first.engine, "before_cursor_execute", lambda *args: queries.append(args[2]))
    assert not any(first.is_known("forged-1") for _ in range(500))
    assert len(queries) == 1
    second.register("forged-1")  # registered through another worker's API
    assert not first.is_known("forged-1")  # within the second: still taken as unknown
    monkeypatch.setattr(hub.registry, "UNKNOWN_TTL_S", 0.0)
    assert first.is_known("forged-1")
    assert len(queries) == 2


def test_a_devices_table_from_before_the_status_stamp_is_upgraded(registry_url: str) -> None:
    """A hub upgraded in place keeps its registry: the column is added, the rows kept, and the
    first birth of each device stamps it."""
    registry = _registry(registry_url)
    registry.register("kiosk-3")
    with registry.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE devices DROP COLUMN status_ts"))
    upgraded = _registry(registry_url)
    assert upgraded.apply_status("kiosk-3", "boot-a", True, 60, 10.0) is True
    assert upgraded.apply_status("kiosk-3", "boot-a", False, 60, 9.0) is None
    assert upgraded.apply_status("kiosk-3", "boot-a", False, 60, 10.0) is False
