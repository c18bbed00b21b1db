"""Fixtures for the agent's tests: device configs, a counting subscriber, agents in-process and as
``govedge agent`` subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from govedge.contract import ContractError, decode

ROOT = Path(__file__).resolve().parents[2]
GOVEDGE = str(Path(sys.executable).with_name("govedge"))


def device_config(
    device_id: str,
    broker_url: str,
    state_dir: Path,
    drivers: list[dict[str, Any]] | None = None,
    **sections: Any,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "device_id": device_id,
        "model": "test-cabinet",
        "site": "lab",
        "state_dir": str(state_dir),
        "broker": {"url": broker_url, "reconnect_min_s": 0.05, "reconnect_max_s": 0.5},
        "drivers": drivers or [],
        "publish": {"health_interval_s": 30.0, "replay_rate_per_s": 0},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(json.dumps(config, indent=2))
    return path


class Collector:
    """A QoS 1 subscriber with a persistent session, recording every message of some devices."""

    def __init__(self, host: str, port: int, topic: str = "gov/v1/#", client_id: str = "") -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[str, Any]] = []
        self.raw: list[tuple[str, bytes, bool]] = []
        self.bad: list[str] = []
        self.topic = topic
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"collector-{os.getpid()}-{id(self)}",
            clean_session=False,
        )
        self.client.reconnect_delay_set(0.02, 0.2)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.connected.wait(5), "collector did not connect"

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe(self.topic, qos=1)
        self.connected.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.raw.append((msg.topic, msg.payload, bool(msg.retain)))
            try:
                self.messages.append((msg.topic, decode(msg.payload)))
            except ContractError as exc:
                self.bad.append(str(exc))

    def of_type(self, kind: type) -> list[Any]:
        with self.lock:
            return [m for _, m in self.messages if isinstance(m, kind)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """wait_for for tests whose agent runs on the same event loop."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            await asyncio.sleep(0.02)
        return predicate()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def collector_factory() -> Iterator[Callable[..., Collector]]:
    made: list[Collector] = []

    def make(host: str, port: int, topic: str = "gov/v1/#", client_id: str = "") -> Collector:
        c = Collector(host, port, topic, client_id)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def agent_env() -> dict[str, str]:
    """The environment of a ``govedge`` child: the source tree first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


class AgentProcess:
    """``govedge agent --config FILE`` as a child process that tests may kill -9."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [GOVEDGE, "--log-level", "warning", "agent", "--config", str(self.config_path)],
            stdout=log,
            stderr=log,
            cwd=ROOT,
            env=agent_env(),
        )
        log.close()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait: a graceful stop may take the outbox drain (``drain_on_stop_s``)
        plus a poll in flight (``poll_timeout_s``) plus the link's close, more than 10 s on a
        busy machine."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


@pytest.fixture
def agent_process(tmp_path: Path) -> Iterator[Callable[[Path], AgentProcess]]:
    made: list[AgentProcess] = []

    def make(config_path: Path) -> AgentProcess:
        p = AgentProcess(config_path, tmp_path / f"agent{len(made)}.log")
        made.append(p)
        return p

    yield make
    for p in made:
        p.kill()


