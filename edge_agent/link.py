"""The MQTT link: one thread that connects, keeps the retained status true, drains the outbox with
QoS 1 and deletes each row on its PUBACK, and reconnects with exponential backoff and full jitter.

Each connection uses a fresh paho client, so that nothing from a dead connection is retransmitted
behind the outbox's back: after every (re)connect the drain restarts at the oldest unacknowledged
row, in order. The outbox is the only queue; paho only holds the in-flight window.
"""

from __future__ import annotations

import dataclasses
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge_agent.backoff import Backoff
from edge_agent.identity_trial import IdentityTrials
from edge_agent.outbox import Outbox
from govedge.logs import fields, get_logger

log = get_logger(__name__)

CONNACK_TIMEOUT_S = 10.0
"""How long a connection may wait for the broker's CONNACK before it counts as failed and the
link retries. Without it a broker that accepts TCP but never answers (stopped, overloaded, a
socket left in its backlog across a restart) held the link until the keepalive (60 s) ran out."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSettings:
    """Everything the link needs to reach the broker, taken from the device config.

    No defaults here: they are declared once, in firmware_configs.schema (BrokerConfig,
    PublishConfig), and a second set would drift from them."""

    host: str
    port: int
    client_id: str
    mqtt_version: str
    keepalive_s: int
    tls: bool
    ca_file: str
    cert_file: str
    key_file: str
    session_expiry_s: int
    reconnect_min_s: float
    reconnect_max_s: float
    max_inflight: int
    batch: int
    replay_rate_per_s: float  # 0: unlimited


@dataclass(slots=True)
class LinkCounters:
    """What the link has done since start (read by metrics and health)."""

    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    published: int = 0
    acknowledged: int = 0
    rejected: int = 0
    births: int = 0
    stale_wills_overridden: int = 0
    last_error: str = ""


class _RateLimiter:
    """A token bucket: ``rate`` messages a second, bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(max(burst, 1))
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def allowance(self) -> int:
        if self.rate <= 0:
            return 1 << 30
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return int(self.tokens)

    def spend(self, n: int) -> None:
        if self.rate > 0:
            self.tokens -= n


