"""Scale mode: thousands of lightweight devices speaking the exact MQTT contract from one asyncio
loop. Each device has a retained birth and last will carrying its boot id, publishes QoS 1
telemetry once per interval with its own sequence numbers, resends unacknowledged messages after
a reconnect, and reconnects with full-jitter exponential backoff. It subscribes to its commands
and desired config and answers them as the edge agent does (sim.fleet.answers): commands
acknowledged or failed, configs reported applied or refused.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from typing_extensions import override

from govedge.broker import BrokerURL, MosquittoBroker
from govedge.contract import (
    Channel,
    CommandAck,
    CommandAckData,
    ConfigReported,
    ContractError,
    Event,
    EventData,
    Health,
    HealthData,
    Status,
    StatusData,
    Telemetry,
    decode_for_topic,
    encode,
    topic,
)
from govedge.contract.messages import DriverHealth
from govedge.contract.stamp import EnvelopeStamper
from govedge.contract.topics import DEFAULT_ROOT
from govedge.errors import GovedgeError
from sim.fleet import mqtt_codec as mq
from sim.fleet.answers import Answer, AnswerCounts, AnswerPolicy, DeviceAnswers
from sim.fleet.layout import POSITION, FleetLayout, SimDeviceSpec
from sim.fleet.scenario import FleetTarget

KEEPALIVE_S = 60
MAX_INFLIGHT = 200
TICKS_PER_INTERVAL = 10
POSITION_JITTER_DEG = 0.0002  # an inspector's fix wanders by about 20 m, not by 1 %


class FleetError(GovedgeError):
    """The simulated fleet could not do what was asked."""


@dataclass(slots=True)
class FleetStats:
    """Counters of the whole fleet since start."""

    devices: int = 0
    connected: int = 0
    connects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    sent: int = 0
    acked: int = 0
    resent: int = 0
    skipped_backlog: int = 0


class LiteDevice(asyncio.Protocol):
    """One device: its MQTT session, values and counters."""

    def __init__(self, spec: SimDeviceSpec, fleet: ScaleFleet) -> None:
        self.spec = spec
        self.fleet = fleet
        self.seq = 0  # the last seq sent; the stamper takes the next from _next_seq
        self.stamper = EnvelopeStamper(spec.device_id, next_seq=self._next_seq)
        self.values: dict[str, float] = dict(spec.baseline)
        self.stuck: set[str] = set()
        self.link_up = asyncio.Event()
        self.link_up.set()
        self.transport: asyncio.Transport | None = None
        self.connected = False
        self._reader = mq.PacketReader()
        self._connack: asyncio.Future[int] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._inflight: dict[int, bytes] = {}
        self._next_pid = 0
        self._connection_ts = 0.0  # the stamp of this connection's will and birth
        self._topic_telemetry = topic(spec.device_id, Channel.TELEMETRY, fleet.root)
        self._topic_status = topic(spec.device_id, Channel.STATUS, fleet.root)
        self._topic_event = topic(spec.device_id, Channel.EVENT, fleet.root)
        self.answers = DeviceAnswers(spec.device_id, fleet.policy, fleet.answer_counts)
        self._held: list[Answer] = []  # answers due while disconnected (the agent's outbox)

    @property
    def boot_id(self) -> str:
        """This run's boot id (the stamper's)."""
        return self.stamper.boot_id

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    # asyncio.Protocol
    @override
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    @override
    def data_received(self, data: bytes) -> None:
        try:
            packets = self._reader.feed(data)
        except mq.MqttProtocolError:
            self.drop()
            return
        for pkt in packets:
            if pkt.kind == mq.PUBACK:
                if self._inflight.pop(pkt.packet_id, None) is not None:
                    self.fleet.stats.acked += 1
            elif pkt.kind == mq.PUBLISH:
                self._from_hub(pkt)
            elif pkt.kind == mq.CONNACK and self._connack and not self._connack.done():
                self._connack.set_result(pkt.connack_code)

    def _from_hub(self, pkt: mq.Packet) -> None:
        try:
            name, qos, pid, payload = pkt.message()
        except mq.MqttProtocolError:
            self.drop()
            return
        if qos and self.transport is not None:
            self.transport.write(mq.puback(pid))
        if not payload:
            return  # a retained message cleared
        try:
            _, _, msg = decode_for_topic(name, payload, self.fleet.root)
        except ContractError:
            self.fleet.answer_counts.hub_messages_refused += 1
            return
        answer = self.answers.handle(msg, self.boot_id)
        if answer is not None:
            self.fleet.reply(self, answer)

    def send_answer(self, answer: Answer) -> None:
        """A command acknowledgement or config report, now (held until the next connection)."""
        if not self.connected:
            self._held.append(answer)
            return
        msg: CommandAck | ConfigReported
        if isinstance(answer, CommandAckData):
            msg = self.stamper.stamp(CommandAck, answer)
            channel = Channel.CMD_ACK
        else:
            msg = self.stamper.stamp(ConfigReported, answer)
            channel = Channel.CONFIG_REPORTED
        self._send_qos1(topic(self.spec.device_id, channel, self.fleet.root), encode(msg))

    @override
    def connection_lost(self, exc: Exception | None) -> None:
        if self.connected:
            self.fleet.stats.connected -= 1
            self.fleet.stats.disconnects += 1
        self.connected = False
        self.transport = None
        self._reader = mq.PacketReader()
        if self._connack and not self._connack.done():
            self._connack.set_result(-1)
        if self._lost and not self._lost.done():
            self._lost.set_result(None)

    # actions
    def drop(self) -> None:
        """Lose the connection abruptly (no DISCONNECT), so the broker publishes the will."""
        if self.transport is not None:
            self.transport.abort()

    def _pid(self) -> int:
        self._next_pid = self._next_pid % 65535 + 1
        return self._next_pid

    def _status(self, online: bool, reason: str = "", ts: float | None = None) -> bytes:
        # A retained status carries the last seq and takes none of its own (as the agent's);
        # a connection's will and birth share ``ts`` (contract Status).
        data = StatusData(
            online=online,
            keepalive=KEEPALIVE_S,
            model=self.spec.model,
            firmware="sim-1",
            reason=reason,
        )
        return encode(self.stamper.stamp(Status, data, seq=self.seq, ts=ts))

    def _send_qos1(self, topic_name: str, payload: bytes, retain: bool = False) -> None:
        if self.transport is None:
            return
        pid = self._pid()
        packet = mq.publish(topic_name, payload, qos=1, packet_id=pid, retain=retain)
        self._inflight[pid] = packet
        self.transport.write(packet)
        self.fleet.stats.sent += 1

    def publish_telemetry(self, noise: float) -> None:
        """Publish the device's values, with ``noise`` (a fraction of each value) on those not
        stuck, as QoS 1 telemetry; skipped while disconnected or with too many unacknowledged.
        """
        if not self.connected:
            return
        if len(self._inflight) >= MAX_INFLIGHT:
            self.fleet.stats.skipped_backlog += 1
            return
        rnd = random.random
        data = {
            k: v if k in self.stuck else v + noise * (abs(v) or 1.0) * (rnd() - 0.5)
            for k, v in self.values.items()
        }
        for k in POSITION:
            if k in data and k not in self.stuck:
                data[k] = self.values[k] + POSITION_JITTER_DEG * (rnd() - 0.5)
        for k in self.stuck:
            self.values[k] = data[k]
        self._send_qos1(self._topic_telemetry, encode(self.stamper.stamp(Telemetry, data)))

    def send_reading(self, data: Mapping[str, float], ts: float) -> None:
        """One telemetry message of the given values and time (a reading kept while offline)."""
        if not self.connected:
            return
        payload = encode(self.stamper.stamp(Telemetry, dict(data), ts=ts))
        self._send_qos1(self._topic_telemetry, payload)

    def send_health(self, drivers: Mapping[str, tuple[str, str]]) -> None:
        """The device's view of its drivers: name -> (state, detail)."""
        if not self.connected:
            return
        health = HealthData(
            drivers={n: DriverHealth(state=st, detail=d) for n, (st, d) in drivers.items()}  # type: ignore[arg-type]
        )
        payload = encode(self.stamper.stamp(Health, health))
        self._send_qos1(topic(self.spec.device_id, Channel.HEALTH, self.fleet.root), payload)

    def send_event(self, kind: str, severity: str, message: str) -> None:
        """Publish an event at QoS 1; nothing is sent (or kept) while disconnected."""
        if not self.connected:
            return
        data = EventData(kind=kind, severity=severity, message=message)  # type: ignore[arg-type]
        payload = encode(self.stamper.stamp(Event, data))
        self._send_qos1(self._topic_event, payload)

    async def _connect_once(self) -> bool:
        fleet = self.fleet
        loop = asyncio.get_running_loop()
        async with fleet.connect_slots:
            try:
                await loop.create_connection(lambda: self, fleet.broker.host, fleet.broker.port)
            except OSError:
                return False
            assert self.transport is not None
            self._connack = loop.create_future()
            self._lost = loop.create_future()
            self._connection_ts = time.time()
            self.transport.write(
                mq.connect(
                    self.spec.device_id,
                    KEEPALIVE_S,
                    will_topic=self._topic_status,
                    will_payload=self._status(False, "connection lost", self._connection_ts),
                )
            )
            try:
                code = await asyncio.wait_for(self._connack, fleet.connect_timeout_s)
            except TimeoutError:
                code = -1
            if code != 0:
                self.drop()
                return False
        self.connected = True
        fleet.stats.connected += 1
        fleet.stats.connects += 1
        unacked = list(self._inflight.values())
        self._send_qos1(
            self._topic_status, self._status(True, ts=self._connection_ts), retain=True
        )
        if self.transport is not None:
            # the hub's commands and desired config (clean session: asked again each time)
            self.transport.write(mq.subscribe(self._pid(), fleet.subscriptions(self)))
        if unacked and self.transport is not None:
            # QoS 1: what the broker never acknowledged goes again, marked as a redelivery.
            for packet in unacked:
                self.transport.write(mq.set_dup(packet))
                fleet.stats.resent += 1
        held, self._held = self._held, []
        for answer in held:
            self.send_answer(answer)
        return True

    async def run(self) -> None:
        """Stay connected while the link is up: connect, wait for loss, back off, again."""
        attempt = 0
        fleet = self.fleet
        while fleet.running:
            await self.link_up.wait()
            if await self._connect_once():
                attempt = 0
                lost = self._lost
                assert lost is not None
                await self._keepalive_until(lost)
                if not fleet.running:
                    return
                delay = random.uniform(0, fleet.backoff_base_s)  # noqa: S311 - jitter, not security
            else:
                fleet.stats.connect_failures += 1
                attempt += 1
                delay = random.uniform(  # noqa: S311 - backoff jitter, not security
                    0, min(fleet.backoff_cap_s, fleet.backoff_base_s * 2**attempt)
                )
            await asyncio.sleep(delay)

    async def _keepalive_until(self, lost: asyncio.Future[None]) -> None:
        while not lost.done():
            try:
                await asyncio.wait_for(asyncio.shield(lost), KEEPALIVE_S / 2)
            except TimeoutError:
                if self.transport is not None:
                    self.transport.write(mq.PINGREQ_PACKET)

    async def disconnect(self) -> None:
        """A clean goodbye: offline status, then DISCONNECT (the will is discarded)."""
        if self.transport is not None and self.connected:
            self.transport.write(
                mq.publish(self._topic_status, self._status(False, "shutdown"), qos=0, retain=True)
            )
            self.transport.write(mq.DISCONNECT_PACKET)
            self.transport.close()


class ScaleFleet(FleetTarget):
    """Many LiteDevices in one asyncio loop, driven by a scenario through the target methods
    (set_value, stick, set_link, send_event, reconnect_storm, restart_broker), or by a test
    (send_reading, send_health, and ``policy`` for which devices refuse configs or fail commands).

    ``interval_s`` 0 publishes no periodic telemetry. ``reply_delay_s`` spaces the devices'
    answers to the hub: each leaves that long after the previous one, as over a slow uplink, so
    a rollout's progress can be watched; 0 answers at once.
    """

    def __init__(
        self,
        layout: FleetLayout,
        broker_url: str,
        interval_s: float = 1.0,
        root: str = DEFAULT_ROOT,
        noise: float = 0.01,
        connect_concurrency: int = 256,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 10.0,
        owned_broker: MosquittoBroker | None = None,
        policy: AnswerPolicy | None = None,
        reply_delay_s: float = 0.0,
    ) -> None:
        self.layout = layout
        self.broker = BrokerURL.parse(broker_url)
        if self.broker.tls:
            raise FleetError("scale mode speaks plain MQTT on loopback; mqtts:// is not supported")
        self.interval_s = interval_s
        self.root = root
        self.noise = noise
        self.connect_timeout_s = 15.0
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.owned_broker = owned_broker
        self.stats = FleetStats(devices=len(layout.devices))
        self.running = False
        self._concurrency = connect_concurrency
        self.connect_slots: asyncio.Semaphore
        self.devices: dict[str, LiteDevice] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.policy = policy or AnswerPolicy()
        self.answer_counts = AnswerCounts()
        self.reply_delay_s = reply_delay_s
        self._replies: deque[tuple[float, LiteDevice, Answer]] = deque()
        self._last_reply_at = 0.0
        self._reply_waiting = asyncio.Event()

    async def start(self) -> None:
        """Start every device (connections open at the pace the connect slots allow)."""
        from govedge.broker import raise_nofile_limit

        limit = raise_nofile_limit(1 << 17)
        if limit < len(self.layout.devices) + 256:
            raise FleetError(
                f"open-file limit {limit} is too low for {len(self.layout.devices)} devices"
            )
        self.connect_slots = asyncio.Semaphore(self._concurrency)
        self.running = True
        self.devices = {s.device_id: LiteDevice(s, self) for s in self.layout.devices}
        self._tasks = [asyncio.create_task(d.run()) for d in self.devices.values()]
        if self.interval_s > 0:
            self._tasks.append(asyncio.create_task(self._ticker()))
        self._tasks.append(asyncio.create_task(self._pacer()))

    def subscriptions(self, dev: LiteDevice) -> list[tuple[str, int]]:
        """The topics, with QoS, a device subscribes to after each connect: commands and desired
        config.
        """
        device_id = dev.spec.device_id
        return [
            (topic(device_id, Channel.CMD, self.root), 1),
            (topic(device_id, Channel.CONFIG_DESIRED, self.root), 1),
        ]

    def reply(self, dev: LiteDevice, answer: Answer) -> None:
        """Send a device's answer now, or ``reply_delay_s`` after the previous one."""
        if self.reply_delay_s <= 0 and not self._replies:
            dev.send_answer(answer)
            return
        due = max(self._last_reply_at, time.monotonic()) + self.reply_delay_s
        self._last_reply_at = due
        self._replies.append((due, dev, answer))
        self._reply_waiting.set()

    async def _pacer(self) -> None:
        while self.running:
            if not self._replies:
                self._reply_waiting.clear()
                await self._reply_waiting.wait()
                continue
            due, dev, answer = self._replies[0]
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
                continue
            self._replies.popleft()
            dev.send_answer(answer)

    async def wait_connected(self, count: int | None = None, within_s: float = 60.0) -> bool:
        """True once ``count`` (default: all) devices are connected."""
        want = len(self.devices) if count is None else count
        deadline = time.monotonic() + within_s
        while self.stats.connected < want:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _ticker(self) -> None:
        devices = list(self.devices.values())
        step = self.interval_s / TICKS_PER_INTERVAL
        tick = 0
        next_at = time.monotonic()
        while self.running:
            slot = tick % TICKS_PER_INTERVAL
            for dev in devices[slot::TICKS_PER_INTERVAL]:
                dev.publish_telemetry(self.noise)
            tick += 1
            next_at += step
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def stop(self) -> None:
        """Disconnect every device and cancel the fleet's tasks."""
        self.running = False
        for dev in self.devices.values():
            await dev.disconnect()
        await asyncio.sleep(0.05)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for dev in self.devices.values():
            dev.drop()

    def status_line(self) -> str:
        """One line for the console: connections, messages sent and acknowledged, reconnects."""
        s = self.stats
        return (
            f"connected {s.connected}/{s.devices}  sent {s.sent}  acked {s.acked}  "
            f"reconnects {s.disconnects}  connect failures {s.connect_failures}"
        )

    # scenario target
    @override
    def specs(self) -> tuple[SimDeviceSpec, ...]:
        return self.layout.devices

    @override
    def set_value(self, device_id: str, quantity: str, value: float) -> None:
        dev = self.devices[device_id]
        if quantity not in dev.stuck:
            dev.values[quantity] = value

    @override
    def stick(self, device_id: str, quantity: str, stuck: bool) -> None:
        dev = self.devices[device_id]
        if stuck:
            dev.stuck.add(quantity)
        else:
            dev.stuck.discard(quantity)

    @override
    def set_link(self, device_ids: Iterable[str], up: bool) -> None:
        for device_id in device_ids:
            dev = self.devices[device_id]
            if up:
                dev.link_up.set()
            else:
                dev.link_up.clear()
                dev.drop()

    @override
    def send_event(self, device_id: str, kind: str, severity: str, message: str) -> None:
        self.devices[device_id].send_event(kind, severity, message)

    def send_reading(self, device_id: str, data: Mapping[str, float], ts: float) -> None:
        """Publish one telemetry message of ``data`` stamped ``ts`` (a reading kept while offline);
        nothing is sent while the device is disconnected.
        """
        self.devices[device_id].send_reading(data, ts)

    def send_health(self, device_id: str, drivers: Mapping[str, tuple[str, str]]) -> None:
        """Publish the device's view of its drivers: name -> (state, detail); nothing is sent
        while the device is disconnected.
        """
        self.devices[device_id].send_health(drivers)

    def reconnect_storm(self) -> None:
        """Every device loses its connection at the same instant."""
        for dev in self.devices.values():
            dev.drop()

    async def restart_broker(self, down_s: float) -> None:
        """Kill the broker, keep it down ``down_s`` seconds, start it on the same port."""
        if self.owned_broker is None:
            raise FleetError("broker_restart needs a broker the simulator started (omit --broker)")
        await asyncio.to_thread(self.owned_broker.kill)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(self.owned_broker.start)
