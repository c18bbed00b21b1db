"""Presence from birth, will and heartbeat; commands that wait for offline devices; rollouts."""

from __future__ import annotations

import asyncio
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from govedge.contract import (
    Channel,
    ConfigReported,
    ConfigReportedData,
    decode,
    subscription,
)


async def _register(rh, *ids: str, **desc: object) -> None:
    for device_id in ids:
        status, body = await rh.call("POST", "/api/v1/devices", json={"id": device_id, **desc})
        assert status == 201, body


async def _online(rh, device_id: str) -> bool:
    return (await rh.get(f"/api/v1/devices/{device_id}"))["online"]


async def test_birth_will_and_stale_will(hub_config, start_hub, device_factory) -> None:
    rh = await start_hub(hub_config())
    dev = device_factory()
    await _register(rh, dev.device_id)
    old_boot = dev.boot_id
    dev.status(True)
    await rh.wait_for(lambda: _online(rh, dev.device_id))
    dev.boot_id = uuid.uuid4().hex  # the device restarted
    dev.status(True)
    dev.status(False, boot_id=old_boot)  # the old connection's will arrives late
    dev.telemetry(temperature=1.0)
    await rh.wait_for(lambda: rh.hub.pipeline.accepted_total >= 1)
    await asyncio.sleep(0.3)
    assert await _online(rh, dev.device_id)
    dev.status(False)  # the current boot's will
    await rh.wait_for(lambda: _not(_online(rh, dev.device_id)))
    history = await rh.get(f"/api/v1/devices/{dev.device_id}/history")
    assert [h["online"] for h in history["items"]] == [False, True, True]


async def _not(coro) -> bool:
    return not await coro


async def test_offline_detected_within_one_and_a_half_keepalives(
    hub_config, start_hub, device_factory
) -> None:
    rh = await start_hub(hub_config())
    dev = device_factory()
    await _register(rh, dev.device_id)
    dev.status(True, keepalive=1)
    await rh.wait_for(lambda: _online(rh, dev.device_id))
    loop = asyncio.get_running_loop()
    silent_since = loop.time()
    await rh.wait_for(lambda: _not(_online(rh, dev.device_id)), timeout=5)
    # 1.5 x keepalive, plus one presence-check interval (0.2 s) and request latency.
    assert loop.time() - silent_since < 1.5 * 1 + 0.5
    history = await rh.get(f"/api/v1/devices/{dev.device_id}/history")
    assert history["items"][0]["reason"] == "heartbeat_timeout"
    dev.telemetry(temperature=1.0)  # traffic brings it back
    await rh.wait_for(lambda: _online(rh, dev.device_id))


def _listen(mqtt_broker, device_id: str, channel: Channel) -> tuple[mqtt.Client, list]:
    got: list = []
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: got.append((decode(m.payload), m.retain))
    client.connect(mqtt_broker.host, mqtt_broker.port)
    client.subscribe(subscription(channel, device_id=device_id), qos=1)
    client.loop_start()
    return client, got


async def _ping_queued(hub_config, start_hub, device_factory, mqtt_broker):
    """A hub, a registered device that is offline, a listener on its command topic, and a
    ping created for it (queued): (hub, device, (listener, messages), command id)."""
    rh = await start_hub(hub_config())
    dev = device_factory()
    await _register(rh, dev.device_id)
    listening = _listen(mqtt_broker, dev.device_id, Channel.CMD)
    status, created = await rh.call(
        "POST",
        "/api/v1/commands",
        json={"name": "ping", "selector": {"ids": [dev.device_id]}, "ttl_s": 30},
    )
    assert status == 201, created
    return rh, dev, listening, created["commands"][0]


async def test_command_waits_for_offline_device_then_is_acknowledged(
    hub_config, start_hub, device_factory, mqtt_broker
) -> None:
    rh, dev, (listener, got), command_id = await _ping_queued(
        hub_config, start_hub, device_factory, mqtt_broker
    )
    await asyncio.sleep(0.3)
    assert (await rh.get(f"/api/v1/commands/{command_id}"))["state"] == "queued"
    assert got == []
    dev.status(True)
    await rh.wait_for(lambda: got)
    assert got[0][0].data.id == command_id
    assert (await rh.get(f"/api/v1/commands/{command_id}"))["state"] == "sent"
    dev.ack(command_id, ok=True)
    cmd = await rh.wait_for(lambda: _state(rh, command_id, "acknowledged"))
    assert cmd["state"] == "acknowledged"
    listener.loop_stop()
    listener.disconnect()


async def test_a_queued_command_is_sent_when_its_device_came_online_without_a_birth_here(
    hub_config, start_hub, device_factory, mqtt_broker
) -> None:
    """Another worker of the group applied the device's birth and was killed before its
    listeners sent the queued command; the redelivered birth changes nothing here. The
    command must still go out, and once."""
    rh, dev, (listener, got), command_id = await _ping_queued(
        hub_config, start_hub, device_factory, mqtt_broker
    )
    registry = rh.hub.registry
    await asyncio.to_thread(registry.apply_status, dev.device_id, dev.boot_id, True, 60, 1e9)
    await rh.wait_for(lambda: got, timeout=10)
    assert (await rh.get(f"/api/v1/commands/{command_id}"))["state"] == "sent"
    await asyncio.sleep(1.0)  # a few more rounds of the background loop
    assert [m.data.id for m, _retained in got] == [command_id]
    listener.loop_stop()
    listener.disconnect()


async def _state(rh, command_id: str, state: str):
    cmd = await rh.get(f"/api/v1/commands/{command_id}")
    return cmd if cmd["state"] == state else None


