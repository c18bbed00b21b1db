"""Every metric the hub declares moves when the thing it counts happens.

The test does not list the metrics: it reads every family from the hub's registry, so a metric
declared later and never set fails here until something makes it move.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from govedge.contract import Channel, Telemetry, encode, topic

NEVER_ZERO_AFTER_TRAFFIC_EXCEPT: dict[str, str] = {
    # Gauges of what waits right now: zero whenever the hub keeps up, as it does in the first
    # test. The second test stalls the store and sees each of them move.
    "govedge_hub_queue_depth": "test_waiting_gauges_move_while_the_store_is_stalled",
    "govedge_hub_lane_inbox": "test_waiting_gauges_move_while_the_store_is_stalled",
    "govedge_hub_lane_unacked": "test_waiting_gauges_move_while_the_store_is_stalled",
    "govedge_hub_lane_paused_seconds": "test_waiting_gauges_move_while_the_store_is_stalled",
    # Counts failed stores: tests/hub/ingest/test_alarm_lane.py stops InfluxDB and sees it count.
    "govedge_hub_lane_store_failures": "test_alarms_arrive_while_influxdb_is_stopped",
    # Zero unless a release rollout halted: tests/edge_agent/test_update.py makes it move.
    "govedge_hub_release_rollouts_halted": "test_a_staged_rollout_halts_at_its_health_gate",
}


def _families(text: str) -> dict[str, float]:
    """Family name -> the largest sample value (counters and histograms: _total, _count)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created"):
            continue  # prometheus_client's creation timestamps, not metrics of ours
        values = [s.value for s in family.samples if not s.name.endswith(("_created", "_bucket"))]
        out[family.name] = max(values) if values else 0.0
    return out


async def test_every_declared_hub_metric_moves(hub_config, start_hub, device_factory) -> None:
    rh = await start_hub(hub_config(broker_backlog_messages=100_000, broker_backlog_bytes=10**8))
    initial = _families(await _metrics(rh))
    declared = {name for name in initial if name.startswith("govedge_hub_")}
    assert len(declared) >= 10
    dev = device_factory()
    # a model the default rules watch: its telemetry joins the alarm lane
    status, body = await rh.call(
        "POST", "/api/v1/devices", json={"id": dev.device_id, "model": "water-level-cabinet"}
    )
    assert status == 201, body
    dev.status(True)  # online
    dev.telemetry(temperature=21.5)  # ingested, points written, write latency
    dev.telemetry(seq=dev.seq, temperature=21.5)  # the same seq again: a duplicate
    dev.seq += 3
    dev.telemetry(temperature=22.0)  # three seqs skipped: gaps
    dev.client.publish(topic(dev.device_id, Channel.TELEMETRY), b"{not json", qos=1)  # rejected
    forged = Telemetry(device_id="someone-else", boot_id="b", seq=1, ts=time.time(), data={"x": 1})
    dev.client.publish(topic(dev.device_id, Channel.TELEMETRY), encode(forged), qos=1)
    status, created = await rh.call(
        "POST",
        "/api/v1/commands",
        json={"name": "ping", "selector": {"ids": [dev.device_id]}, "ttl_s": 30},
    )
    assert status == 201, created

    async def all_moved() -> dict[str, float] | None:
        values = _families(await _metrics(rh))
        still = [n for n in declared if not _moved(n, initial, values)]
        return None if still else values

    try:
        values = await rh.wait_for(all_moved, timeout=15)
    except AssertionError:
        values = _families(await _metrics(rh))
        still = sorted(n for n in declared if not _moved(n, initial, values))
        raise AssertionError(f"declared but never moved: {still}") from None
    assert values["govedge_hub_devices_online"] == 1
    assert (await rh.get("/api/v1/health"))["online"] == 1  # the gauge and the API agree


def _moved(name: str, initial: dict[str, float], now: dict[str, float]) -> bool:
    if name in NEVER_ZERO_AFTER_TRAFFIC_EXCEPT:
        return True
    return now.get(name, 0.0) != initial.get(name, 0.0) or now.get(name, 0.0) > 0


async def _metrics(rh: Any) -> str:
    async with rh.session.get(rh.url + "/metrics", headers=rh.headers()) as resp:
        assert resp.status == 200
        return await resp.text()


async def test_devices_online_follows_births_and_wills(
    hub_config, start_hub, device_factory
) -> None:
    rh = await start_hub(hub_config())
    devs = [device_factory() for _ in range(3)]
    for dev in devs:
        status, _ = await rh.call("POST", "/api/v1/devices", json={"id": dev.device_id})
        assert status == 201
        dev.status(True)

    async def online(n: int) -> bool:
        return _families(await _metrics(rh)).get("govedge_hub_devices_online") == n

    await rh.wait_for(lambda: online(3))
    devs[0].status(False)
    await rh.wait_for(lambda: online(2))
    await asyncio.sleep(0)


async def test_waiting_gauges_move_while_the_store_is_stalled(
    hub_config, start_hub, device_factory, tmp_path
) -> None:
    """With the telemetry store's write lock held by another connection (a stuck writer),
    readings wait: in the bulk lane's inbox, unacknowledged, and, once the inbox is full, in the
    broker while the network thread pauses. Each of those gauges shows it."""
    import sqlite3

    import hub.app

    monkeypatch_modules = hub.app.EXTENSION_MODULES
    hub.app.EXTENSION_MODULES = ()  # no rules: every reading takes the bulk lane
    try:
        rh = await start_hub(hub_config(ingest_queue=10, ingest_batch=5))
    finally:
        hub.app.EXTENSION_MODULES = monkeypatch_modules
    dev = device_factory()
    status, _ = await rh.call("POST", "/api/v1/devices", json={"id": dev.device_id})
    assert status == 201
    db = str(tmp_path / "telemetry.db")
    locks = []
    for path in (db, db + ".stage0", db + ".stage1"):
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN IMMEDIATE")
        locks.append(conn)
    try:
        for _ in range(60):
            await asyncio.to_thread(dev.telemetry, temperature=20.0)

        async def waiting() -> dict[str, float] | None:
            text = await _metrics(rh)
            values = {
                s.name + str(sorted(s.labels.items())): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }
            want = {
                "govedge_hub_queue_depth[]": 1,
                "govedge_hub_lane_inbox[('lane', 'bulk')]": 1,
                "govedge_hub_lane_unacked[('lane', 'bulk')]": 1,
                "govedge_hub_lane_paused_seconds[('lane', 'bulk')]": 0.001,
            }
            seen.update({k: values.get(k, 0.0) for k in want})
            return values if all(values.get(k, 0) >= v for k, v in want.items()) else None

        seen: dict[str, float] = {}
        try:
            await rh.wait_for(waiting, timeout=15)
        except AssertionError:
            raise AssertionError(f"while the store is stalled: {seen}") from None
    finally:
        for conn in locks:
            conn.execute("ROLLBACK")
            conn.close()
