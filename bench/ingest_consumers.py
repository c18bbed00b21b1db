"""The three consumers of the ingest benchmark, each run in its own process.

* ``mosquitto_sub`` (the broker's raw drain, C, prints nothing we keep),
* a bare paho-mqtt subscriber that only counts (the floor of any Python consumer),
* the hub (``hub.app.create_app`` under an aiohttp runner, SQLite registry and telemetry).

Every consumer first connects once with a persistent session (MQTT 5, clean start off, session
expiry one day) and subscribes, then leaves; the load is published into its queue at the broker;
then the consumer reconnects and drains it. The clock runs from just before that connect to the
last message counted (for the hub: stored), so the rate is the consumer's alone, not bounded by
the publishers sharing the two cores.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from bench.ingest_load import TOPIC_FILTER

SESSION_EXPIRY_S = 86400
CTX = mp.get_context("spawn")


@dataclass
class Progress:
    """Shared between a consumer process and the bench: counts and times (time.monotonic)."""

    count: Synchronized[int]
    t0: Synchronized[float]
    t_last: Synchronized[float]
    batches: Synchronized[int]
    cpu0: Synchronized[float]
    cpu_last: Synchronized[float]
    ready: Any  # multiprocessing.Event
    stop: Any  # multiprocessing.Event

    @property
    def seconds(self) -> float:
        """Wall-clock seconds from connect to the consumer's last message."""
        return self.t_last.value - self.t0.value

    @property
    def cpu_seconds(self) -> float:
        """CPU time (all threads) the consumer spent from connect to its last message."""
        return self.cpu_last.value - self.cpu0.value

    @classmethod
    def new(cls) -> Progress:
        """Zeroed counters in shared memory (spawn context), to hand to a consumer process."""

        def value(kind: str, initial: float) -> Any:
            return CTX.Value(kind, initial)

        return cls(
            count=value("q", 0),
            t0=value("d", 0.0),
            t_last=value("d", 0.0),
            batches=value("q", 0),
            cpu0=value("d", 0.0),
            cpu_last=value("d", 0.0),
            ready=CTX.Event(),
            stop=CTX.Event(),
        )


# mosquitto_sub ---------------------------------------------------------------------------------


def mosquitto_sub_prime(host: str, port: int, client_id: str) -> None:
    """Create the persistent session and its subscription, then leave."""
    _mosquitto_sub(host, port, client_id, ["-E"], timeout=10)


def mosquitto_sub_drain(host: str, port: int, client_id: str, total: int) -> tuple[float, float]:
    """Wall and CPU seconds mosquitto_sub takes to receive ``total`` queued messages."""
    cpu0 = _children_cpu()
    started = time.monotonic()
    _mosquitto_sub(host, port, client_id, ["-C", str(total)], timeout=120)
    return time.monotonic() - started, _children_cpu() - cpu0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _mosquitto_sub(host: str, port: int, client_id: str, extra: list[str], timeout: float) -> None:
    binary = shutil.which("mosquitto_sub")
    if not binary:
        raise RuntimeError("mosquitto_sub is not installed (apt-get install mosquitto-clients)")
    cmd = [binary, "-h", host, "-p", str(port), "-V", "5", "-c", "-x", str(SESSION_EXPIRY_S)]
    cmd += ["-i", client_id, "-q", "1", "-t", TOPIC_FILTER, *extra]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, timeout=timeout)  # noqa: S603 - argv of mosquitto_sub found on PATH, no shell


# bare paho -------------------------------------------------------------------------------------


def paho_counter(host: str, port: int, client_id: str, target: int, prog: Progress) -> None:
    """Count messages and nothing else; with ``target`` 0, subscribe and leave."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    count = 0
    subscribed = False
    t_last = 0.0
    cpu_last = 0.0

    def on_connect(client: mqtt.Client, *_: Any) -> None:
        client.subscribe(TOPIC_FILTER, qos=1)

    def on_subscribe(*_: Any) -> None:
        nonlocal subscribed
        subscribed = True

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        nonlocal count, t_last, cpu_last
        count += 1
        if count == target:
            t_last = time.monotonic()
            cpu_last = time.process_time()

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
    )
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves __init__ unannotated
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    props.ReceiveMaximum = 65535
    prog.t0.value = time.monotonic()
    prog.cpu0.value = time.process_time()
    client.connect(host, port, keepalive=60, clean_start=False, properties=props)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        client.loop(timeout=0.05)
        if (target == 0 and subscribed) or (target and count >= target):
            break
    prog.count.value = count
    prog.t_last.value = t_last
    prog.cpu_last.value = cpu_last
    client.disconnect()
    prog.ready.set()


# the hub ---------------------------------------------------------------------------------------


def hub_worker(config_json: bytes, prime: bool, prog: Progress) -> None:
    """Run one hub worker until told to stop; publish its stored count and the time of it."""
    from hub.app import tune_process

    tune_process()  # as ``govedge hub`` does
    asyncio.run(_hub_main(config_json, prime, prog))


async def _hub_main(config_json: bytes, prime: bool, prog: Progress) -> None:
    import msgspec
    from aiohttp import web

    from hub.app import create_app
    from hub.context import HUB_KEY
    from hub.ingest.pipeline import Accepted
    from hub.settings import HubConfig

    config = msgspec.json.decode(config_json, type=HubConfig)
    app = create_app(config)
    hub = app[HUB_KEY]

    def stored(_acc: Accepted) -> None:
        # Listeners run after the batch is stored: this is the stored count.
        prog.t_last.value = time.monotonic()
        prog.cpu_last.value = time.process_time()
        prog.count.value = hub.pipeline.accepted_total
        prog.batches.value += 1

    hub.pipeline.listeners.append(stored)
    runner = web.AppRunner(app)
    prog.t0.value = time.monotonic()
    prog.cpu0.value = time.process_time()
    await runner.setup()  # cleanup_ctx starts the MQTT link
    if prime:
        await asyncio.to_thread(hub.link.connected.wait, 10)
        await asyncio.sleep(0.5)  # the SUBACK
    prog.ready.set()
    await asyncio.to_thread(prog.stop.wait)
    await runner.cleanup()


def start_process(target: Any, *args: Any) -> mp.process.BaseProcess:
    """Start ``target(*args)`` in a new daemon process."""
    proc = CTX.Process(target=target, args=args, daemon=True)
    proc.start()
    return proc
