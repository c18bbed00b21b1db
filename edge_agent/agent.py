"""The agent: composes drivers, supervisors, the outbox, the device state, the MQTT link,
commands, configs and the local device API from one device config, and runs them until asked to
stop."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from drivers.base import PolledDriver
from drivers.registry import create_driver
from drivers.spec import DriverOptions
from edge_agent.database import AgentDatabase
from edge_agent.device_state import DeviceState
from edge_agent.errors import AgentError
from edge_agent.link import LinkSettings, MqttLink
from edge_agent.messages import MessageFactory, new_boot_id
from edge_agent.outbox import Outbox, Pending
from edge_agent.stopping import cancel_within
from edge_agent.supervisor import DriverSupervisor
from firmware_configs.schema import DeviceConfig, DriverConfig, PublishConfig
from govedge.broker import BrokerURL
from govedge.contract import (
    DEFAULT_LIMITS,
    Channel,
    ContractError,
    EventKind,
    Status,
    TopicError,
    decode,
    metric_problem,
    parse_topic,
)
from govedge.errors import ConfigError, GovedgeError
from govedge.health import HealthState
from govedge.logs import fields, get_logger

log = get_logger(__name__)

DriverFactory = Callable[[str, str, DriverOptions | Mapping[str, Any]], PolledDriver]
"""(kind, url, options) -> an unopened driver; drivers.registry.create_driver by default."""

HOUSEKEEPING_S = 10.0

STOP_TASKS_S = 2.0
"""How long a stop gives the agent's own tasks (health, housekeeping, handlers) to end."""

CARD_PRESENT = "card_present"
"""A reading of this name (1.0 / 0.0) turns into card_inserted / card_removed events
(EventKind.CARD_INSERTED, EventKind.CARD_REMOVED)."""

DOCUMENTS = {"idcard": "resident_id", "smartcard": "social_security"}
"""The document a card reader of this driver kind holds, for the local API's card events."""


def resolve_path(base: Path, value: str) -> Path:
    """``value`` as a path, relative to ``base`` unless absolute."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def build_drivers(
    configs: list[DriverConfig], factory: DriverFactory, where: str
) -> dict[str, PolledDriver]:
    """Create (not open) every driver; a driver's own option errors name the config key."""
    built: dict[str, PolledDriver] = {}
    for i, cfg in enumerate(configs):
        try:
            built[cfg.name] = factory(cfg.kind, cfg.url, cfg.options)
        except ImportError as exc:
            raise ConfigError(
                f"{where}: $.drivers[{i}].kind: driver {cfg.kind!r} is not installed ({exc})"
            ) from None
        except GovedgeError as exc:
            raise ConfigError(f"{where}: $.drivers[{i}].options: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: $.drivers[{i}].options: {exc}") from None
    return built


class Agent:
    """One device's agent. ``await agent.run(stop)`` runs until ``stop`` is set."""

    def __init__(
        self,
        config: DeviceConfig,
        *,
        config_path: str | Path | None = None,
        driver_factory: DriverFactory = create_driver,
    ) -> None:
        self.config = config
        self.config_path = Path(config_path) if config_path else None
        self.where = str(self.config_path or "device config")
        base = self.config_path.parent if self.config_path else Path.cwd()
        self.state_dir = resolve_path(base, config.state_dir or f"{config.device_id}.state")
        self.base_dir = base
        self.driver_factory = driver_factory
        self.boot_id = new_boot_id()
        self.started_at = time.time()
        self.publish: PublishConfig = config.publish
        self.driver_configs: list[DriverConfig] = list(config.drivers)
        drivers = build_drivers(self.driver_configs, driver_factory, self.where)
        ob = config.outbox
        self.database = AgentDatabase(
            resolve_path(self.state_dir, ob.path or "outbox.sqlite3"), synchronous=ob.synchronous
        )
        self.outbox = Outbox(
            self.database,
            max_messages=ob.max_messages,
            max_bytes=ob.max_bytes,
            max_age_s=ob.max_age_s,
        )
        self.device_state = DeviceState(self.database, self.outbox)
        self.messages = MessageFactory(config.device_id, self.boot_id, config.broker.topic_root)
        self.supervisors: dict[str, DriverSupervisor] = {
            cfg.name: DriverSupervisor(cfg, drivers[cfg.name], self._on_reading, self._on_state)
            for cfg in self.driver_configs
        }
        self.link = self._make_link()
        self.event_listeners: set[asyncio.Queue[dict[str, Any]]] = set()
        self._printer_state: dict[str, str] = {}
        self.counters: dict[str, int] = {
            "commands": 0,
            "commands_refused": 0,
            "commands_duplicate": 0,
            "readings_rejected": 0,
            "readings_truncated": 0,
            "metrics_dropped": 0,
            "configs_applied": 0,
            "configs_rejected": 0,
            "local_api_bad_requests": 0,
            "face_sessions": 0,
            "face_sessions_passed": 0,
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._health_due: asyncio.Event | None = None
        self._card: dict[str, bool] = {}
        self._truncations: dict[str, int] = {}
        self._dropped_reported = self.outbox.dropped
        self._tasks: list[asyncio.Task[Any]] = []
        self.extensions: list[Any] = []  # commands, configs, local API: started with the agent
        self.message_handlers: dict[Channel, Callable[[str, bytes], Any]] = {}
        self.commands: Any = None  # the CommandService, once attached
        self.local_api: Any = None  # the LocalApi, when configured
        self.evidence: Any = None  # the EvidenceService of an inspector terminal

    # -- composition ------------------------------------------------------------------------

    def _make_link(self) -> MqttLink:
        b = self.config.broker
        url = BrokerURL.parse(b.url)
        tls = b.tls
        settings = LinkSettings(
            host=url.host,
            port=url.port,
            client_id=self.config.device_id,
            mqtt_version=b.mqtt_version,
            keepalive_s=b.keepalive_s,
            tls=url.tls,
            ca_file=str(resolve_path(self.base_dir, tls.ca_file)) if tls else "",
            cert_file=str(resolve_path(self.base_dir, tls.cert_file))
            if tls and tls.cert_file
            else "",
            key_file=str(resolve_path(self.base_dir, tls.key_file)) if tls and tls.key_file else "",
            session_expiry_s=b.session_expiry_s,
            reconnect_min_s=b.reconnect_min_s,
            reconnect_max_s=b.reconnect_max_s,
            max_inflight=self.publish.max_inflight,
            batch=self.publish.batch,
            replay_rate_per_s=self.publish.replay_rate_per_s,
        )
        m = self.messages
        return MqttLink(
            settings,
            self.outbox,
            status_topic=m.topic(Channel.STATUS),
            make_birth=lambda ts: self._status(True, ts=ts),
            make_will=lambda ts: self._status(False, "connection lost", ts),
            subscriptions=[m.topic(Channel.CMD), m.topic(Channel.CONFIG_DESIRED)],
            on_message=self._on_message_threadsafe,
            is_stale_offline=self._is_stale_offline,
            on_state=self._on_link_state,
        )

    def _file(self, value: str) -> str:
        return str(resolve_path(self.base_dir, value)) if value else ""

    def _status(self, online: bool, reason: str = "", ts: float | None = None) -> bytes:
        return self.messages.status(
            self.outbox.seq,
            online,
            self.config.broker.keepalive_s,
            self.config.model,
            self.config.firmware,
            reason,
            ts,
        )

    def _is_stale_offline(self, payload: bytes) -> bool:
        """An offline status on our topic while we are connected is false by definition (a will
        of an earlier boot or connection delivered late): the birth must be re-published."""
        try:
            msg = decode(payload)
        except ContractError:
            return False
        return isinstance(msg, Status) and not msg.data.online

    # -- running ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Start the extensions, the drivers, the link and the agent's own loops; return once
        ``stop`` is set and everything has stopped (bounded; docs/agent.md, "Stopping")."""
        self._loop = asyncio.get_running_loop()
        self._health_due = asyncio.Event()
        log.info(
            "agent_starting",
            extra=fields(
                device=self.config.device_id,
                boot_id=self.boot_id,
                broker=self.config.broker.url,
                drivers=len(self.supervisors),
                queued=self.outbox.queued,
                seq=self.outbox.seq,
            ),
        )
        try:
            for ext in self.extensions:
                await ext.start()
            for sup in self.supervisors.values():
                sup.start()
            self.link.start()
            self._tasks.append(asyncio.create_task(self._health_loop(), name="health"))
            self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
            await stop.wait()
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        """Bounded: tasks STOP_TASKS_S, each driver its stop_bound_s (in parallel), the link
        drain_on_stop_s plus its goodbye; see docs/agent.md ("Stopping")."""
        began = time.monotonic()
        await cancel_within(list(self._tasks), STOP_TASKS_S)
        self._tasks.clear()
        for ext in reversed(self.extensions):
            try:
                await ext.stop()
            except Exception:
                log.exception("extension_stop_failed")
        await asyncio.gather(*(sup.stop() for sup in self.supervisors.values()))
        final = self._status(False, "shutdown")
        await asyncio.to_thread(self.link.stop, final, self.publish.drain_on_stop_s)
        self.database.close()
        log.info(
            "agent_stopped",
            extra=fields(device=self.config.device_id, took_s=round(time.monotonic() - began, 3)),
        )

    async def produce(self, items: list[Pending]) -> list[int]:
        """Commit messages to the outbox (off the event loop); return their seqs."""
        return await asyncio.to_thread(self.outbox.append, items)

    async def _housekeeping(self) -> None:
        """Drop messages past the outbox's max age, also (above all) while the link is down."""
        while True:
            await asyncio.sleep(HOUSEKEEPING_S)
            try:
                await asyncio.to_thread(self.outbox.expire)
            except GovedgeError as exc:
                log.error("outbox_expiry_failed", extra=fields(error=str(exc)))

    # -- drivers ----------------------------------------------------------------------------

    async def _on_reading(self, sup: DriverSupervisor, reading: Mapping[str, float]) -> None:
        items: list[Pending] = []
        card = reading.get(CARD_PRESENT)
        if card is not None:
            present = bool(card)
            before = self._card.get(sup.name)
            self._card[sup.name] = present
            if before is not None and before != present:
                kind = EventKind.CARD_INSERTED if present else EventKind.CARD_REMOVED
                items.append(self.messages.event(kind, attrs={"driver": sup.name}))
                self.broadcast(
                    {
                        "event": kind,
                        "reader": sup.name,
                        "driver": sup.name,
                        "document": DOCUMENTS.get(sup.config.kind, sup.config.kind),
                        "ts": time.time(),
                    }
                )
        last_status = getattr(sup.driver, "last_status", None)
        if isinstance(last_status, dict):
            self.note_printer_status(sup.name, last_status)
        if self.publish.telemetry:
            data = self._metrics(sup, reading)
            if data:
                items.append(self.messages.telemetry(data))
        if items:
            await self.produce(items)

    def _metrics(self, sup: DriverSupervisor, reading: Mapping[str, float]) -> dict[str, float]:
        """The reading as contract metrics; names or values the contract refuses are dropped
        here, counted and logged, so that the valid rest still goes out."""
        prefix = sup.config.metric_prefix
        data: dict[str, float] = {}
        limit = DEFAULT_LIMITS.max_metrics
        for index, (key, value) in enumerate(reading.items()):
            if len(data) >= limit:
                self._truncated(sup, kept=len(data), dropped=len(reading) - index)
                break
            name = f"{prefix}{key}"
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if metric_problem(name, number):
                self.counters["readings_rejected"] += 1
                log.warning(
                    "reading_rejected", extra=fields(driver=sup.name, name=name, value=str(value))
                )
                continue
            data[name] = number
        return data

    def _truncated(self, sup: DriverSupervisor, *, kept: int, dropped: int) -> None:
        """A reading past the contract's max_metrics: the first max_metrics go out, the rest is
        counted (``readings_truncated``, ``metrics_dropped``, in Health) and logged, the first
        time per driver and then every 1000th time (a driver polled at 50 Hz would flood)."""
        self.counters["readings_truncated"] += 1
        self.counters["metrics_dropped"] += dropped
        seen = self._truncations.get(sup.name, 0)
        self._truncations[sup.name] = seen + 1
        if seen % 1000 == 0:
            log.warning(
                "reading_truncated",
                extra=fields(
                    driver=sup.name,
                    kept=kept,
                    dropped=dropped,
                    max_metrics=DEFAULT_LIMITS.max_metrics,
                    times=seen + 1,
                ),
            )

    def cards_present(self) -> dict[str, bool]:
        """Card presence per reader as last polled (what the card events were made from)."""
        return dict(self._card)

    def note_printer_status(self, name: str, status: Mapping[str, Any]) -> None:
        """Broadcast a printer_status event when a printer's kiosk state changes."""
        state = str(status.get("state", ""))
        if not state or self._printer_state.get(name) == state:
            return
        self._printer_state[name] = state
        self.broadcast(
            {
                "event": "printer_status",
                "driver": name,
                "state": state,
                "detail": str(status.get("detail", "")),
                "ts": time.time(),
            }
        )

    def _on_state(self, sup: DriverSupervisor) -> None:
        if self._health_due is not None:
            self._health_due.set()
        if sup.state in (HealthState.OFFLINE, HealthState.NO_DEVICE) and hasattr(
            sup.driver, "last_status"
        ):
            self.note_printer_status(sup.name, {"state": "offline", "detail": sup.detail})
        self.broadcast(
            {
                "event": "driver_state",
                "driver": sup.name,
                "state": sup.state.value,
                "ts": time.time(),
            }
        )

    def broadcast(self, event: dict[str, Any]) -> None:
        """Hand an event to every local-API listener (bounded queues; slow ones miss events)."""
        for queue in list(self.event_listeners):
            if queue.full():
                continue
            queue.put_nowait(event)

    # -- health -----------------------------------------------------------------------------

    def driver_health(self) -> dict[str, tuple[HealthState, str, int]]:
        """Per driver: (state, detail, error count), as the Health message reports them."""
        return {name: (sup.state, sup.detail, sup.errors) for name, sup in self.supervisors.items()}

    def health_counters(self) -> dict[str, float]:
        """The Health message's counters: the outbox's and the link's figures and the agent's
        own counters, all as floats."""
        c = self.link.counters
        out: dict[str, float] = {
            "produced": self.outbox.produced,
            "acknowledged": self.outbox.acknowledged,
            "queued": self.outbox.queued,
            "dropped": self.outbox.dropped,
            "reconnects": c.reconnects,
            "rejected": c.rejected,
            "connected": 1.0 if self.link.connected else 0.0,
        }
        out.update({k: float(v) for k, v in self.counters.items()})
        return out

    async def publish_health(self) -> None:
        """Queue a Health message, and an outbox_dropped event when messages were dropped since
        the last one (they wait in the outbox like the rest while the link is down)."""
        items = [
            self.messages.health(
                self.driver_health(), self.health_counters(), time.time() - self.started_at
            )
        ]
        dropped = self.outbox.dropped
        if dropped > self._dropped_reported:
            # Drops happen while the link is down; the event waits in the outbox like the rest.
            items.append(
                self.messages.event(
                    EventKind.OUTBOX_DROPPED,
                    "warning",
                    f"{dropped - self._dropped_reported} queued messages dropped (oldest first)",
                    {"dropped": float(dropped - self._dropped_reported), "total": float(dropped)},
                )
            )
            log.warning("outbox_dropped", extra=fields(new=dropped - self._dropped_reported))
        self._dropped_reported = dropped
        await self.produce(items)

    async def _health_loop(self) -> None:
        assert self._health_due is not None  # noqa: S101 - narrowing: start() sets it before starting this loop
        due = self._health_due
        while True:
            try:
                await asyncio.wait_for(due.wait(), self.publish.health_interval_s)
                await asyncio.sleep(0.05)  # coalesce a burst of state changes
            except TimeoutError:
                pass
            due.clear()
            try:
                await self.publish_health()
            except GovedgeError as exc:
                log.error("health_not_queued", extra=fields(error=str(exc)))

    # -- messages from the hub --------------------------------------------------------------

    def _on_link_state(self, up: bool) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.broadcast, {"event": "link", "connected": up})

    def _on_message_threadsafe(self, topic_name: str, payload: bytes) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._dispatch, topic_name, payload)

    def _dispatch(self, topic_name: str, payload: bytes) -> None:
        """Route a message by the contract's reading of its topic (our device, a channel with
        a handler); anything else is logged and left."""
        try:
            device_id, channel = parse_topic(topic_name, self.config.broker.topic_root)
        except TopicError:
            device_id, channel = "", None
        handler = self.message_handlers.get(channel) if channel is not None else None
        if handler is None or device_id != self.config.device_id:
            log.warning("unexpected_topic", extra=fields(topic=topic_name))
            return
        result = handler(topic_name, payload)
        if asyncio.iscoroutine(result):
            task = asyncio.create_task(result)
            self._tasks.append(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("handler_failed", exc_info=task.exception())

    # -- drivers at run time ----------------------------------------------------------------

    def supervisor(self, name: str) -> DriverSupervisor:
        """The supervisor of the driver called ``name``; AgentError naming the drivers there are
        when there is none."""
        sup = self.supervisors.get(name)
        if sup is None:
            raise AgentError(f"no driver named {name!r} (have: {', '.join(self.supervisors)})")
        return sup

    def find_capable(self, capability: type, name: str | None = None) -> DriverSupervisor:
        """The driver (by name, or the first one) that implements ``capability``."""
        if name:
            sup = self.supervisor(name)
            if not isinstance(sup.driver, capability):
                raise AgentError(f"driver {name!r} cannot {capability.__name__}")
            return sup
        for sup in self.supervisors.values():
            if isinstance(sup.driver, capability):
                return sup
        raise AgentError(f"no driver with {capability.__name__}")

    async def replace_drivers(self, configs: list[DriverConfig], publish: PublishConfig) -> None:
        """Swap to a new set of drivers (a validated desired config). Build first: if any
        driver cannot be built, the running ones are untouched."""
        drivers = build_drivers(configs, self.driver_factory, "config/desired")
        old = list(self.supervisors.values())
        await asyncio.gather(*(sup.stop() for sup in old))
        self.driver_configs = list(configs)
        self.publish = publish
        self.supervisors = {
            cfg.name: DriverSupervisor(cfg, drivers[cfg.name], self._on_reading, self._on_state)
            for cfg in configs
        }
        for sup in self.supervisors.values():
            sup.start()
        if self._health_due is not None:
            self._health_due.set()

    def states(self) -> dict[str, HealthState]:
        """Each driver's current health state, by driver name."""
        return {name: sup.state for name, sup in self.supervisors.items()}
