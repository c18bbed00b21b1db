"""Ingestion through a real Mosquitto: storage, refusals, duplicates, the API on top."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import time
import uuid

import pytest

from govedge.contract import Channel, Telemetry, encode, topic


async def _register(rh, *ids: str, **desc: object) -> None:
    for device_id in ids:
        status, body = await rh.call("POST", "/api/v1/devices", json={"id": device_id, **desc})
        assert status == 201, body


async def _points(rh, device_id: str) -> list[dict]:
    body = await rh.get(f"/api/v1/devices/{device_id}/telemetry", start="-1h", limit="100000")
    return body["items"]


async def test_telemetry_reaches_the_api(hub_config, start_hub, device_factory) -> None:
    rh = await start_hub(hub_config())
    dev = device_factory()
    await _register(
        rh, dev.device_id, model="sht20", site="hall-1", location={"lat": 39.9, "lon": 116.4}
    )
    for _ in range(10):
        dev.telemetry(temperature=21.5, humidity=40.0)
    points = await rh.wait_for(lambda: _enough(rh, dev.device_id, 20))
    assert {p["metric"] for p in points} == {"temperature", "humidity"}
    devices = await rh.get("/api/v1/devices")
    listed = {d["id"]: d for d in devices["items"]}
    assert listed[dev.device_id]["site"] == "hall-1"
    assert listed[dev.device_id]["location"] == {"lat": 39.9, "lon": 116.4}
    agg = await rh.get(
        f"/api/v1/devices/{dev.device_id}/telemetry",
        metric="temperature",
        agg="mean",
        every="3600",
        start="-1h",
    )
    assert agg["items"] and agg["items"][-1]["value"] == pytest.approx(21.5)
    latest = await rh.get(f"/api/v1/devices/{dev.device_id}/telemetry/latest")
    assert latest["metrics"]["humidity"]["value"] == 40.0


async def _enough(rh, device_id: str, n: int) -> list[dict] | None:
    points = await _points(rh, device_id)
    return points if len(points) >= n else None


async def test_malformed_payload_is_counted_logged_and_harmless(
    hub_config, start_hub, device_factory, mqtt_broker, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="govedge.hub.ingest")
    rh = await start_hub(hub_config())
    dev = device_factory()
    await _register(rh, dev.device_id)
    dev.telemetry(temperature=1.0)
    await asyncio.to_thread(
        subprocess.run,
        [
            "mosquitto_pub",
            "-h",
            mqtt_broker.host,
            "-p",
            str(mqtt_broker.port),
            "-q",
            "1",
            "-t",
            topic(dev.device_id, Channel.TELEMETRY),
            "-m",
            '{"v":1,"type":"telemetry",',
        ],
        check=True,
        timeout=10,
    )
    dev.telemetry(temperature=2.0)
    points = await rh.wait_for(lambda: _enough(rh, dev.device_id, 2))
    assert sorted(p["value"] for p in points) == [1.0, 2.0]
    health = await rh.get("/api/v1/health")
    assert health["ingest"]["rejected"].get("malformed_json") == 1
    assert any(
        r.getMessage() == "message_rejected"
        and getattr(r, "govedge_fields", {}).get("reason") == "malformed_json"
        for r in caplog.records
    )
    metrics = await rh.session.get(rh.url + "/metrics")
    assert 'govedge_hub_rejected_total{reason="malformed_json"} 1.0' in await metrics.text()


async def test_duplicate_is_stored_once(hub_config, start_hub, device_factory) -> None:
    rh = await start_hub(hub_config())
    dev = device_factory()
    await _register(rh, dev.device_id)
    dev.telemetry(seq=1, temperature=5.0)
    dev.telemetry(seq=1, temperature=5.0)
    dev.telemetry(seq=2, temperature=6.0)
    await rh.wait_for(lambda: rh.hub.pipeline.tracker.duplicates >= 1)
    points = await rh.wait_for(lambda: _enough(rh, dev.device_id, 2))
    assert [p["value"] for p in points] == [5.0, 6.0]
    dev.telemetry(seq=5, temperature=7.0)
    health = await rh.wait_for(lambda: _gaps(rh))
    assert health["ingest"]["gaps"] == 2
    assert health["ingest"]["duplicates"] == 1


async def _gaps(rh):
    health = await rh.get("/api/v1/health")
    return health if health["ingest"]["gaps"] else None


async def test_forged_and_unknown_devices_are_refused(
    hub_config, start_hub, device_factory
) -> None:
    rh = await start_hub(hub_config())
    dev = device_factory()
    victim = f"victim-{uuid.uuid4().hex[:6]}"
    await _register(rh, dev.device_id, victim)
    forged = Telemetry(device_id=victim, boot_id="b", seq=1, ts=time.time(), data={"t": 99.0})
    dev.client.publish(
        topic(dev.device_id, Channel.TELEMETRY), encode(forged), qos=1
    ).wait_for_publish(5)
    stranger = device_factory()
    stranger.telemetry(temperature=1.0)
    dev.telemetry(temperature=3.0)
    await rh.wait_for(lambda: _enough(rh, dev.device_id, 1))
    await rh.wait_for(lambda: rh.hub.pipeline.rejected.get("unknown_device"))
    assert rh.hub.pipeline.rejected.get("device_mismatch") == 1
    assert await _points(rh, victim) == []


async def test_burst_is_held_without_loss(hub_config, start_hub, device_factory) -> None:
    # Inboxes of 200 (one per lane) and batches of 50 against a burst of 20 000: back-pressure,
    # not drops.
    rh = await start_hub(hub_config(ingest_queue=200, ingest_batch=50))
    devs = [device_factory() for _ in range(4)]
    await _register(rh, *(d.device_id for d in devs))
    n = 5000
    for d in devs:
        for i in range(1, n + 1):
            d.client.publish(
                topic(d.device_id, Channel.TELEMETRY),
                encode(
                    Telemetry(
                        device_id=d.device_id,
                        boot_id=d.boot_id,
                        seq=i,
                        ts=1e9 + i,
                        data={"x": float(i)},
                    )
                ),
                qos=1,
            )
    max_depth = 0

    def done() -> bool:
        nonlocal max_depth
        max_depth = max(max_depth, *(len(s.inbox) for s in rh.hub.link.sessions))
        return rh.hub.pipeline.accepted_total >= 4 * n

    await rh.wait_for(done, timeout=60)
    assert max_depth <= 200
    for d in devs:
        body = await rh.get(
            f"/api/v1/devices/{d.device_id}/telemetry", start="0", end="2e9", limit="100000"
        )
        assert [p["value"] for p in body["items"]] == [float(i) for i in range(1, n + 1)]
    assert rh.hub.pipeline.tracker.duplicates == 0
    assert rh.hub.pipeline.tracker.total_gaps() == 0


async def test_payload_with_wrong_json_shape_is_refused(
    hub_config, start_hub, device_factory
) -> None:
    rh = await start_hub(hub_config())
    dev = device_factory()
    await _register(rh, dev.device_id)
    dev.client.publish(
        topic(dev.device_id, Channel.TELEMETRY), json.dumps([1, 2]), qos=1
    ).wait_for_publish(5)
    dev.client.publish(
        topic(dev.device_id, Channel.TELEMETRY), b"x" * 70_000, qos=1
    ).wait_for_publish(5)
    dev.telemetry(temperature=4.0)
    await rh.wait_for(lambda: _enough(rh, dev.device_id, 1))
    await rh.wait_for(lambda: rh.hub.pipeline.rejected.get("oversized"))
    assert rh.hub.pipeline.rejected.get("schema") == 1