class MqttLink:
    """The device's connection to the broker, run in its own thread."""

    def __init__(
        self,
        settings: LinkSettings,
        outbox: Outbox,
        *,
        status_topic: str,
        make_birth: Callable[[float], bytes],
        make_will: Callable[[float], bytes],
        subscriptions: list[str],
        on_message: Callable[[str, bytes], None],
        is_stale_offline: Callable[[bytes], bool],
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.status_topic = status_topic
        # make_will(ts) and make_birth(ts) get the connection's stamp: the hub tells the will of
        # an earlier connection (stamped before this birth) from this one's (contract Status).
        self.make_birth = make_birth
        self.make_will = make_will
        self._connection_ts = 0.0
        self.subscriptions = subscriptions
        self.on_message = on_message
        self.is_stale_offline = is_stale_offline
        self.on_state = on_state
        self.counters = LinkCounters()
        self.connected = False
        self._stop = threading.Event()
        self._final_status: bytes | None = None
        self._thread: threading.Thread | None = None
        self._backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s)
        burst = max(settings.batch, int(settings.replay_rate_per_s * 0.05))
        self._limiter = _RateLimiter(settings.replay_rate_per_s, burst)
        # Per connection:
        self._inflight: dict[int, int] = {}
        self._acked: list[int] = []
        self._cursor = 0
        self._window = settings.max_inflight
        self._seen_produced = -1
        self._republish_birth = False
        self._final_mid: int | None = None
        self._final_acked = threading.Event()
        self._drain_until = 0.0
        self.trials = IdentityTrials()
        """Switches to another TLS identity (edge_agent.identity_trial), asked by rotation."""

    # -- control ----------------------------------------------------------------------------

    def start(self) -> None:
        """Run the link in its own daemon thread: it connects, reconnects with backoff and
        publishes the outbox until :meth:`stop`. Returns at once."""
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        self._thread.start()

    def stop(self, final_status: bytes | None = None, drain_s: float = 0.0) -> None:
        """Drain the outbox for up to ``drain_s`` if connected, publish ``final_status``
        (retained), disconnect cleanly and join. What is not drained stays in the outbox."""
        self._final_status = final_status
        self._drain_until = time.monotonic() + drain_s
        self._stop.set()
        self.trials.cancel("link stopping")
        if self._thread is not None:
            self._thread.join(drain_s + 10.0)
            self._thread = None

    def try_identity(
        self, cert_file: str, key_file: str, ca_file: str = "", timeout_s: float = 10.0
    ) -> tuple[bool, str]:
        """Reconnect with another TLS identity and say whether the broker accepted it.

        The current connection is closed cleanly (no last will) and the link connects once with
        the given files: on CONNACK success it stays on them; on any refusal (TLS handshake,
        CONNACK, no answer within ``timeout_s``) it goes straight back to its previous identity.
        Blocks; call it from outside the link's thread. Returns (accepted, reason). The trial's
        bookkeeping is edge_agent.identity_trial's.
        """
        if self._thread is None or self._stop.is_set():
            return False, "link is not running"
        return self.trials.request(self.settings, cert_file, key_file, ca_file, timeout_s)

    def use_identity(self, cert_file: str, key_file: str, ca_file: str = "") -> None:
        """Connect with these files from the next connection on (e.g. once a proven candidate
        was renamed into place); the current connection is left alone."""
        s = self.settings
        self.settings = dataclasses.replace(
            s, cert_file=cert_file, key_file=key_file, ca_file=ca_file or s.ca_file
        )

    def _end_trial(self, reason: str) -> bool:
        """A connection that did not reach CONNACK success: a trial under way is refused and
        the link goes back to its previous identity at once. True if there was one."""
        previous = self.trials.failed(reason)
        if previous is None:
            return False
        self.settings = previous
        self._backoff.reset()
        return True

    def _pause(self, seconds: float) -> None:
        """Wait before reconnecting; an identity trial cuts the wait short."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and self.trials.current is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(min(left, 0.05))

    def _stopping(self) -> bool:
        """True once a stop was asked and the drain (if any) is over."""
        if not self._stop.is_set():
            return False
        if not self.connected or time.monotonic() > self._drain_until:
            return True
        return self.outbox.queued == 0 and not self._inflight

    # -- the thread -------------------------------------------------------------------------

    def _new_client(self) -> mqtt.Client:
        s = self.settings
        v5 = s.mqtt_version == "5"
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else False,
            reconnect_on_failure=False,
        )
        # 0 = no paho limit: the window is ours (with a limit paho rescans its queue per ack).
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(0)
        if s.tls:
            client.tls_set(
                ca_certs=s.ca_file or None,
                certfile=s.cert_file or None,
                keyfile=s.key_file or None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self._connection_ts = time.time()
        client.will_set(
            self.status_topic, self.make_will(self._connection_ts), qos=1, retain=True
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _run(self) -> None:
        while not self._stop.is_set():
            self.settings = self.trials.begin(self.settings)
            s = self.settings
            client = self._new_client()
            try:
                if s.mqtt_version == "5":
                    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves __init__ unannotated
                    props.SessionExpiryInterval = s.session_expiry_s
                    client.connect(
                        s.host, s.port, s.keepalive_s, clean_start=False, properties=props
                    )
                else:
                    client.connect(s.host, s.port, s.keepalive_s)
            except (OSError, ssl.SSLError, ValueError) as exc:
                self.counters.connect_failures += 1
                self.counters.last_error = str(exc)
                log.warning(
                    "mqtt_connect_failed",
                    extra=fields(broker=f"{s.host}:{s.port}", error=str(exc)),
                )
                if not self._end_trial(str(exc)):
                    self._pause(self._backoff.next())
                continue
            connects = self.counters.connects
            try:
                self._session(client)
            except Exception:  # a bug must cost a reconnect, never the link
                log.exception("mqtt_session_failed")
            if self.counters.connects == connects and not self._stop.is_set():
                # The socket opened but no CONNACK came (TLS refused, broker closing): a failure.
                self.counters.connect_failures += 1
                log.warning(
                    "mqtt_connect_failed",
                    extra=fields(
                        broker=f"{s.host}:{s.port}",
                        error="closed before CONNACK, or none within the timeout",
                    ),
                )
            if self._end_trial(self.counters.last_error or "closed before CONNACK"):
                continue
            if self._stop.is_set():
                break
            if self.trials.current is None:
                self._pause(self._backoff.next())

    def _session(self, client: mqtt.Client) -> None:
        """Run one connection until it drops or the link stops."""
        connects = self.counters.connects
        self._inflight = {}
        self._acked = []
        self._cursor = 0
        self._seen_produced = -1
        self._window = self.settings.max_inflight
        last_flush = time.monotonic()
        connack_by = last_flush + min(CONNACK_TIMEOUT_S, float(self.settings.keepalive_s))
        busy = False
        try:
            while not self._stopping():
                if self.trials.waiting:
                    break  # close this connection: the next one tries the new identity
                if not self.connected and self.trials.overdue():
                    break
                rc = client.loop(timeout=0.0 if busy else 0.02)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
                if not self.connected:
                    busy = False
                    if self.counters.connects == connects and time.monotonic() > connack_by:
                        self.counters.last_error = "no CONNACK within the timeout"
                        break  # the caller counts the failure and retries after its backoff
                    continue
                if self._republish_birth:
                    self._republish_birth = False
                    self._publish_birth(client)
                now = time.monotonic()
                if self._acked and (len(self._acked) >= 200 or now - last_flush > 0.02):
                    self._flush_acks()
                    last_flush = now
                busy = self._pump(client)
            self._flush_acks()
            if self._stop.is_set() and self.connected:
                self._goodbye(client)
        finally:
            self._flush_acks()
            if self.connected:
                self._set_connected(False)
            if client.socket() is not None:
                try:
                    client.disconnect()
                except (OSError, ValueError):
                    pass

    def _goodbye(self, client: mqtt.Client) -> None:
        """Publish the final retained status and wait (briefly) for its PUBACK, then disconnect."""
        if self._final_status is not None:
            info = client.publish(self.status_topic, self._final_status, qos=1, retain=True)
            self._final_mid = info.mid
            deadline = time.monotonic() + 2.0
            while not self._final_acked.is_set() and time.monotonic() < deadline:
                if client.loop(timeout=0.02) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
                self._flush_acks()
        self._flush_acks()
        self._set_connected(False)
        client.disconnect()
        client.loop(timeout=0.05)

    def _set_connected(self, up: bool) -> None:
        self.connected = up
        if self.on_state is not None:
            try:
                self.on_state(up)
            except Exception:  # a callback must never kill the link
                log.exception("link_state_callback_failed")

    def _pump(self, client: mqtt.Client) -> bool:
        """Send the next rows of the outbox within the window and the rate; True if more wait."""
        room = self._window - len(self._inflight)
        if room <= 0:
            return False
        produced = self.outbox.produced
        if produced == self._seen_produced:
            return False  # nothing new since the last empty read
        want = min(room, self.settings.batch, self._limiter.allowance())
        if want <= 0:
            return False
        rows = self.outbox.fetch(self._cursor, want)
        if len(rows) < want:
            self._seen_produced = produced
        for row in rows:
            info = client.publish(row.topic, row.payload, qos=1, retain=row.retain)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return False  # the connection is going; the loop notices
            self._inflight[info.mid] = row.id
            self._cursor = row.id
        self._limiter.spend(len(rows))
        self.counters.published += len(rows)
        return len(rows) == want

    def _flush_acks(self) -> None:
        if self._acked:
            acked, self._acked = self._acked, []
            self.outbox.ack(acked)

    def _publish_birth(self, client: mqtt.Client) -> None:
        client.publish(
            self.status_topic, self.make_birth(self._connection_ts), qos=1, retain=True
        )
        self.counters.births += 1

    # -- paho callbacks (in this thread) ----------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self.counters.connect_failures += 1
            self.counters.last_error = str(reason)
            log.warning("mqtt_connect_refused", extra=fields(reason=str(reason)))
            self.trials.refused_by(str(reason))
            return
        receive_max = getattr(properties, "ReceiveMaximum", None) if properties else None
        if receive_max:
            self._window = max(1, min(self.settings.max_inflight, int(receive_max)))
        if self.counters.connects:
            self.counters.reconnects += 1
        self.counters.connects += 1
        self._backoff.reset()
        self._publish_birth(client)
        if self.settings.mqtt_version == "5":
            # No local: our own births need not come back; a will is never our own live echo.
            opts = [(n, SubscribeOptions(qos=1)) for n in self.subscriptions]
            opts.append((self.status_topic, SubscribeOptions(qos=1, noLocal=True)))
            client.subscribe(opts)
        else:
            client.subscribe([(n, 1) for n in [*self.subscriptions, self.status_topic]])
        log.info(
            "mqtt_connected",
            extra=fields(
                broker=f"{self.settings.host}:{self.settings.port}",
                session_present=flags.session_present,
                window=self._window,
            ),
        )
        self._set_connected(True)
        self.trials.accepted()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self.connected:
            log.warning("mqtt_disconnected", extra=fields(reason=str(reason)))
        self.counters.last_error = str(reason)
        self._set_connected(False)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if mid == self._final_mid:
            self._final_acked.set()
        row = self._inflight.pop(mid, None)
        if row is None:
            return
        if reason.is_failure:
            # The broker refused it (not authorised, bad payload); retrying cannot help.
            self.counters.rejected += 1
            log.warning("mqtt_publish_refused", extra=fields(reason=str(reason), row=row))
        else:
            self.counters.acknowledged += 1
        self._acked.append(row)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self.status_topic:
            if self.is_stale_offline(bytes(msg.payload)):
                self.counters.stale_wills_overridden += 1
                log.warning("stale_will_overridden", extra=fields(topic=msg.topic))
                self._republish_birth = True
            return
        try:
            self.on_message(msg.topic, bytes(msg.payload))
        except Exception:
            log.exception("mqtt_message_handler_failed", extra=fields(topic=msg.topic))