async def test_command_to_a_device_that_never_returns_expires(
    hub_config, start_hub, device_factory
) -> None:
    rh = await start_hub(hub_config())
    dev = device_factory()
    await _register(rh, dev.device_id)
    _status, created = await rh.call(
        "POST",
        "/api/v1/commands",
        json={"name": "ping", "selector": {"ids": [dev.device_id]}, "ttl_s": 1},
    )
    command_id = created["commands"][0]
    cmd = await rh.wait_for(lambda: _state(rh, command_id, "expired"), timeout=5)
    assert cmd["error"]
    dev.status(True)  # too late: nothing is sent, the state stays expired
    await rh.wait_for(lambda: _online(rh, dev.device_id))
    assert (await rh.get(f"/api/v1/commands/{command_id}"))["state"] == "expired"


async def test_commands_survive_a_hub_restart(hub_config, start_hub, device_factory) -> None:
    config = hub_config()
    rh = await start_hub(config)
    dev = device_factory()
    await _register(rh, dev.device_id)
    _, created = await rh.call(
        "POST",
        "/api/v1/commands",
        json={"name": "self_test", "selector": {"ids": [dev.device_id]}, "ttl_s": 60},
    )
    await rh.session.close()
    await rh.runner.cleanup()
    rh2 = await start_hub(config)
    command = await rh2.get(f"/api/v1/commands/{created['commands'][0]}")
    assert command["state"] == "queued"


async def test_rollout_halts_when_failures_pass_the_limit(
    hub_config, start_hub, device_factory, mqtt_broker
) -> None:
    rh = await start_hub(hub_config())
    site = f"site-{uuid.uuid4().hex[:6]}"
    devs = [device_factory() for _ in range(10)]
    await _register(rh, *(d.device_id for d in devs), site=site)
    listeners = {
        d.device_id: _listen(mqtt_broker, d.device_id, Channel.CONFIG_DESIRED) for d in devs
    }
    status, ro = await rh.call(
        "POST",
        "/api/v1/rollouts",
        json={
            "selector": {"site": site},
            "config": {"publish": {"health_interval_s": 30}},
            "steps": [20, 100],
            "max_failures": 0,
        },
    )
    assert status == 201, ro
    first = ro["targets"][:2]
    await rh.wait_for(lambda: all(listeners[d][1] for d in first))
    assert not any(listeners[d][1] for d in ro["targets"][2:])
    by_id = {d.device_id: d for d in devs}
    for i, device_id in enumerate(first):
        dev = by_id[device_id]
        dev.seq += 1
        dev.send(
            ConfigReported(
                device_id=device_id,
                boot_id=dev.boot_id,
                seq=dev.seq,
                ts=1.0,
                data=ConfigReportedData(
                    version=ro["version"], ok=i == 0, error="" if i == 0 else "bad key"
                ),
            ),
            Channel.CONFIG_REPORTED,
        )
    halted = await rh.wait_for(lambda: _rollout(rh, ro["id"], "halted"))
    assert halted["progress"]["failed"] == 1 and halted["progress"]["applied"] == 1
    await asyncio.sleep(0.3)
    assert not any(listeners[d][1] for d in ro["targets"][2:])
    for client, _ in listeners.values():
        client.loop_stop()
        client.disconnect()


async def _rollout(rh, rollout_id: str, state: str):
    ro = await rh.get(f"/api/v1/rollouts/{rollout_id}")
    return ro if ro["state"] == state else None


async def test_rollout_completes_step_by_step(hub_config, start_hub, device_factory) -> None:
    rh = await start_hub(hub_config())
    site = f"site-{uuid.uuid4().hex[:6]}"
    devs = {d.device_id: d for d in (device_factory() for _ in range(4))}
    await _register(rh, *devs, site=site)
    _, ro = await rh.call(
        "POST",
        "/api/v1/rollouts",
        json={
            "selector": {"site": site},
            "config": {"publish": {"health_interval_s": 30}},
            "steps": [25, 50],
        },
    )
    reported: set[str] = set()

    async def report_pending():
        cur = await rh.get(f"/api/v1/rollouts/{ro['id']}")
        n = {0: 1, 1: 2, 2: 4}[cur["step_index"]]
        for device_id in cur["targets"][:n]:
            if device_id not in reported:
                reported.add(device_id)
                dev = devs[device_id]
                dev.seq += 1
                dev.send(
                    ConfigReported(
                        device_id=device_id,
                        boot_id=dev.boot_id,
                        seq=dev.seq,
                        ts=1.0,
                        data=ConfigReportedData(version=ro["version"], ok=True),
                    ),
                    Channel.CONFIG_REPORTED,
                )
        return cur if cur["state"] == "done" else None

    done = await rh.wait_for(report_pending, timeout=15, interval=0.2)
    assert done["progress"]["applied"] == 4
    device = await rh.get(f"/api/v1/devices/{next(iter(devs))}")
    assert device["config_version"] == ro["version"]


async def test_invalid_config_is_refused_before_any_device_sees_it(
    hub_config, start_hub, device_factory
) -> None:
    rh = await start_hub(hub_config())
    dev = device_factory()
    await _register(rh, dev.device_id)
    status, body = await rh.call(
        "PUT",
        f"/api/v1/devices/{dev.device_id}/config",
        json={"config": {"publish": {"health_interval_s": "often"}}},
    )
    assert status == 400 and "health_interval_s" in body["error"]
    status, body = await rh.call(
        "PUT",
        f"/api/v1/devices/{dev.device_id}/config",
        json={"config": {"drivers": [{"name": "x", "kind": "teleporter", "url": "/dev/null"}]}},
    )
    assert status == 400 and "teleporter" in body["error"]
    status, body = await rh.call(
        "PUT",
        f"/api/v1/devices/{dev.device_id}/config",
        json={"config": {"publish": {"health_interval_s": 30}}},
    )
    assert status == 202 and body["version"] == 1
