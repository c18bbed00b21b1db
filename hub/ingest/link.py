"""The hub's MQTT client: two sessions, an alarm lane and a bulk lane, and command publishing.

**Two lanes.** The broker keeps one ordered queue per session, so an alarm-worthy message sent
on the same session as the telemetry waits behind every reading queued before it, and that queue
grows whenever the hub cannot keep up. The hub therefore holds two sessions:

- the **alarm lane** (client id ``<client_id>-alarm``) subscribes to events, status, health,
  command acknowledgements, reported configs, and the telemetry of every device a telemetry rule
  watches (one subscription per device, kept in step with the rules and the registry). Its
  writer decides each message at once (deduplicate, registry, rules) and hands the telemetry to
  a storer thread of its own, so neither a telemetry backlog nor a slow or stalled telemetry
  store delays an alarm;
- the **bulk lane** (``<client_id>``) subscribes to all telemetry and stores it in large
  batches: the writer waits up to ``BULK_LINGER_S`` for a batch to fill, so a backlog makes
  batches larger, never smaller.

A watched device's reading arrives on both sessions; whichever lane accepts it first decides
and stores it, and deduplication by (device, boot id, seq) drops the other copy. Rules run before
the telemetry store on both lanes, in acceptance order.

**Back-pressure and acknowledgements.** Each lane's network thread appends to a bounded inbox
and stops reading when it is full, so a burst waits in the broker instead of in the hub's memory.
A message is PUBACKed only after it is stored; a batch whose store fails is retried in place
(with a growing pause) and acknowledged once stored, so nothing acknowledged is lost, and a hub
that dies before that is sent the messages again.

The threads share one GIL, so the hand-off is cheap: a deque each way instead of a queue with
its locks, and the PUBACKs of a stored batch are sent by the network thread as it takes the next
messages (the writer sends them itself only when nothing more is coming).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.matcher import MQTTMatcher
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from govedge.broker import BrokerURL
from govedge.contract import DEVICE_CHANNELS, Channel, TopicError, parse_topic, subscription, topic
from govedge.logs import fields
from hub.ingest.pipeline import Decided, Pipeline, Raw
from hub.metrics import HubMetrics

log = logging.getLogger("govedge.hub.mqtt")

BULK_LINGER_S = 0.02
"""How long the bulk writer waits for a batch to fill. Telemetry storage is not on the alarm
path, so waiting costs nothing that matters; each batch has a fixed cost (a store statement, a
registry pass, and a GIL hand-over back from the statement), which a full batch spreads thin."""
DECIDE_CHUNK = 100
"""Messages of a bulk batch decided per hold of the ingest lock (a millisecond or two of work): the
alarm lane, which takes the lock ahead of the bulk lane, waits for at most one such chunk."""
LANE_SYNC_S = 2.0  # how often the alarm lane brings its per-device subscriptions up to date
RETRY_MIN_S, RETRY_MAX_S = 0.5, 5.0  # pause between attempts to store a batch that failed
SUBSCRIBE_CHUNK = 500  # topic filters per SUBSCRIBE packet

ALARM_CHANNELS = tuple(c for c in Channel if c in DEVICE_CHANNELS and c != Channel.TELEMETRY)
"""What the alarm lane takes whole: every channel a device writes (the contract's) but telemetry."""
SUBSCRIBED = (Channel.TELEMETRY, *ALARM_CHANNELS)

Watched = Callable[[], "set[str] | None"]
"""Devices whose telemetry the rules read; None: every device's."""


class TopicMatcher(MQTTMatcher):
    """paho's trie of the callbacks' topic filters, matched without a recursive closure.

    paho looks up every message received in this trie; its own ``iter_match`` builds a closure
    that refers to itself, a dozen objects of cyclic garbage per message, which only the cyclic
    collector frees. Under a flood that garbage set off a young collection every few hundred
    messages, a full one every two seconds (50 to 100 ms, every thread of the hub stopped), and
    alarms waited for them. Matched here with a stack of its own: nothing is left for the
    collector. Same filters, same matches.
    """

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # paho's is unannotated

    def iter_match(self, topic: str) -> Iterator[Any]:
        """The values of every filter that matches ``topic`` (``+``, ``#``; a ``$`` topic is
        matched by no wildcard at its first level)."""
        root = self._root
        if not root._children:
            return iter(())
        parts = topic.split("/")
        normal = not topic.startswith("$")
        last = len(parts)
        found = []
        stack = [(root, 0)]
        while stack:
            node, i = stack.pop()
            children = node._children
            wild = normal or i > 0
            if i == last:
                if node._content is not None:
                    found.append(node._content)
            else:
                if "+" in children and wild:
                    stack.append((children["+"], i + 1))
                child = children.get(parts[i])
                if child is not None:
                    stack.append((child, i + 1))
            if "#" in children and wild:
                content = children["#"]._content
                if content is not None:
                    found.append(content)
        return iter(found)


class _Session:
    """One MQTT session and its inbox: the network thread's side of one lane."""

    def __init__(
        self,
        link: MqttLink,
        lane: str,
        client_id: str,
        queue_size: int,
        batch_size: int,
        tls: dict[str, str] | None,
    ) -> None:
        self.link = link
        self.lane = lane
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.inbox: deque[tuple[str, bytes, float, int]] = deque()
        """(topic, payload, received, packet id): a tuple of plain values, which the cyclic
        garbage collector stops tracking, where a ``Raw`` would be scanned by every collection
        while a backlog waits here (see ``take``)."""
        self.acks: deque[int] = deque()
        self.held: deque[tuple[dict[tuple[str, str], int], list[int]]] = deque()
        """Stored batches' packet ids waiting for their streams' save (``Pipeline.saved``), in
        order; under ``_held_lock`` (the alarm lane's writer and storer both add to it)."""
        self._held_lock = threading.Lock()
        self.work = threading.Event()
        self.full = threading.Event()  # the inbox holds a whole batch
        self.space = threading.Event()
        self.connected = threading.Event()
        self.taken = 0  # messages taken from the broker (written by the network thread only)
        self.done = 0  # of those, acknowledged (or QoS 0 and stored)
        self._done_lock = threading.Lock()
        self.paused_s = 0.0
        self.paused_since = 0.0  # when the current pause began (0: reading)
        self.lag_s = 0.0  # age (device time) of the oldest message of the last stored batch
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if link.v5 else mqtt.MQTTv311,
            clean_session=None if link.v5 else False,
            manual_ack=True,
        )
        # Before any callback is added: the trie of topic filters paho matches each message in.
        self.client._on_message_filtered = TopicMatcher()
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        if tls or link.url.tls:
            tls = tls or {}
            self.client.tls_set(
                ca_certs=tls.get("ca"), certfile=tls.get("cert"), keyfile=tls.get("key")
            )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.subscriptions: Callable[[], list[str]] = lambda: []
        self.on_suback: Callable[[int], None] = lambda _mid: None
        self.on_connected: Callable[[], None] = lambda: None
        self.side: dict[str, Callable[[str, bytes], None]] = {}
        self.defers = False  # the bulk lane of a split link: steps aside for the alarm lane
        self.announces = False  # the alarm lane of a split link: its messages come first

    def start(self) -> None:
        props = None
        if self.link.v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho's is unannotated
            props.SessionExpiryInterval = 86400
            props.ReceiveMaximum = 65535
        self.client.connect_async(
            self.link.url.host,
            self.link.url.port,
            keepalive=self.link.keepalive,
            clean_start=False if self.link.v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def close(self) -> None:
        """Give back the client's sockets, once no thread of the hub uses the client any more.
        paho closes its socket pair only when the client is collected, and a session holds a
        reference cycle; a process that starts and stops hubs (the tests, a restart in place)
        would pile up descriptors until then."""
        self.client._reset_sockets()

    def filter(self, topic_filter: str) -> str:
        group = self.link.shared_group
        return f"$share/{group}/{topic_filter}" if group and self.link.v5 else topic_filter

    def subscribe(self, filters: list[str]) -> list[int]:
        mids = []
        for i in range(0, len(filters), SUBSCRIBE_CHUNK):
            chunk = [(self.filter(f), 1) for f in filters[i : i + SUBSCRIBE_CHUNK]]
            rc, mid = self.client.subscribe(chunk)
            if rc == mqtt.MQTT_ERR_SUCCESS and mid is not None:
                mids.append(mid)
        return mids

    # callbacks (network thread) ---------------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any = None
    ) -> None:
        if rc.is_failure:
            log.error("hub_mqtt_refused", extra=fields(lane=self.lane, reason=str(rc)))
            return
        if not flags.session_present:
            self.acks.clear()  # packet ids of a session the broker no longer has
            with self._held_lock:
                self.held.clear()
        filters = self.subscriptions()
        self.subscribe(filters)
        for side, handler in self.side.items():  # never shared: every worker reads them
            client.message_callback_add(side, _side_callback(handler))
            client.subscribe(side, 0)
        self.connected.set()
        self.on_connected()
        log.info(
            "hub_mqtt_connected",
            extra=fields(broker=str(self.link.url), lane=self.lane, subscriptions=len(filters)),
        )

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        self.connected.clear()
        self.link.connected.clear()
        if not self.link.stopping.is_set():
            log.warning("hub_mqtt_disconnected", extra=fields(lane=self.lane, reason=str(rc)))

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, _rc: Any, _p: Any = None) -> None:
        self.on_suback(mid)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if self.defers:
            self.link.pipeline.defer()  # the alarm lane first (see Pipeline.defer)
        self.send_acks()
        inbox = self.inbox
        if len(inbox) >= self.queue_size:
            # Full: this thread stops reading, and the broker holds the backlog.
            self.space.clear()
            paused = self.paused_since = time.monotonic()
            while len(inbox) >= self.queue_size and not self.link.stopping.is_set():
                self.space.wait(0.5)
                self.send_acks()
            self.paused_s += time.monotonic() - paused
            self.paused_since = 0.0
        inbox.append((msg.topic, bytes(msg.payload), time.time(), msg.mid if msg.qos else 0))
        if self.announces:
            self.link.pipeline.announce()
        self.taken += 1
        if not self.work.is_set():
            self.work.set()
        if len(inbox) >= self.batch_size and not self.full.is_set():
            self.full.set()

    def send_acks(self) -> None:
        acks = self.acks
        while acks:
            try:
                mid = acks.popleft()
            except IndexError:  # the other thread took the last one
                return
            self.client.ack(mid, 1)

    # writer side ------------------------------------------------------------------------------

    def take(self, linger: float) -> list[tuple[Raw, int]]:
        """Up to a batch of waiting messages; [] after a short idle wait.

        With ``linger``, wait up to that long for a whole batch once the first message is in.
        """
        inbox = self.inbox
        if not inbox:
            self.work.clear()
            if not inbox:  # checked again: a message may have come in before the clear
                self.work.wait(0.2)
                return []
        if linger and len(inbox) < self.batch_size:
            self.full.clear()
            if len(inbox) < self.batch_size:  # again, after the clear
                self.full.wait(linger)
        batch = []
        pop = inbox.popleft
        for _ in range(min(len(inbox), self.batch_size)):
            name, payload, received, mid = pop()
            batch.append((Raw(name, payload, received), mid))
        self.space.set()
        return batch

    @property
    def unacked(self) -> int:
        """Messages taken from the broker and not yet acknowledged (stored)."""
        return self.taken - self.done

    def acknowledge(
        self, mids: Iterable[int], marks: dict[tuple[str, str], int] | None = None
    ) -> None:
        """A batch is stored: PUBACK its messages, once its streams' deltas are saved if
        ``marks`` (``Decided.marks``) says they must be."""
        mids = list(mids)
        with self._done_lock:
            self.done += len(mids)
        if marks or self.held:  # in order: behind batches still held
            with self._held_lock:
                self.held.append((marks or {}, mids))
            self.release()
            return
        self.acks.extend(mid for mid in mids if mid)
        if not self.inbox:
            self.send_acks()  # nothing is coming in to carry them

    def release(self) -> None:
        """Acknowledge the held batches whose streams are saved (the writer's thread)."""
        held = self.held
        saved = self.link.pipeline.saved
        acks = self.acks
        released = False
        with self._held_lock:
            while held and saved(held[0][0]):
                acks.extend(mid for mid in held.popleft()[1] if mid)
                released = True
        if released and not self.inbox:
            self.send_acks()


