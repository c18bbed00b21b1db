"""The InfluxDB store against a real influxd: batched v2 writes, InfluxQL reads, the hub on top."""

from __future__ import annotations

import time
import uuid

import pytest

from hub.storage.base import Point, open_store
from hub.storage.influx_store import InfluxTelemetryStore


@pytest.fixture
def store(influx) -> InfluxTelemetryStore:
    s = open_store(f"influxdb://{influx.forwarder_url.split('//')[1]}/govedge/autogen?org=-")
    assert isinstance(s, InfluxTelemetryStore)
    yield s
    s.close()


def _wait(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.1)


def test_write_query_aggregate_latest(store: InfluxTelemetryStore) -> None:
    dev = f"s-{uuid.uuid4().hex[:6]}"
    t0 = 1_699_999_980.0  # a multiple of 60: windows align to the epoch in every store
    points = [Point(dev, "temperature", t0 + i, 20.0 + i) for i in range(120)]
    points += [Point(dev, "humidity", t0 + i, 50.0) for i in range(0, 120, 10)]
    store.write(points)
    store.flush()
    raw = _wait(lambda: store.query(dev, "temperature", t0, t0 + 200, 1000))
    assert len(raw) == 120 and raw[0] == {"ts": t0, "metric": "temperature", "value": 20.0}
    both = store.query(dev, None, t0, t0 + 200, 10_000)
    assert {p["metric"] for p in both} == {"temperature", "humidity"}
    means = store.aggregate(dev, "temperature", t0, t0 + 120, 60, "mean")
    assert [m["value"] for m in means] == pytest.approx([20 + 29.5, 20 + 89.5], abs=1.0)
    assert store.aggregate(dev, "temperature", t0, t0 + 120, 60, "max")[-1]["value"] == 139.0
    latest = store.latest(dev)
    assert latest["temperature"]["value"] == 139.0 and latest["humidity"]["value"] == 50.0


def test_same_point_twice_is_stored_once(store: InfluxTelemetryStore) -> None:
    dev = f"s-{uuid.uuid4().hex[:6]}"
    store.write([Point(dev, "x", 1_700_000_000.0, 1.0)])
    store.write([Point(dev, "x", 1_700_000_000.0, 1.0)])
    store.flush()
    assert len(_wait(lambda: store.query(dev, "x", 0, 2e9, 10))) == 1


def test_whole_readings_become_one_line_per_message(store: InfluxTelemetryStore) -> None:
    dev = f"s-{uuid.uuid4().hex[:6]}"
    readings = [(dev, 1_700_000_000.0 + i, {"level": 1.5 + i, "battery.v": 3.6}) for i in range(3)]
    store.write_readings(readings)
    store.write_readings(readings[:1])
    store.flush()
    rows = _wait(
        lambda: (
            len(store.query(dev, None, 0, 2e9, 100)) == 6 and store.query(dev, None, 0, 2e9, 100)
        )
    )
    assert [r["value"] for r in rows if r["metric"] == "level"] == [1.5, 2.5, 3.5]
    assert store.latest(dev)["battery.v"]["value"] == 3.6


async def test_hub_ingests_into_influx(hub_config, start_hub, device_factory, influx) -> None:
    host = influx.forwarder_url.split("//")[1]
    rh = await start_hub(hub_config(telemetry_url=f"influxdb://{host}/govedge/autogen"))
    dev = device_factory()
    status, _ = await rh.call("POST", "/api/v1/devices", json={"id": dev.device_id})
    assert status == 201
    for i in range(20):
        dev.telemetry(temperature=float(i))

    async def stored():
        body = await rh.get(f"/api/v1/devices/{dev.device_id}/telemetry", start="-1h")
        return body["items"] if len(body["items"]) >= 20 else None

    items = await rh.wait_for(stored, timeout=15)
    assert sorted(p["value"] for p in items) == [float(i) for i in range(20)]
