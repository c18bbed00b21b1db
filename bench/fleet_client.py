"""The fleet simulator's MQTT client: its own MQTT 3.1.1 codec (sim/fleet/mqtt_codec.py) beside
aiomqtt, a well-kept asyncio client, at the same load in the same run.

Each client type runs in a fresh process of its own, against one Mosquitto started here: N devices
connect (with a retained last will, as a device does), then each publishes QoS 1 telemetry (the
contract's envelope, stamped by govedge.contract's EnvelopeStamper) every ``interval`` seconds for
``window`` seconds. Per client type: devices connected, seconds to connect them all, QoS 1
messages acknowledged per second beside the offered load, CPU seconds the process spent per
thousand acknowledged messages, and the process's peak RSS.

Run: ``python -m bench.fleet_client [--devices N] [--interval S] [--window S]``. Defaults: 10 000
devices, one message every 10 s each, a 30 s window; ``--quick`` 1 000 devices.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import resource
import time
from typing import Any

from bench.common import BenchResult

FULL_DEVICES = 10_000
QUICK_DEVICES = 1_000
CONNECT_AT_ONCE = 200
"""Connections opened concurrently (both clients): the broker's accept backlog, not the client,
sets the pace past this."""


def _payload(stamper: Any, seq: int) -> bytes:
    from govedge.contract import Telemetry, encode

    data = {"temperature": 21.5 + random.random(), "humidity": 40.0 + random.random()}  # noqa: S311 - simulated readings, not security
    return encode(stamper.stamp(Telemetry, data, seq=seq))


def _will(stamper: Any) -> bytes:
    from govedge.contract import Status, StatusData, encode

    return encode(stamper.stamp(Status, StatusData(online=False, reason="connection lost"), seq=0))


class _Counters:
    def __init__(self) -> None:
        self.connected = 0
        self.failed = 0
        self.sent = 0
        self.acked = 0
        self.latency_s = 0.0  # aiomqtt: summed publish-to-PUBACK time


# -- the codec ------------------------------------------------------------------------------


class _CodecDevice(asyncio.Protocol):
    """One device on sim.fleet.mqtt_codec: a transport and a packet reader, nothing else."""

    def __init__(self, device_id: str, counters: _Counters) -> None:
        from govedge.contract import EnvelopeStamper
        from sim.fleet import mqtt_codec as mq

        self.mq = mq
        self.device_id = device_id
        self.stamper = EnvelopeStamper(device_id)
        self.counters = counters
        self.reader = mq.PacketReader()
        self.transport: asyncio.Transport | None = None
        self.connack: asyncio.Future[int] | None = None
        self.inflight: set[int] = set()
        self.pid = 0
        self.seq = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        for pkt in self.reader.feed(data):
            if pkt.kind == self.mq.PUBACK:
                if pkt.packet_id in self.inflight:
                    self.inflight.discard(pkt.packet_id)
                    self.counters.acked += 1
            elif pkt.kind == self.mq.CONNACK and self.connack and not self.connack.done():
                self.connack.set_result(pkt.connack_code)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.connack and not self.connack.done():
            self.connack.set_result(-1)

    async def connect(self, host: str, port: int) -> bool:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: self, host, port)
        except OSError:
            return False
        assert self.transport is not None
        self.connack = loop.create_future()
        will_topic = f"gov/v1/{self.device_id}/status"
        self.transport.write(
            self.mq.connect(self.device_id, 60, will_topic, _will(self.stamper), 1, True)
        )
        try:
            return await asyncio.wait_for(self.connack, 30) == 0
        except TimeoutError:
            return False

    def publish(self) -> None:
        if self.transport is None:
            return
        self.pid = self.pid % 65535 + 1
        self.seq += 1
        self.inflight.add(self.pid)
        self.transport.write(
            self.mq.publish(
                f"gov/v1/{self.device_id}/telemetry",
                _payload(self.stamper, self.seq),
                qos=1,
                packet_id=self.pid,
            )
        )
        self.counters.sent += 1

    def close(self) -> None:
        if self.transport is not None:
            self.transport.write(self.mq.DISCONNECT_PACKET)
            self.transport.close()


async def _run_codec(host: str, port: int, ids: list[str], interval: float, window: float) -> Any:
    c = _Counters()
    devices = [_CodecDevice(d, c) for d in ids]
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def one(dev: _CodecDevice) -> None:
        async with gate:
            if await dev.connect(host, port):
                c.connected += 1
            else:
                c.failed += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one(d) for d in devices))
    connect_s = time.perf_counter() - t0

    async def loop(dev: _CodecDevice) -> None:
        clock = asyncio.get_running_loop().time
        due = clock() + random.uniform(0, interval)  # noqa: S311 - connect jitter, not security
        while True:
            await asyncio.sleep(max(0.0, due - clock()))
            dev.publish()
            due += interval

    return c, connect_s, [asyncio.create_task(loop(d)) for d in devices], devices


# -- aiomqtt ----------------------------------------------------------------------------------


async def _run_aiomqtt(host: str, port: int, ids: list[str], interval: float, window: float) -> Any:
    import aiomqtt

    from govedge.contract import EnvelopeStamper

    c = _Counters()
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    ready = asyncio.Event()
    all_tried = asyncio.Event()
    clients: list[Any] = []

    def tried() -> None:
        if c.connected + c.failed == len(ids):
            all_tried.set()

    async def device(device_id: str) -> None:
        stamper = EnvelopeStamper(device_id)
        will = aiomqtt.Will(f"gov/v1/{device_id}/status", _will(stamper), qos=1, retain=True)
        client = aiomqtt.Client(
            host, port, identifier=device_id, will=will, clean_session=True, keepalive=60
        )
        async with gate:
            try:
                await client.__aenter__()
            except aiomqtt.MqttError:
                c.failed += 1
                tried()
                return
        c.connected += 1
        clients.append(client)
        tried()
        await ready.wait()
        clock = asyncio.get_running_loop().time
        due = clock() + random.uniform(0, interval)  # noqa: S311 - connect jitter, not security
        seq = 0
        topic = f"gov/v1/{device_id}/telemetry"
        while True:  # on a fixed schedule, as the codec's devices: a slow PUBACK delays no tick
            await asyncio.sleep(max(0.0, due - clock()))
            due += interval
            seq += 1
            c.sent += 1
            sent_at = clock()
            await client.publish(topic, _payload(stamper, seq), qos=1)  # returns on PUBACK
            c.acked += 1
            c.latency_s += clock() - sent_at

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(device(d)) for d in ids]
    await all_tried.wait()
    connect_s = time.perf_counter() - t0
    ready.set()
    return c, connect_s, tasks, clients


# -- one process per client type -------------------------------------------------------------


def _child(
    kind: str, host: str, port: int, n: int, interval: float, window: float, out: Any
) -> None:
    from govedge.broker import raise_nofile_limit

    raise_nofile_limit(1 << 17)

    async def main() -> None:
        ids = [f"fc-{kind[:1]}-{i:05d}" for i in range(n)]
        run = _run_codec if kind == "codec" else _run_aiomqtt
        cpu0 = time.process_time()
        c, connect_s, tasks, clients = await run(host, port, ids, interval, window)
        connect_cpu = time.process_time() - cpu0
        await asyncio.sleep(interval)  # every device has published once: steady state
        a0, s0, l0 = c.acked, c.sent, c.latency_s
        cpu1, t1 = time.process_time(), time.perf_counter()
        await asyncio.sleep(window)
        took = time.perf_counter() - t1
        acked, cpu = c.acked - a0, time.process_time() - cpu1
        latency = (c.latency_s - l0) / max(acked, 1)
        # No goodbyes: the process ends after reporting and the broker sees the sockets close
        # (a clean DISCONNECT of ten thousand aiomqtt clients one by one takes minutes).
        for t in tasks:
            t.cancel()
        del clients
        out.put(
            {
                "connected": c.connected,
                "failed": c.failed,
                "connect_s": connect_s,
                "connect_cpu_s": connect_cpu,
                "acked_per_s": acked / took,
                "sent_per_s": (c.sent - s0) / took,
                "cpu_per_1000": cpu / max(acked, 1) * 1000,
                "cpu_share": cpu / took,
                "puback_ms": latency * 1000,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )  # reported before the loop's teardown, which the parent does not wait for

    asyncio.run(main())


def _measure(
    kind: str, host: str, port: int, n: int, interval: float, window: float
) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_child, args=(kind, host, port, n, interval, window, out))
    proc.start()
    try:
        result: dict[str, float] = out.get(timeout=600 + window)
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return result


def run(
    devices: int | None = None, interval: float = 10.0, window: float = 30.0
) -> list[BenchResult]:
    """Run the fleet's own MQTT codec and aiomqtt against one Mosquitto, one after the other."""
    from govedge.broker import MosquittoBroker, raise_nofile_limit

    if devices is None:
        quick = os.environ.get("GOVEDGE_BENCH_QUICK") == "1"
        devices = QUICK_DEVICES if quick else FULL_DEVICES
    raise_nofile_limit(1 << 17)
    broker = MosquittoBroker()
    broker.start()
    try:
        codec = _measure("codec", broker.host, broker.port, devices, interval, window)
        lib = _measure("aiomqtt", broker.host, broker.port, devices, interval, window)
    finally:
        broker.close()
    offered = devices / interval
    label = "sim.fleet.mqtt_codec, same run"
    return [
        BenchResult(
            "fleet_client.connected",
            lib["connected"],
            "devices",
            codec["connected"],
            label,
            goal=f"{devices}",
            notes=f"aiomqtt failed {lib['failed']:.0f}, codec failed {codec['failed']:.0f}",
        ),
        BenchResult(
            "fleet_client.connect_all",
            lib["connect_s"],
            "s",
            codec["connect_s"],
            label,
            higher_is_better=False,
            notes=f"CPU s: aiomqtt {lib['connect_cpu_s']:.1f}, codec {codec['connect_cpu_s']:.1f}",
        ),
        BenchResult(
            "fleet_client.qos1_acked",
            lib["acked_per_s"],
            "msg/s",
            codec["acked_per_s"],
            label,
            goal=f"{offered:.0f} msg/s offered",
            notes=f"over {window:.0f} s, 1 msg / {interval:g} s per device; aiomqtt's mean "
            f"publish-to-PUBACK {lib['puback_ms']:.0f} ms",
        ),
        BenchResult(
            "fleet_client.cpu_per_1000_msgs",
            lib["cpu_per_1000"],
            "CPU s",
            codec["cpu_per_1000"],
            label,
            higher_is_better=False,
            notes=f"share of one core: aiomqtt {lib['cpu_share']:.2f}, "
            f"codec {codec['cpu_share']:.2f}",
        ),
        BenchResult(
            "fleet_client.peak_rss",
            lib["rss_mb"],
            "MB",
            codec["rss_mb"],
            label,
            higher_is_better=False,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Command line: run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--devices", type=int)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=30.0)
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("GOVEDGE_BENCH_QUICK") == "1"
    n = args.devices or (QUICK_DEVICES if quick else FULL_DEVICES)
    for result in run(n, args.interval, args.window):
        print(result.line(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
