"""The ingest benchmark's load: valid telemetry of about 200 bytes from several publisher processes.

Each publisher process owns a slice of the devices and publishes every message of its devices
with paho (QoS 1 by default, 1000 in flight), in sequence order, then waits for the last PUBACK.
Publishers run in their own processes so that none of them shares a GIL with a consumer.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid
from dataclasses import dataclass

from govedge.contract import Telemetry, encode
from govedge.contract.topics import Channel, topic

TOPIC_FILTER = "gov/v1/+/telemetry"


@dataclass(frozen=True, slots=True)
class Load:
    """What to send: ``devices`` devices, ``per_device`` messages each, at ``qos``."""

    devices: int = 200
    per_device: int = 1000
    publishers: int = 3
    qos: int = 1

    @property
    def total(self) -> int:
        return self.devices * self.per_device

    def device_ids(self) -> list[str]:
        return [f"bench-{i:05d}" for i in range(self.devices)]


def payload(device_id: str, boot_id: str, seq: int, ts: float) -> bytes:
    """One telemetry message of about 200 bytes, as a device's agent would send it."""
    return encode(
        Telemetry(
            device_id=device_id,
            boot_id=boot_id,
            seq=seq,
            ts=ts,
            data={
                "temperature": 21.5 + (seq % 50) / 10,
                "humidity": 40.25 + (seq % 30) / 4,
                "pm25": 12.0 + seq % 7,
                "noise_db": 48.5,
            },
        )
    )


def _publish_slice(url_host: str, port: int, device_ids: list[str], load: Load) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    boot_ids = {d: uuid.uuid4().hex for d in device_ids}
    base = time.time() - 3600.0
    # Interleave devices, as a fleet would: seq 1 of every device, then seq 2, ...
    messages = [
        (
            topic(d, Channel.TELEMETRY),
            payload(d, boot_ids[d], seq, base + seq * 0.02),
        )  # 50 Hz: the contract's rate
        for seq in range(1, load.per_device + 1)
        for d in device_ids
    ]
    acked = 0
    disconnects = 0
    want = len(messages)

    def on_disconnect(*_: object) -> None:
        nonlocal disconnects
        disconnects += 1

    def on_publish(_c: object, _u: object, _mid: int, _rc: object, _p: object) -> None:
        nonlocal acked
        acked += 1

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"bench-pub-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv311,
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.on_disconnect = on_disconnect
    client.connect(url_host, port, keepalive=60)
    client.loop_start()
    for name, body in messages:
        client.publish(name, body, qos=load.qos)
    deadline = time.monotonic() + 120
    while acked < want and time.monotonic() < deadline:
        time.sleep(0.01)
    lost_link = disconnects
    client.disconnect()
    client.loop_stop()
    if acked < want:
        raise RuntimeError(
            f"publisher: {acked} of {want} messages acknowledged, link lost {lost_link} times"
        )


def publish_all(host: str, port: int, load: Load) -> float:
    """Send the whole load from ``load.publishers`` processes; return the seconds it took."""
    ids = load.device_ids()
    slices = [ids[i :: load.publishers] for i in range(load.publishers)]
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_publish_slice, args=(host, port, part, load), daemon=True)
        for part in slices
        if part
    ]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(180)
        if proc.exitcode != 0:
            raise RuntimeError(f"publisher process exited with {proc.exitcode}")
    return time.perf_counter() - started
