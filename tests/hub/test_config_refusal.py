"""A config that any device would refuse is refused by the hub's API, and no device receives it.

The hub checks configs against the JSON Schema generated from the drivers' specs
(firmware_configs/runtime-config.schema.json); these tests go through the real API, the real
broker and a real subscriber on the devices' config/desired topics.
"""

from __future__ import annotations

import asyncio
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from govedge.contract import Channel, decode, subscription

SENSOR = {"name": "climate", "kind": "modbus", "url": "/dev/ttyUSB0?baudrate=9600"}


def _listen(mqtt_broker, device_id: str) -> tuple[mqtt.Client, list]:
    got: list = []
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: got.append(decode(m.payload))
    client.connect(mqtt_broker.host, mqtt_broker.port)
    client.subscribe(subscription(Channel.CONFIG_DESIRED, device_id=device_id), qos=1)
    client.loop_start()
    return client, got


@pytest.mark.parametrize(
    ("options", "path", "reason"),
    [
        ({"profile": "sht20", "timeout": "soon"}, "$.config.drivers[0].options.timeout", "type"),
        ({"profile": "sht20", "unit": 248}, "$.config.drivers[0].options.unit", "maximum"),
        ({"profile": "sht20", "colour": "red"}, "$.config.drivers[0].options", "'colour'"),
    ],
    ids=["wrong-type", "out-of-range", "unknown-option"],
)
async def test_rollout_of_a_config_devices_would_refuse_is_refused(
    hub_config, start_hub, device_factory, mqtt_broker, options, path, reason
) -> None:
    rh = await start_hub(hub_config())
    site = f"site-{uuid.uuid4().hex[:6]}"
    devs = [device_factory() for _ in range(2)]
    for dev in devs:
        desc = {"id": dev.device_id, "site": site}
        status, body = await rh.call("POST", "/api/v1/devices", json=desc)
        assert status == 201, body
    listeners = [_listen(mqtt_broker, d.device_id) for d in devs]
    try:
        bad = {"drivers": [dict(SENSOR, options=options)]}
        status, body = await rh.call(
            "POST", "/api/v1/rollouts", json={"selector": {"site": site}, "config": bad}
        )
        assert status == 400, body
        assert body["path"] == path, body
        assert reason in body["error"] and path.removeprefix("$.config") in body["error"], body
        status, body = await rh.call(
            "PUT", f"/api/v1/devices/{devs[0].device_id}/config", json={"config": bad}
        )
        assert status == 400 and body["path"] == path, body
        # A good config through the same route reaches the devices, so the silence is the hub's.
        good = {"drivers": [dict(SENSOR, options={"profile": "sht20", "unit": 2})]}
        status, ro = await rh.call(
            "POST",
            "/api/v1/rollouts",
            json={"selector": {"site": site}, "config": good, "steps": [100]},
        )
        assert status == 201, ro
        await rh.wait_for(lambda: all(got for _, got in listeners))
        await asyncio.sleep(0.3)
        for _, got in listeners:
            assert [m.data.version for m in got] == [ro["version"]]
            assert got[0].data.config == good
    finally:
        for client, _ in listeners:
            client.loop_stop()
            client.disconnect()
