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
    # A gauge of what waits right now: zero whenever the hub keeps up, which it does here.
    "govedge_hub_queue_depth": "set on every batch; idle between batches",
    # Zero unless a release rollout halted (tests/edge_agent/test_update.py makes it move).
    "govedge_hub_release_rollouts_halted": "a halted rollout sets it",
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
    declared = {name for name in _families(await _metrics(rh)) if name.startswith("govedge_hub_")}
    assert len(declared) >= 10
    dev = device_factory()
    status, body = await rh.call("POST", "/api/v1/devices", json={"id": dev.device_id})
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
        still = [
            n
            for n in declared
            if values.get(n, 0.0) <= 0 and n not in NEVER_ZERO_AFTER_TRAFFIC_EXCEPT
        ]
        return None if still else values

    try:
        values = await rh.wait_for(all_moved, timeout=15)
    except AssertionError:
        values = _families(await _metrics(rh))
        still = sorted(n for n in declared if values.get(n, 0.0) <= 0)
        raise AssertionError(f"declared but never moved: {still}") from None
    assert values["govedge_hub_devices_online"] == 1
    assert (await rh.get("/api/v1/health"))["online"] == 1  # the gauge and the API agree


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