async def run_agent_until(agent: Any, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Run an in-process agent until ``condition`` holds (or the timeout), then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    ok = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if condition():
                ok = True
                break
            if task.done():
                break
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
    return ok


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a device config to tmp_path; returns its path (state under tmp_path/<id>.state)."""

    def make(
        device_id: str,
        broker_url: str,
        drivers: list[dict[str, Any]] | None = None,
        **sections: Any,
    ) -> Path:
        config = device_config(
            device_id, broker_url, tmp_path / f"{device_id}.state", drivers, **sections
        )
        return write_config(tmp_path / f"{device_id}.json", config)

    return make


@pytest.fixture
def run_until() -> Callable[..., Any]:
    return run_agent_until


@pytest.fixture
def modbus_sim() -> Iterator[Any]:
    """A simulated SHT20 (unit 1) on a pty RS-485 bus."""
    from sim.modbus.device import SimDevice
    from sim.modbus.server import ModbusBusSimulator

    sim = ModbusBusSimulator(
        [SimDevice(1, "sht20", {"temperature": 21.5, "humidity": 40.0})]
    ).start()
    yield sim
    sim.stop()


class ScriptedDriver:
    """An in-process PolledDriver for supervision tests (a test at the driver interface).

    ``script`` is consumed one entry per poll: an exception instance is raised, a mapping is
    returned; when it runs out, ``{"count": n}`` is returned.
    """

    kind = "scripted"

    def __init__(self, script: list[Any] | None = None, open_errors: list[Exception] | None = None):
        from drivers.base import HealthReport
        from govedge.health import HealthState

        self._report = HealthReport(HealthState.ONLINE)
        self.script = list(script or [])
        self.open_errors = list(open_errors or [])
        self.opens = 0
        self.closes = 0
        self.polls = 0
        self.lock = threading.Lock()

    def open(self) -> None:
        with self.lock:
            self.opens += 1
            if self.open_errors:
                raise self.open_errors.pop(0)

    def close(self) -> None:
        with self.lock:
            self.closes += 1

    def poll(self) -> dict[str, float]:
        with self.lock:
            self.polls += 1
            if self.script:
                step = self.script.pop(0)
                if isinstance(step, BaseException):
                    raise step
                return dict(step)
            return {"count": float(self.polls)}

    def health(self) -> Any:
        return self._report


@pytest.fixture
def scripted() -> tuple[dict[str, Any], Callable[[str, str, Any], Any]]:
    """(drivers by URL, a driver factory) for agents built with injected drivers.

    Configs use kind "modbus" (a known kind) and a URL ``fake://NAME`` that the factory maps to
    ``drivers[NAME]`` (a ScriptedDriver made on first use).
    """
    drivers: dict[str, Any] = {}

    def factory(kind: str, url: str, options: Any) -> Any:
        name = url.removeprefix("fake://")
        if name not in drivers:
            drivers[name] = ScriptedDriver()
        return drivers[name]

    return drivers, factory


def fake_driver(name: str, interval: float = 0.02, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "modbus",
        "url": f"fake://{name}",
        "poll_interval_s": interval,
        "options": {"profile": "fake"},  # modbus names its profile; the factory ignores it
        **extra,
    }


@pytest.fixture
def fake() -> Callable[..., dict[str, Any]]:
    return fake_driver


@pytest.fixture
def persistent_broker(mosquitto_factory: Callable[..., Any]) -> Any:
    """A Mosquitto that saves its state after every change, so that a subscriber's persistent
    session (and what is queued for it) survives a kill -9 of the broker.

    Saving only every second left a window: a message PUBACKed to the agent but not yet written
    to the subscriber's socket was lost with the broker, which is the broker's durability, not
    the agent's, and made the test fail now and then."""
    broker = mosquitto_factory(start=False)
    broker.extra_config = (
        f"persistence true\npersistence_location {broker.workdir}/\n"
        "autosave_on_changes true\nautosave_interval 1\n"
    )
    broker.start()
    return broker


class HubSide:
    """What the hub would publish to a device: commands and desired configs."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.seq = 0

    def _send(self, topic: str, payload: bytes, retain: bool = False) -> None:
        import paho.mqtt.publish as publish

        publish.single(topic, payload, qos=1, retain=retain, hostname=self.host, port=self.port)

    def command(
        self,
        device: str,
        command_id: str,
        name: str,
        args: dict[str, Any] | None = None,
        expires_in: float = 60.0,
    ) -> None:
        from govedge.contract import Command, CommandData, encode, topic

        self.seq += 1
        msg = Command(
            device_id=device,
            boot_id="hub",
            seq=self.seq,
            ts=time.time(),
            data=CommandData(
                id=command_id, name=name, args=args or {}, expires_at=time.time() + expires_in
            ),
        )
        self._send(topic(device, "cmd"), encode(msg))

    def desired(
        self, device: str, version: int, config: dict[str, Any], signature: str = ""
    ) -> None:
        from govedge.contract import ConfigDesired, ConfigDesiredData, encode, topic

        self.seq += 1
        msg = ConfigDesired(
            device_id=device,
            boot_id="hub",
            seq=self.seq,
            ts=time.time(),
            data=ConfigDesiredData(version=version, config=config, signature=signature),
        )
        self._send(topic(device, "config/desired"), encode(msg), retain=True)


@pytest.fixture
def hub(mqtt_broker: Any) -> HubSide:
    return HubSide(mqtt_broker.host, mqtt_broker.port)


@pytest.fixture
def hub_for() -> Callable[[Any], HubSide]:
    """A HubSide for a broker of the test's own."""
    return lambda broker: HubSide(broker.host, broker.port)
