"""The contract's max_rate_per_device_hz, enforced by the hub: a device at 100x its rate is
shed and counted; 100 devices at the rate beside it lose nothing; a replayed backlog is not shed."""

from __future__ import annotations

import time
from pathlib import Path

from govedge.contract import DEFAULT_LIMITS, Telemetry, encode
from govedge.contract.topics import Channel, topic
from hub.db import create_schema, make_engine
from hub.ingest.pipeline import Pipeline, Raw
from hub.ingest.ratelimit import RATE_BURST_S, RateGate
from hub.metrics import HubMetrics
from hub.registry import Registry
from hub.storage.sqlite_store import SQLiteTelemetryStore

RATE = DEFAULT_LIMITS.max_rate_per_device_hz
SECONDS = 4  # of device time


def _raw(device_id: str, seq: int, ts: float) -> Raw:
    msg = Telemetry(device_id=device_id, boot_id="b", seq=seq, ts=ts, data={"v": float(seq)})
    return Raw(topic(device_id, Channel.TELEMETRY), encode(msg), time.time())


def test_a_flooding_device_is_shed_and_the_others_lose_nothing(
    registry_url: str, tmp_path: Path
) -> None:
    engine = make_engine(registry_url)
    create_schema(engine)
    store = SQLiteTelemetryStore(str(tmp_path / "telemetry.db"))
    pipeline = Pipeline(Registry(engine), store, HubMetrics())
    normal = [f"rate-{i:03d}" for i in range(100)]
    pipeline.registry.register_many({"id": d} for d in [*normal, "flood"])
    start = 1.8e9
    kept: dict[str, int] = {}
    sent: dict[str, int] = {}
    flood_seq = 0
    # Device time advances 20 ms a step: each normal device sends one message (50 Hz, its
    # contract rate), the flooding one 100 (5 000 Hz, 100x), interleaved in the same batches.
    for step in range(int(SECONDS * RATE)):
        ts = start + step / RATE
        batch = [_raw(d, step + 1, ts) for d in normal]
        for k in range(100):
            flood_seq += 1
            batch.insert(k, _raw("flood", flood_seq, ts + k / (100 * RATE)))
        for d in normal:
            sent[d] = sent.get(d, 0) + 1
        out = pipeline.process(batch)
        for msg in out.telemetry:
            kept[msg.device_id] = kept.get(msg.device_id, 0) + 1
    store.close()
    assert all(kept.get(d) == sent[d] for d in normal)  # nothing of the others is lost
    allowed = RATE * RATE_BURST_S + RATE * SECONDS  # its burst, then its rate
    assert allowed - 2 <= kept["flood"] <= allowed + 1
    assert pipeline.rate_gate.shed == {"flood": flood_seq - kept["flood"]}
    assert pipeline.rejected["rate_exceeded"] == flood_seq - kept["flood"]


def test_a_backlog_replayed_fast_is_not_shed() -> None:
    """Messages produced at the rate but delivered at once (after an outage) all pass."""
    gate = RateGate(RATE)
    produced = [1.8e9 + i / RATE for i in range(int(RATE * 600))]  # 10 minutes at 50 Hz
    assert all(gate.allow("d", ts) for ts in produced)
    # The same count stamped within one second is a flood: all but the burst are shed.
    flood = RateGate(RATE)
    kept = sum(flood.allow("d", 1.8e9 + i / len(produced)) for i in range(len(produced)))
    assert kept <= RATE * RATE_BURST_S + RATE + 1
    assert flood.shed["d"] == len(produced) - kept