def _side_callback(
    handler: Callable[[str, bytes], None],
) -> Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None]:
    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        handler(msg.topic, bytes(msg.payload))

    return on_message


class MqttLink:
    """One hub worker's connection to the broker: the alarm lane and the bulk lane."""

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
        alarm_tls: dict[str, str] | None = None,
    ) -> None:
        self.url = BrokerURL.parse(broker_url)
        self.pipeline = pipeline
        self.metrics = metrics
        self.root = pipeline.root
        self.shared_group = shared_group
        self.batch_size = batch_size
        self.queue_size = queue_size
        self.keepalive = keepalive
        self.v5 = mqtt_version == "5"
        self.connected = threading.Event()
        self.stopping = threading.Event()
        # One certificate is one client id (the broker takes the certificate's name for it):
        # with a TLS identity and none of its own for the alarm lane, a second session would
        # replace the first, so the hub keeps one session and evaluates rules before storage.
        self.split = not (tls and tls.get("cert")) or bool(alarm_tls)
        self.alarm = _Session(
            self,
            "alarm",
            f"{client_id}-alarm" if self.split else client_id,
            queue_size,
            batch_size,
            alarm_tls or tls,
        )
        self.bulk = _Session(self, "bulk", client_id, queue_size, batch_size, tls)
        self.bulk.subscriptions = lambda: [subscription(Channel.TELEMETRY, self.root)]
        self.bulk.defers = self.alarm.announces = self.split
        self.alarm.subscriptions = self._alarm_filters
        self.alarm.on_suback = self._on_alarm_suback
        self.bulk.on_connected = self.alarm.on_connected = self._on_connected
        self.sessions = (self.alarm, self.bulk) if self.split else (self.alarm,)
        for session in self.sessions:
            metrics.store_failures.labels(session.lane)  # shown at 0 from the start
        self.watched: Watched | None = None
        """Set by the rules: which devices' telemetry goes through the alarm lane."""
        self._watching: set[str] | None = set()  # subscribed on the alarm lane (None: all)
        self._asked: set[str] | None = set()  # sent, SUBACK may still be due
        self._suback_due: dict[int, set[str] | None] = {}
        self._sub_lock = threading.Lock()
        self._synced = 0.0
        self._stored: deque[tuple[Decided, list[int]]] = deque()  # alarm lane's telemetry
        self._store_work = threading.Event()
        self._in_store = 0  # messages of the alarm lane being stored now
        self._threads: list[threading.Thread] = []
        self.hub_boot_id = uuid.uuid4().hex
        self._seq = 0
        self._seq_lock = threading.Lock()
        self.client = self.alarm.client  # commands and configs go out on the alarm session
        self.side_subscriptions = self.alarm.side
        """Topics outside the device tree (the broker's $SYS counters) and their handlers, on
        the alarm session at QoS 0: never queued behind ingestion, never acknowledged."""

    # lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the lanes' worker threads and connect their sessions; returns at once
        (``connected`` is set once every session is up). Call once."""
        loops = [
            (self._alarm_loop, "hub-alarm-lane"),
            (self._alarm_store_loop, "hub-ingest"),
            (self._sync_loop, "hub-lane-sync"),
        ]
        if self.split:
            loops.append((self._bulk_loop, "hub-bulk-ingest"))
        for target, name in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        if not self.split:
            self._asked = None  # one session: it takes every device's telemetry
            log.warning(
                "alarm_lane_shares_session",
                extra=fields(
                    reason="tls identity without alarm_tls_cert: alarms queue behind telemetry "
                    "at the broker"
                ),
            )
        self.sync_watched()
        for session in self.sessions:
            session.start()
        log.info("hub_mqtt_starting", extra=fields(broker=str(self.url), v5=self.v5))

    def pending(self) -> int:
        """Messages taken from the broker and not yet handed to the pipeline."""
        return sum(len(s.inbox) for s in self.sessions)

    def stop(self) -> None:
        """Stop the sessions and join the worker threads (up to 10 s each); the sessions are closed
        only if every thread has ended, so a stuck thread never uses a closed client."""
        self.stopping.set()
        for session in self.sessions:
            session.stop()
        for thread in self._threads:
            thread.join(10)
        if not any(thread.is_alive() for thread in self._threads):
            for session in self.sessions:
                session.close()

    def _on_connected(self) -> None:
        if all(s.connected.is_set() for s in self.sessions):
            self.connected.set()

    def lanes(self) -> dict[str, dict[str, float]]:
        """Each lane's backlog in the hub, for /metrics, the health API and the consoles."""
        out = {}
        for s in self.sessions:
            out[s.lane] = {
                "inbox": len(s.inbox),
                "unacked": max(0, s.unacked),
                "paused_s": round(s.paused_s, 3),
                "lag_s": round(s.lag_s, 3),
                "connected": s.connected.is_set(),
            }
        waiting = sum(len(mids) for _, mids in list(self._stored))
        out["alarm"]["awaiting_store"] = waiting + self._in_store
        out["alarm"]["watched_devices"] = -1 if self._watching is None else len(self._watching)
        return out

    # the alarm lane's subscriptions ----------------------------------------------------------

    def watching(self) -> set[str] | None:
        """Devices whose telemetry the alarm lane receives (SUBACKed); None: every device."""
        return None if self._watching is None else set(self._watching)

    def _telemetry_filter(self, device_id: str) -> str:
        return topic(device_id, Channel.TELEMETRY, self.root)

    def _alarm_filters(self) -> list[str]:
        with self._sub_lock:
            return self._connect_filters()

    def _connect_filters(self) -> list[str]:
        filters = [subscription(c, self.root) for c in ALARM_CHANNELS]
        asked = self._asked
        if asked is None:
            filters.append(subscription(Channel.TELEMETRY, self.root))
        else:
            filters += [self._telemetry_filter(d) for d in sorted(asked)]
        # A reconnect re-sends the whole set (the session may be new).
        self._suback_due.clear()
        self._watching = set() if asked is not None else None
        return filters

    def _on_alarm_suback(self, mid: int) -> None:
        with self._sub_lock:  # the SUBACK may come before sync_watched has noted its mid
            self._suback(mid)

    def _suback(self, mid: int) -> None:
        devices = self._suback_due.pop(mid, set())
        if devices is None:
            self._watching = None
        elif self._watching is not None:
            self._watching |= devices
        if not self._suback_due and self._asked is not None and self._watching is not None:
            self._watching |= self._asked  # the connect-time subscription covered them all

    def sync_watched(self) -> None:
        """Bring the alarm lane's telemetry subscriptions in step with the rules."""
        self._synced = time.monotonic()
        if self.watched is None or not self.split:
            return
        try:
            want = self.watched()
        except Exception:  # a registry hiccup: keep the current set, try again later
            log.exception("alarm_lane_sync_failed")
            return
        asked = self._asked
        if want == asked:
            return
        with self._sub_lock:
            self._subscribe_watched(want, asked)
        count = -1 if want is None else len(want)
        self.metrics.lane_watched.set(count)
        log.info("alarm_lane_watching", extra=fields(devices=count))

    def _subscribe_watched(self, want: set[str] | None, asked: set[str] | None) -> None:
        self._asked = want
        # Before the subscription: a reading may then wait for a copy that never comes (harmless,
        # bounded), never count the lane's copy as a device's repeat.
        # Never shrunk: a copy expected in vain costs a little memory (bounded), a copy not
        # expected is counted as a device's repeat.
        doubled = self.pipeline.doubled
        if want is None or doubled is None:
            self.pipeline.doubled = None
        else:
            self.pipeline.doubled = doubled | want
        if not self.alarm.connected.is_set():
            return  # sent in full at connect
        everything = subscription(Channel.TELEMETRY, self.root)
        if want is None:
            for mid in self.alarm.subscribe([everything]):
                self._suback_due[mid] = None
        else:
            new = sorted(want - (asked or set()))
            mids = self.alarm.subscribe([self._telemetry_filter(d) for d in new])
            for i, mid in enumerate(mids):
                self._suback_due[mid] = set(new[i * SUBSCRIBE_CHUNK : (i + 1) * SUBSCRIBE_CHUNK])
            gone = sorted((asked or set()) - want)
            if asked is None:
                gone_filters = [everything]
                self._watching = set()
            else:
                gone_filters = [self._telemetry_filter(d) for d in gone]
                if self._watching is not None:
                    self._watching -= set(gone)
            for i in range(0, len(gone_filters), SUBSCRIBE_CHUNK):
                chunk = [self.alarm.filter(f) for f in gone_filters[i : i + SUBSCRIBE_CHUNK]]
                self.alarm.client.unsubscribe(chunk)

    # writer threads ---------------------------------------------------------------------------

    def _bulk_loop(self) -> None:
        session = self.bulk
        while not self.stopping.is_set():
            batch = session.take(BULK_LINGER_S)
            if not batch:
                self._idle(session)
                continue
            self._update_gauges()
            parts = []
            for i in range(0, len(batch), DECIDE_CHUNK):
                self.pipeline.defer()  # before decoding the chunk: the alarm lane first
                part = self._decide(session, batch[i : i + DECIDE_CHUNK])
                if part is None:
                    break
                parts.append(part)
            else:
                # Stored as one write: the store's cost per batch is what batching spreads.
                whole = Decided.merge(parts)
                if self._store(session, whole):
                    session.acknowledge((mid for _, mid in batch), whole.marks)

    def _alarm_loop(self) -> None:
        session = self.alarm
        while not self.stopping.is_set():
            batch = session.take(0.0)  # never wait: a lone alarm-worthy message goes at once
            if not batch:
                self._idle(session)
                continue
            telemetry: list[tuple[Raw, int]] = []
            others: list[tuple[Raw, int]] = []
            for m in batch:
                (telemetry if self._is_telemetry(m[0].topic) else others).append(m)
            if others:
                decided = self._decide(session, others)
                if session.announces:
                    self.pipeline.settle(len(others))
                if decided is not None and self._store(session, decided):
                    session.acknowledge((mid for _, mid in others), decided.marks)
            if telemetry:
                decided = self._decide(session, telemetry)
                if session.announces:
                    self.pipeline.settle(len(telemetry))
                if decided is not None:
                    # Rules have run; storing waits in a thread of its own, so that a stalled
                    # telemetry store holds up only these acknowledgements.
                    self._stored.append((decided, [mid for _, mid in telemetry]))
                    self._store_work.set()

    def _is_telemetry(self, name: str) -> bool:
        """Whether a topic is a device's telemetry channel (a bad topic is not: the pipeline
        refuses it with the others, counted)."""
        try:
            return parse_topic(name, self.root)[1] is Channel.TELEMETRY
        except TopicError:
            return False

    def _sync_loop(self) -> None:
        """Keep the alarm lane's subscriptions in step with the rules, in a thread of its own:
        reading the rules' scopes from the registry (thousands of devices after a wave of
        births) used to happen between two alarms on the alarm lane's thread."""
        while not self.stopping.wait(max(0.0, self._synced + LANE_SYNC_S - time.monotonic())):
            self.sync_watched()

    def _alarm_store_loop(self) -> None:
        """Store the alarm lane's decided telemetry: all that waits, as one batch."""
        queued = self._stored
        while not self.stopping.is_set():
            if not queued:
                self._store_work.clear()
                if not queued:
                    self._store_work.wait(0.2)
                    continue
            taken = []
            size = 0
            while queued and size < self.batch_size:
                taken.append(queued.popleft())
                size += len(taken[-1][1])
            decided = Decided.merge([d for d, _ in taken])
            self._in_store = size
            stored = self._store(self.alarm, decided)
            self._in_store = 0
            if stored:
                self.alarm.acknowledge((mid for _, mids in taken for mid in mids), decided.marks)
            else:
                return  # stopping

    def _idle(self, session: _Session) -> None:
        try:
            self.pipeline.idle(urgent=session is self.alarm and self.split)
        except Exception:  # the registry is down: the next batch or idle moment tries again
            log.exception("ingest_idle_failed")
        if session.held:
            session.release()

    def _decide(self, session: _Session, batch: list[tuple[Raw, int]]) -> Decided | None:
        """The batch decided (rules run); None if stopping. A registry failure is retried."""
        delay = RETRY_MIN_S
        urgent = session is self.alarm and self.split
        while not self.stopping.is_set():
            try:
                return self.pipeline.decide([raw for raw, _ in batch], urgent=urgent)
            except Exception as exc:  # noqa: BLE001 - a writer thread must not die; retried, counted
                self._failed(session, "registry", exc, len(batch))
                self.stopping.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
        return None

    def _store(self, session: _Session, decided: Decided) -> bool:
        """Store a decided batch, retrying in place until it is stored; False if stopping."""
        delay = RETRY_MIN_S
        urgent = session is self.alarm and self.split
        while True:
            try:
                self.pipeline.store_telemetry(decided, forget=False, urgent=urgent)
            except Exception as exc:  # noqa: BLE001 - a writer thread must not die; retried, counted
                self._failed(session, "telemetry", exc, len(decided.readings))
                if self.stopping.wait(delay):
                    # Not acknowledged: the broker sends it again, and it is taken as new.
                    self.pipeline.forget(decided)
                    return False
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self.pipeline.finish(decided)
            if decided.oldest_ts:
                session.lag_s = max(0.0, time.time() - decided.oldest_ts)
                self.metrics.lag.labels(session.lane).set(session.lag_s)
            return True

    def _failed(self, session: _Session, what: str, exc: Exception, size: int) -> None:
        self.metrics.store_failures.labels(session.lane).inc()
        log.warning(
            "ingest_store_failed",
            extra=fields(lane=session.lane, store=what, size=size, error=str(exc)[:300]),
        )

    def update_gauges(self) -> None:
        """Bring the lanes' gauges in /metrics up to date (called when they are scraped)."""
        self._update_gauges()

    def _update_gauges(self) -> None:
        metrics = self.metrics
        metrics.queue_depth.set(self.pending())
        for s in self.sessions:
            metrics.inbox.labels(s.lane).set(len(s.inbox))
            metrics.unacked.labels(s.lane).set(max(0, s.unacked))
            since = s.paused_since  # a pause still going on counts up to now
            ongoing = time.monotonic() - since if since else 0.0
            metrics.paused.labels(s.lane).set(s.paused_s + ongoing)

    # publishing --------------------------------------------------------------------------

    def next_seq(self) -> int:
        """The next sequence number for the envelopes this hub publishes; thread-safe."""
        with self._seq_lock:
            self._seq += 1
            return self._seq

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, qos: int = 1) -> bool:
        """Publish from any thread; False if the client is not connected.

        Commands and configs go out on the alarm lane's session, whose network thread never
        waits for a full inbox.
        """
        if not self.alarm.connected.is_set():
            return False
        info = self.alarm.client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS
