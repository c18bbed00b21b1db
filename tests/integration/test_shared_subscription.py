"""What Mosquitto does with a shared subscriber that dies holding QoS 1 messages it never
acknowledged: the facts the multi-worker design rests on (docs/hub.md, "Several workers").

A worker killed with SIGKILL sends no DISCONNECT and acknowledges nothing more. With a persistent
session (clean start off, a session expiry), Mosquitto keeps that worker's in-flight messages and
goes on queueing its share of new ones; they are delivered when a process with the same client
id reconnects. With a session that ends on disconnect, the in-flight messages are dropped: no
other member of the group receives them.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from govedge.broker import MosquittoBroker

GROUP_FILTER = "$share/workers/shared-test/#"
N = 60

# A worker that takes messages and never acknowledges them, then waits to be killed.
SILENT_WORKER = r"""
import sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
host, port, client_id, expiry = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                protocol=mqtt.MQTTv5, manual_ack=True)
props = Properties(PacketTypes.CONNECT)
props.SessionExpiryInterval = expiry
got = []
c.on_message = lambda _c, _u, m: (got.append(m.payload), print("got", flush=True))
c.on_subscribe = lambda *a: print("ready", flush=True)
c.on_connect = lambda cl, *a: cl.subscribe("$share/workers/shared-test/#", qos=1)
c.connect(host, port, clean_start=False, properties=props)
c.loop_forever()
"""


class Worker:
    """An acknowledging member of the group, in this process."""

    def __init__(self, broker: MosquittoBroker, client_id: str) -> None:
        self.received: list[int] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_connect = lambda c, *_a: c.subscribe(GROUP_FILTER, qos=1)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 300
        self.client.connect(broker.host, broker.port, clean_start=False, properties=props)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.received.append(int(msg.payload))

    def got(self) -> set[int]:
        with self.lock:
            return set(self.received)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(mosquitto_factory: Any) -> MosquittoBroker:
    broker: MosquittoBroker = mosquitto_factory()
    return broker


def start_silent(broker: MosquittoBroker, client_id: str, expiry: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SILENT_WORKER,
            broker.host,
            str(broker.port),
            client_id,
            str(expiry),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def publish_all(broker: MosquittoBroker, numbers: range) -> None:
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="shared-pub", protocol=mqtt.MQTTv5)
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    for n in numbers:
        pub.publish(f"shared-test/{n % 7}", str(n).encode(), qos=1).wait_for_publish(10)
    pub.disconnect()
    pub.loop_stop()


def wait_until(check: Any, within: float = 20.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return bool(check())


@pytest.fixture
def live(broker: MosquittoBroker) -> Iterator[Worker]:
    worker = Worker(broker, "worker-a")
    yield worker
    worker.close()


def test_a_killed_persistent_worker_keeps_its_share_until_it_comes_back(
    broker: MosquittoBroker, live: Worker
) -> None:
    silent = start_silent(broker, "worker-b", expiry=300)
    publish_all(broker, range(N))
    wait_until(lambda: len(live.got()) >= N // 2)
    silent.kill()
    silent.wait(10)
    publish_all(broker, range(N, 2 * N))
    # The survivor never sees the dead worker's in-flight messages, nor (Mosquitto goes on
    # dispatching to the offline session) its share of what came after.
    time.sleep(1.0)
    held_back = set(range(2 * N)) - live.got()
    assert held_back, "Mosquitto handed the dead worker's messages to the survivor"
    # Restarted under the same client id, the worker resumes its session and receives them all.
    back = Worker(broker, "worker-b")
    try:
        assert wait_until(lambda: live.got() | back.got() == set(range(2 * N)))
        assert held_back <= back.got()
    finally:
        back.close()


def test_a_killed_worker_without_a_session_loses_what_it_held(
    broker: MosquittoBroker, live: Worker
) -> None:
    silent = start_silent(broker, "worker-c", expiry=0)
    publish_all(broker, range(N))
    wait_until(lambda: len(live.got()) >= N // 2)
    silent.kill()
    silent.wait(10)
    publish_all(broker, range(N, 2 * N))
    wait_until(lambda: set(range(N, 2 * N)) <= live.got())
    # What came after the death goes to the survivor; what the dead worker held is gone.
    assert set(range(N, 2 * N)) <= live.got()
    lost = set(range(N)) - live.got()
    assert lost, "Mosquitto redelivered the dead worker's in-flight messages"
    back = Worker(broker, "worker-c")
    try:
        time.sleep(1.0)
        assert not (lost & back.got())
    finally:
        back.close()
