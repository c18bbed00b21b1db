"""The hub's MQTT client: subscribe with QoS 1, hand batches to the pipeline, publish commands.

Back-pressure: the network thread appends each message to a bounded inbox and blocks when it
is full, so the hub stops reading from the broker instead of growing memory; the broker holds
the rest. Acknowledgements are manual: a message is PUBACKed only after its batch is stored, so
a hub that dies mid-batch has the broker deliver it again (and deduplication drops the repeat).

The two threads share one GIL, so the hand-off is kept cheap: a deque each way instead of a
queue with its locks, and the PUBACKs of a stored batch are sent by the network thread as it
takes the next messages (the writer sends them itself only when nothing more is coming).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from govedge.broker import BrokerURL
from govedge.contract import Channel, subscription
from govedge.logs import fields
from hub.metrics import HubMetrics
from hub.pipeline import Pipeline, Raw

log = logging.getLogger("govedge.hub.mqtt")

BUSY_BATCH = 32  # a batch this large means a stream is flowing: linger for the next one
LINGER_S = 0.003

SUBSCRIBED = (
    Channel.TELEMETRY,
    Channel.EVENT,
    Channel.HEALTH,
    Channel.STATUS,
    Channel.CMD_ACK,
    Channel.CONFIG_REPORTED,
)


def _side_callback(
    handler: Callable[[str, bytes], None],
) -> Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None]:
    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        handler(msg.topic, bytes(msg.payload))

    return on_message


class MqttLink:
    """One hub worker's connection to the broker."""

    def __init__(
        self,
        broker_url: str,
        pipeline: Pipeline,
        metrics: HubMetrics,
        *,
        client_id: str = "govedge-hub",
        mqtt_version: str = "5",
        shared_group: str = "",
        queue_size: int = 20_000,
        batch_size: int = 2_000,
        keepalive: int = 30,
        tls: dict[str, str] | None = None,
    ) -> None:
        self.url = BrokerURL.parse(broker_url)
        self.pipeline = pipeline
        self.metrics = metrics
        self.root = pipeline.root
        self.shared_group = shared_group
        self.batch_size = batch_size
        self.queue_size = queue_size
        self._inbox: deque[tuple[Raw, int]] = deque()
        self._acks: deque[int] = deque()
        self._work = threading.Event()
        self._space = threading.Event()
        self._last_batch = 0
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self.v5 = mqtt_version == "5"
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311,
            clean_session=None if self.v5 else False,
            manual_ack=True,
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        if tls or self.url.tls:
            tls = tls or {}
            self.client.tls_set(
                ca_certs=tls.get("ca"), certfile=tls.get("cert"), keyfile=tls.get("key")
            )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.keepalive = keepalive
        self.hub_boot_id = uuid.uuid4().hex
        self._seq = 0
        self._seq_lock = threading.Lock()
        self.side_subscriptions: dict[str, Callable[[str, bytes], None]] = {}
        """Topics outside the device tree (the broker's $SYS counters) and their handlers, run on
        the network thread at QoS 0: never queued behind ingestion, never acknowledged."""

    # lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._writer = threading.Thread(target=self._write_loop, name="hub-ingest", daemon=True)
        self._writer.start()
        props = None
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 86400
            props.ReceiveMaximum = 65535
        self.client.connect_async(
            self.url.host,
            self.url.port,
            keepalive=self.keepalive,
            clean_start=False if self.v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )
        self.client.loop_start()
        log.info("hub_mqtt_starting", extra=fields(broker=str(self.url), v5=self.v5))

    def pending(self) -> int:
        """Messages taken from the broker and not yet handed to the pipeline."""
        return len(self._inbox)

    def stop(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()
        if self._writer:
            self._writer.join(10)

    # callbacks (network thread) ----------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if rc.is_failure:
            log.error("hub_mqtt_refused", extra=fields(reason=str(rc)))
            return
        if not _f.session_present:
            self._acks.clear()  # packet ids of a session the broker no longer has
        subs = []
        for channel in SUBSCRIBED:
            topic = subscription(channel, self.root)
            if self.shared_group and self.v5:
                topic = f"$share/{self.shared_group}/{topic}"
            subs.append((topic, 1))
        for side, handler in self.side_subscriptions.items():
            client.message_callback_add(side, _side_callback(handler))
            subs.append((side, 0))
        client.subscribe(subs)
        self.connected.set()
        log.info("hub_mqtt_connected", extra=fields(broker=str(self.url), subscriptions=len(subs)))

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("hub_mqtt_disconnected", extra=fields(reason=str(rc)))

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._send_acks()
        if len(self._inbox) >= self.queue_size:
            # Full: this thread stops reading, and the broker holds the backlog.
            self._space.clear()
            while len(self._inbox) >= self.queue_size and not self._stop.is_set():
                self._space.wait(0.5)
                self._send_acks()
        self._inbox.append(
            (Raw(msg.topic, bytes(msg.payload), time.time()), msg.mid if msg.qos else 0)
        )
        if not self._work.is_set():
            self._work.set()

    def _send_acks(self) -> None:
        acks = self._acks
        while acks:
            try:
                mid = acks.popleft()
            except IndexError:  # the other thread took the last one
                return
            self.client.ack(mid, 1)

    # writer thread -----------------------------------------------------------------------

    def _take_batch(self) -> list[tuple[Raw, int]]:
        inbox = self._inbox
        if not inbox:
            self._work.clear()
            if not inbox:  # checked again: a message may have come in before the clear
                self._work.wait(0.2)
                return []
        # Take what is waiting, up to a batch; an empty inbox closes the batch at once, so a
        # lone alarm-worthy reading is not held back, while a backlog still batches. Under a
        # steady stream (the last batch was not small) wait a moment for more first: each batch
        # costs a GIL hand-over back from its store statement, which waits for the network
        # thread to give the GIL up, so many small batches would cost more than the messages.
        if self._last_batch >= BUSY_BATCH and len(inbox) < self.batch_size:
            time.sleep(LINGER_S)
        batch = []
        for _ in range(min(len(inbox), self.batch_size)):
            batch.append(inbox.popleft())
        self._space.set()
        self._last_batch = len(batch)
        return batch

    def _write_loop(self) -> None:
        while not self._stop.is_set() or self._inbox:
            batch = self._take_batch()
            if not batch:
                continue
            self.metrics.queue_depth.set(len(self._inbox))
            try:
                self.pipeline.process([raw for raw, _ in batch])
            except Exception:
                # Storage failed: leave the batch unacknowledged so the broker redelivers it
                # after reconnect, and make the connection start over.
                log.exception("ingest_batch_failed", extra=fields(size=len(batch)))
                time.sleep(1.0)
                self.client.reconnect()
                continue
            self._acks.extend(mid for _, mid in batch if mid)
            if not self._inbox:
                self._send_acks()  # nothing is coming in to carry them

    # publishing --------------------------------------------------------------------------

    def next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            return self._seq

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, qos: int = 1) -> bool:
        """Publish from any thread; False if the client is not connected."""
        if not self.connected.is_set():
            return False
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS
