"""Two hub workers in one MQTT 5 shared subscription, on a real Mosquitto, one registry
(SQLite file or PostgreSQL) and one InfluxDB: a message a device sends twice (QoS 1, its PUBACK
lost, the copy marked DUP) reaches each worker once, is stored once, and is counted once as a
duplicate in the figures every worker reports."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from typing import Any

import sqlalchemy as sa

from govedge.contract import Event, EventData, Telemetry, encode
from govedge.contract.topics import Channel, topic
from hub.db import events
from sim.fleet import mqtt_codec as mq


class RawDevice:
    """A device's MQTT connection that resends a PUBLISH as-is, with the DUP flag, the way a
    client does when the broker's PUBACK did not reach it."""

    def __init__(self, host: str, port: int, device_id: str) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.sendall(mq.connect(device_id, keepalive=0))
        assert self.sock.recv(4)[3] == 0, "the broker refused the connection"
        self.packet_id = 0

    def send_twice(self, name: str, payload: bytes) -> None:
        self.packet_id += 1
        packet = mq.publish(name, payload, qos=1, packet_id=self.packet_id)
        self.sock.sendall(packet)
        self.sock.sendall(mq.set_dup(packet))
        acks = b""
        while len(acks) < 8:  # two PUBACKs of four bytes
            acks += self.sock.recv(64)

    def close(self) -> None:
        self.sock.sendall(bytes([0xE0, 0]))
        self.sock.close()


async def test_a_message_sent_twice_reaches_both_workers_and_is_stored_once(
    hub_config: Any, start_hub: Any, mqtt_broker: Any, influx: Any
) -> None:
    group = f"dup{uuid.uuid4().hex[:6]}"
    host = influx.forwarder_url.split("//")[1]
    config = {
        "shared_group": group,
        "auto_register": True,
        "telemetry_url": f"influxdb://{host}/govedge/autogen",
    }
    workers = [await start_hub(hub_config(**config)) for _ in range(2)]
    assert all(w.hub.pipeline.shared for w in workers)  # a group: the listeners' messages claimed
    heard: list[list[int]] = [[], []]  # the event seqs each worker's listeners were handed
    for i, w in enumerate(workers):
        w.hub.pipeline.listeners.append(lambda acc, i=i: heard[i].extend(e.seq for e in acc.events))
    device_id = f"dup-{uuid.uuid4().hex[:8]}"
    boot_id = uuid.uuid4().hex
    ts = float(int(time.time()))
    device = RawDevice(mqtt_broker.host, mqtt_broker.port, device_id)
    try:
        reading = Telemetry(device_id=device_id, boot_id=boot_id, seq=1, ts=ts, data={"level": 2.5})
        await asyncio.to_thread(
            device.send_twice, topic(device_id, Channel.TELEMETRY), encode(reading)
        )
        event = Event(
            device_id=device_id,
            boot_id=boot_id,
            seq=2,
            ts=ts + 1,
            data=EventData(kind="paper_out", severity="warning"),
        )
        await asyncio.to_thread(device.send_twice, topic(device_id, Channel.EVENT), encode(event))
    finally:
        device.close()

    def took(seq: int) -> list[bool]:
        return [
            seq in _seqs(w.hub.pipeline.tracker.streams.get((device_id, boot_id))) for w in workers
        ]

    # Mosquitto hands a shared subscription's messages to its members in turn: one copy each.
    # (A batch the store refused is retried, up to 5 s apart: a slow influxd is waited for.)
    await workers[0].wait_for(
        lambda: took(1) == [True, True] and took(2) == [True, True], timeout=30
    )
    # Neither tracker saw both copies. The reading's copy is stored idempotently by the second
    # worker; the event's is dropped there at its claim (the first claimed it), counted as a
    # duplicate by that worker only, and handed to one worker's listeners.
    await workers[0].wait_for(
        lambda: sum(w.hub.pipeline.tracker.duplicates for w in workers) == 1, timeout=10
    )
    assert sorted(w.hub.pipeline.tracker.duplicates for w in workers) == [0, 1]
    await workers[0].wait_for(lambda: sorted(heard) == [[], [2]])

    engine = workers[0].hub.registry.engine

    def stored_events() -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            q = sa.select(events.c.seq, events.c.kind).where(events.c.device_id == device_id)
            return [tuple(r) for r in conn.execute(q)]

    await workers[0].wait_for(lambda: stored_events() == [(2, "paper_out")])
    await asyncio.sleep(0.5)  # the other worker's copy, had it been stored, would be there now
    assert stored_events() == [(2, "paper_out")]
    assert sorted(heard) == [[], [2]]  # still: the other worker's listeners never had it
    store = workers[1].hub.store
    points = await asyncio.to_thread(store.query, device_id, None, ts - 1, ts + 5, 100)
    assert [(p["ts"], p["metric"], p["value"]) for p in points] == [(ts, "level", 2.5)]

    # Each copy came to another worker, and the stream's shared record counts both as
    # duplicates (no gap): every worker's health and /metrics say so.
    async def figures(w: Any) -> tuple[int, int] | None:
        ingest = (await w.get("/api/v1/health"))["ingest"]
        return (ingest["duplicates"], ingest["gaps"]) if ingest["duplicates"] >= 2 else None

    for w in workers:
        assert await w.wait_for(lambda w=w: figures(w), timeout=10) == (2, 0)
    metrics = await (await workers[1].session.get(workers[1].url + "/metrics")).text()
    assert "govedge_hub_streams_duplicates 2.0" in metrics
    assert "govedge_hub_gaps 0.0" in metrics


def _seqs(stream: Any) -> set[int]:
    """The seqs a worker took of a stream (its first, or its highest and the ones below it)."""
    if stream is None:
        return set()
    return {stream.max_seq} | set(stream.early) | ({stream.first} if stream.first else set())
