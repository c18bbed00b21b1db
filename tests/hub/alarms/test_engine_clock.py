"""A tick that waited for the engine's lock must not judge with the time it read before waiting.

``AlarmEngine.tick`` reads the clock once, then reloads the rules and reads each rule's scope
from the database, and only then takes the lock, rule by rule. A reading evaluated meanwhile
(on an ingest lane, with the later time) may raise a sustained alarm; the tick then judges the
same state with its earlier time, finds the level not yet sustained and clears the alarm, and the
next reading raises it again. The differential test of several workers
(tests/hub/test_workers_alarms.py) saw this with one worker: ``raised minor, cleared minor,
raised minor`` within 0.3 s, and ``escalated major, updated minor, escalated major``, on a loaded
machine. Here the lock is held by the test while the tick waits, so the order is certain.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from govedge.contract import Telemetry
from hub.alarms.engine import AlarmEngine
from hub.alarms.store import AlarmStore
from hub.db import create_schema, make_engine
from hub.ingest.pipeline import Accepted
from hub.registry import Registry

FOR_S = 1.0


@pytest.fixture
def alarms(registry_url: str) -> Iterator[tuple[AlarmEngine, AlarmStore]]:
    engine = make_engine(registry_url)
    create_schema(engine)
    registry = Registry(engine)
    registry.register("g1", model="gauge")
    store = AlarmStore(engine)
    levels = [{"severity": "major", "raise": 4.0, "clear": 3.9}]
    store.put_rule(
        "level", {"kind": "threshold", "metric": "m", "levels": levels, "for_s": FOR_S}, True
    )
    alarm_engine = AlarmEngine(store, registry)
    alarm_engine.reload()
    yield alarm_engine, store
    engine.dispose()


def test_a_tick_delayed_by_the_lock_does_not_clear_a_sustained_alarm(
    alarms: tuple[AlarmEngine, AlarmStore],
) -> None:
    engine, store = alarms
    boot = uuid.uuid4().hex

    def reading(seq: int) -> None:
        msg = Telemetry(device_id="g1", boot_id=boot, seq=seq, ts=time.time(), data={"m": 4.5})
        engine.on_batch(Accepted(telemetry=[msg]))

    reading(1)  # the level comes on now: sustained FOR_S from now
    came_on = time.monotonic()
    ticking = threading.Event()

    def tick() -> None:
        ticking.set()
        engine.tick()  # reads the clock, then waits for the lock the test holds

    with engine._lock:  # an ingest lane's batch holds it
        thread = threading.Thread(target=tick)
        thread.start()
        assert ticking.wait(10)
        time.sleep(max(0.0, came_on + FOR_S + 0.1 - time.monotonic()))
        reading(2)  # FOR_S later: the alarm is raised
        assert [e["kind"] for e in store.events_of("g1")] == ["raised"]
    thread.join(10)
    assert not thread.is_alive()
    # The level has been on for longer than FOR_S, and still is: nothing else happened.
    assert [e["kind"] for e in store.events_of("g1")] == ["raised"]
