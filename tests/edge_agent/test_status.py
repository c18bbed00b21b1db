"""The retained status: a stale will (an older boot's, delivered late) never overrides a live
birth; subscriptions come back after the broker restarts."""

from __future__ import annotations

import asyncio
import time

import paho.mqtt.publish as publish

from edge_agent.runtime import build_agent
from govedge.contract import CommandAck, Status, StatusData, encode, topic
from sim.fleet.relay import LinkRelay


def _retained_status(col_factory, broker, device):
    col = col_factory(broker.host, broker.port, topic(device, "status"))
    assert col.wait_for(lambda: bool(col.raw), 5)
    return col.of_type(Status)[-1], col.raw[-1][2]


async def test_stale_will_is_overridden_by_a_new_birth(
    mqtt_broker, make_config, collector_factory, scripted, fake
):
    device = "status-1"
    _, factory = scripted
    agent = build_agent(
        make_config(device, mqtt_broker.url, [fake("a", 0.5)]), driver_factory=factory
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        for _ in range(500):  # at most 10 s
            if agent.link.connected:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        stale = Status(
            device_id=device,
            boot_id="an-older-boot",
            seq=7,
            ts=time.time() - 60,
            data=StatusData(online=False, reason="connection lost"),
        )
        publish.single(
            topic(device, "status"),
            encode(stale),
            qos=1,
            retain=True,
            hostname=mqtt_broker.host,
            port=mqtt_broker.port,
        )
        deadline = time.monotonic() + 5
        for _ in range(500):  # at most 10 s
            if not (agent.link.counters.stale_wills_overridden < 1 and time.monotonic() < deadline):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        status, retained = await asyncio.to_thread(
            _retained_status, collector_factory, mqtt_broker, device
        )
    finally:
        stop.set()
        await task
    assert agent.link.counters.stale_wills_overridden == 1
    assert retained
    assert status.data.online and status.boot_id == agent.boot_id


async def test_subscriptions_are_restored_after_a_broker_restart(
    mosquitto_factory, make_config, collector_factory, scripted, fake, hub_for
):
    broker = mosquitto_factory()
    device = "status-2"
    _, factory = scripted
    agent = build_agent(
        make_config(device, broker.url, [fake("a", 0.5)], broker={"mqtt_version": "3.1.1"}),
        driver_factory=factory,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        for _ in range(500):  # at most 10 s
            if agent.link.connected:
                break
            await asyncio.sleep(0.02)
        await asyncio.to_thread(broker.kill)
        await asyncio.to_thread(broker.start)  # no persistence: the session is gone
        for _ in range(500):  # at most 10 s
            if not (agent.link.counters.reconnects < 1 or not agent.link.connected):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        col = collector_factory(broker.host, broker.port, topic(device, "cmd/ack"))
        await asyncio.to_thread(hub_for(broker).command, device, "after-restart", "ping")
        assert await col.until(lambda: bool(col.of_type(CommandAck)), 5)
    finally:
        stop.set()
        await task
    assert col.of_type(CommandAck)[0].data.ok


async def test_a_connections_will_carries_its_birth_stamp_so_the_hub_tells_an_older_ones(
    mqtt_broker, make_config, collector_factory, scripted, fake
):
    """The link is cut at the network level (the broker publishes the will) and comes back:
    the will is stamped as the birth of its connection was, the next birth later, so a hub
    that takes the will after that birth knows it for the earlier connection's."""
    device = "status-2"
    _, factory = scripted
    relay = LinkRelay(mqtt_broker.host, mqtt_broker.port)
    await relay.start()
    col = collector_factory(mqtt_broker.host, mqtt_broker.port, topic(device, "status"))
    agent = build_agent(make_config(device, relay.url, [fake("a", 0.5)]), driver_factory=factory)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        assert await col.until(lambda: len(col.of_type(Status)) >= 1)
        await asyncio.sleep(0.3)  # the first connection lives a while
        relay.cut()
        assert await col.until(lambda: len(col.of_type(Status)) >= 3, 20)
    finally:
        stop.set()
        await task
        await relay.close()
    first_birth, will, second_birth = col.of_type(Status)[:3]
    assert first_birth.data.online and second_birth.data.online
    assert not will.data.online and will.data.reason == "connection lost"
    assert will.ts == first_birth.ts
    assert second_birth.ts > will.ts
