"""``govedge hub --workers N``: its refusals, its restart pause, and a worker killed with
SIGKILL in the middle of a stream of readings, events, command acks and config reports, on a
real Mosquitto, PostgreSQL and influxd.

The kill test runs the command as an operator would (a subprocess, JSON logs on stderr), so the
supervisor, its signals and the workers' MQTT sessions are the real ones.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

from govedge.cli import main
from govedge.contract import (
    CommandAck,
    CommandAckData,
    ConfigReported,
    ConfigReportedData,
    Event,
    EventData,
    Telemetry,
    encode,
)
from govedge.contract.topics import Channel, topic
from hub.db import events
from hub.settings import HubConfig
from hub.workers import check_workers, restart_delay, worker_config

ROOT = Path(__file__).resolve().parents[2]
GOVEDGE = [sys.executable, "-m", "govedge"]


# --- the arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "argv", "says"),
    [
        (
            {"telemetry_url": "sqlite:///t/telemetry.db"},
            ["--workers", "3"],
            "--workers 3 cannot share a SQLite telemetry store",
        ),
        (
            {"mqtt_version": "3.1.1", "telemetry_url": "influxdb://127.0.0.1:1/b"},
            ["--workers", "2"],
            "--workers 2 needs MQTT 5 (mqtt_version is '3.1.1')",
        ),
        (
            {"telemetry_url": "influxdb://127.0.0.1:1/b", "http_port": 65535},
            ["--workers", "2"],
            "runs past port 65535",
        ),
        (
            {"telemetry_url": "influxdb://127.0.0.1:1/b", "http_port": 0},
            ["--workers", "2"],
            "needs a fixed http_port",
        ),
    ],
)
def test_a_configuration_workers_cannot_share_is_refused_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    config: dict[str, Any],
    argv: list[str],
    says: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "hub.json"
    path.write_text(json.dumps(config))
    assert main(["hub", "--config", str(path), *argv]) == 1
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == [path]  # refused before anything was made


def test_the_data_folder_is_sqlite_and_refused_for_several_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hub", "--data", str(tmp_path / "d"), "--workers", "2"]) == 1
    assert "cannot share a SQLite telemetry store" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("count", ["0", "-2", "two"])
def test_a_worker_count_below_one_is_an_argument_error(
    count: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["hub", "--workers", count])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --workers" in err and "Traceback" not in err


def test_each_worker_has_its_own_client_id_and_port_in_one_group() -> None:
    base = HubConfig(client_id="hub-a", http_port=9000, telemetry_url="influxdb://h:1/b")
    check_workers(base, 3)
    configs = [worker_config(base, i, 3) for i in (1, 2, 3)]
    assert [c.client_id for c in configs] == ["hub-a-1", "hub-a-2", "hub-a-3"]
    assert [c.http_port for c in configs] == [9000, 9001, 9002]
    assert {c.shared_group for c in configs} == {"hub"}
    grouped = HubConfig(shared_group="city", telemetry_url="influxdb://h:1/b")
    assert worker_config(grouped, 2, 2).shared_group == "city"
    # one worker is today's single process, unchanged (a SQLite store included)
    check_workers(HubConfig(), 1)
    assert worker_config(HubConfig(), 1, 1) == HubConfig()


def test_a_worker_that_keeps_dying_is_restarted_after_a_growing_pause() -> None:
    assert [restart_delay(n) for n in range(1, 9)] == [0, 0.5, 1, 2, 4, 8, 16, 30]


# --- a supervisor whose workers cannot start -----------------------------------------------


class Supervised:
    """``govedge hub --workers N`` as a subprocess; its JSON log lines, as they come."""

    def __init__(self, config: Path, workers: int) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        command = [*GOVEDGE, "--log-format", "json", "hub", "--config", str(config)]
        self.proc = subprocess.Popen(
            [*command, "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            text = raw.decode(errors="replace").rstrip()
            with self.lock:
                self.raw.append(text)
                try:
                    line = json.loads(text)
                except ValueError:
                    continue
                if isinstance(line, dict):
                    self.lines.append(line)

    def logged(self, event: str, **match: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [
                ln
                for ln in self.lines
                if ln.get("event") == event and all(ln.get(k) == v for k, v in match.items())
            ]

    def wait_for(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.05)
        with self.lock:
            tail = "\n".join(self.raw[-40:])
        raise AssertionError(f"{what}: not within {timeout} s; the log ends:\n{tail}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)  # in case a test left it stopped
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def _ports_free_from(count: int) -> int:
    """A first port such that it and the next ``count - 1`` are free now."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count > 65535:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no run of free ports")


def test_workers_that_cannot_start_are_restarted_with_backoff_and_stop_on_sigterm(
    tmp_path: Path, mqtt_broker: Any
) -> None:
    """Workers whose database refuses them exit at once, again and again: the supervisor waits
    longer each time rather than spinning, and a SIGTERM ends it and them."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    config = tmp_path / "hub.json"
    config.write_text(
        json.dumps(
            {
                "broker_url": mqtt_broker.url,
                "client_id": f"backoff-{uuid.uuid4().hex[:6]}",
                "database_url": f"postgresql+psycopg://govedge@127.0.0.1:{dead_port}/none",
                "telemetry_url": f"influxdb://127.0.0.1:{dead_port}/govedge/autogen",
                "http_port": _ports_free_from(2),
            }
        )
    )
    sup = Supervised(config, 2)
    try:
        sup.wait_for(lambda: len(sup.logged("hub_worker_exited", worker=1)) >= 3, 90, "three exits")
        pauses = [ln["restart_in_s"] for ln in sup.logged("hub_worker_exited", worker=1)]
        assert pauses[:3] == [0, 0.5, 1.0]
        assert all(ln["exit_code"] == 1 for ln in sup.logged("hub_worker_exited", worker=1))
        pids = {ln["pid"] for ln in sup.logged("hub_worker_started")}
    finally:
        code = sup.stop()
    assert code == 0
    assert sup.logged("hub_workers_stopping", signal="SIGTERM")
    assert sup.logged("hub_workers_stopped")
    assert pids and not [pid for pid in pids if Path(f"/proc/{pid}").exists()]  # none left


# --- kill -9 in the middle of a stream -----------------------------------------------------

DEVICES = 6
EVENT_EVERY = 10  # message k of a device is an event when k % 10 == 0, else a reading
ACK_SLOT = 5  # ... a command ack when k % 10 == 5 and the device has a command for k
REPORT_AT = 43  # ... a config report when k == 43 and the device has a desired config


class Publisher:
    """The devices' side: numbered messages per device, QoS 1, kept only once acknowledged."""

    def __init__(
        self, broker: Any, prefix: str, devices: int = DEVICES, event_every: int = EVENT_EVERY
    ) -> None:
        self.devices = [f"{prefix}-{i}" for i in range(devices)]
        self.event_every = event_every
        self.boot_id = uuid.uuid4().hex
        self.t0 = float(int(time.time()) - 86400)  # device time: one message a second
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"{prefix}-pub"
        )
        self.client.max_inflight_messages_set(100)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.acked: list[tuple[str, int]] = []  # (device, k), in order of sending
        self.sent = 0  # messages handed to the client so far
        self.commands: dict[tuple[str, int], str] = {}  # (device, k) -> the command k acks
        self.config_versions: dict[str, int] = {}  # device -> the version it reports at k 43

    def send(self, first: int, last: int, rate_hz: float) -> None:
        """Messages first..last of every device, about ``rate_hz`` messages a second in all."""
        pending = []
        start = time.monotonic()
        sent = 0
        for k in range(first, last + 1):
            for device_id in self.devices:
                pending.append((device_id, k, self._publish(device_id, k)))
                sent += 1
                self.sent += 1
                lag = start + sent / rate_hz - time.monotonic()
                if lag > 0:
                    time.sleep(lag)
        for device_id, k, info in pending:
            info.wait_for_publish(30)
            assert info.is_published()
            self.acked.append((device_id, k))

    def _publish(self, device_id: str, k: int) -> mqtt.MQTTMessageInfo:
        ts = self.t0 + k
        envelope: dict[str, Any] = {"device_id": device_id, "boot_id": self.boot_id, "seq": k}
        command = self.commands.get((device_id, k))
        if command is not None:
            ack = CommandAckData(id=command, ok=True, result={"k": k})
            payload = encode(CommandAck(**envelope, ts=ts, data=ack))
            return self.client.publish(topic(device_id, Channel.CMD_ACK), payload, qos=1)
        if k == REPORT_AT and device_id in self.config_versions:
            report = ConfigReportedData(version=self.config_versions[device_id], ok=True)
            payload = encode(ConfigReported(**envelope, ts=ts, data=report))
            return self.client.publish(topic(device_id, Channel.CONFIG_REPORTED), payload, qos=1)
        if k % self.event_every == 0:
            data = EventData(kind="paper_out", severity="info", message=f"event {k}")
            msg: Any = Event(device_id=device_id, boot_id=self.boot_id, seq=k, ts=ts, data=data)
            channel = Channel.EVENT
        else:
            msg = Telemetry(
                device_id=device_id, boot_id=self.boot_id, seq=k, ts=ts, data={"n": float(k)}
            )
            channel = Channel.TELEMETRY
        return self.client.publish(topic(device_id, channel), encode(msg), qos=1)

    def readings(self) -> dict[str, list[tuple[int, float]]]:
        """What InfluxDB must hold: each acknowledged reading, (device time, value)."""
        out: dict[str, list[tuple[int, float]]] = {d: [] for d in self.devices}
        for device_id, k in self.acked:
            if k % self.event_every and not self._answer(device_id, k):
                out[device_id].append((int(self.t0) + k, float(k)))
        return {d: sorted(v) for d, v in out.items()}

    def _answer(self, device_id: str, k: int) -> bool:
        """Whether message k of the device is a command ack or a config report."""
        return (device_id, k) in self.commands or (
            k == REPORT_AT and device_id in self.config_versions
        )

    def events(self) -> set[tuple[str, int]]:
        return {(d, k) for d, k in self.acked if k % self.event_every == 0}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _stored_readings(influx: Any, prefix: str) -> dict[str, list[tuple[int, float]]]:
    """Every point of the devices in InfluxDB, by device: (time, n), sorted."""
    q = f'SELECT "n" FROM "telemetry" WHERE "device_id" =~ /^{prefix}-/ GROUP BY "device_id"'  # noqa: S608
    params = urllib.parse.urlencode({"db": influx.database, "q": q, "epoch": "s"})
    with urllib.request.urlopen(f"{influx.url}/query?{params}", timeout=30) as resp:
        body = json.load(resp)
    out: dict[str, list[tuple[int, float]]] = {}
    for series in body["results"][0].get("series", []):
        out[series["tags"]["device_id"]] = sorted((int(t), float(n)) for t, n in series["values"])
    return out


def _wait_all_stored(
    sup: Supervised, influx: Any, prefix: str, expected: dict[str, list[tuple[int, float]]]
) -> None:
    """Wait until InfluxDB holds exactly ``expected``; on a timeout, say what differs."""
    try:
        sup.wait_for(lambda: _stored_readings(influx, prefix) == expected, 60, "all readings")
    except AssertionError as exc:
        stored = _stored_readings(influx, prefix)
        want = {(d, p) for d, v in expected.items() for p in v}
        have = {(d, p) for d, v in stored.items() for p in v}
        missing, extra = sorted(want - have), sorted(have - want)
        raise AssertionError(f"missing {len(missing)}: {missing[:20]}; extra {extra[:20]}") from exc


def _count(stored: dict[str, list[tuple[int, float]]]) -> int:
    return sum(len(v) for v in stored.values())


def _stable_count(influx: Any, prefix: str, quiet_s: float, timeout: float) -> int:
    """The number of stored readings once it has not moved for ``quiet_s``."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = _count(_stored_readings(influx, prefix))
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return now
        time.sleep(0.2)
    raise AssertionError("the stored count never settled")


def _http(url: str, token: str = "", body: Any = None, method: str = "") -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"))
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read()
            return resp.status, json.loads(text) if text.startswith(b"{") else text
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, None


@pytest.fixture
def stopped_later() -> Iterator[list[Supervised]]:
    running: list[Supervised] = []
    yield running
    for sup in running:
        sup.stop()


def test_a_worker_killed_mid_stream_is_restarted_with_its_id_and_nothing_acked_is_lost(
    tmp_path: Path,
    mqtt_broker: Any,
    postgres_url: str,
    influx: Any,
    stopped_later: list[Supervised],
) -> None:
    prefix = f"k9-{uuid.uuid4().hex[:6]}"
    client_id = f"hub-{prefix}"
    base_port = _ports_free_from(3)
    host = influx.forwarder_url.split("//")[1]
    config = tmp_path / "hub.json"
    config.write_text(
        json.dumps(
            {
                "broker_url": mqtt_broker.url,
                "client_id": client_id,
                "shared_group": f"g{prefix[3:]}",
                "database_url": postgres_url,
                "telemetry_url": f"influxdb://{host}/govedge/autogen",
                "http_port": base_port,
                "presence_interval_s": 0.5,
            }
        )
    )
    sup = Supervised(config, 3)
    stopped_later.append(sup)
    ports = [base_port + i for i in range(3)]
    for port in ports:  # every worker serves the API on its own port
        sup.wait_for(lambda p=port: _http(f"http://127.0.0.1:{p}/")[0] == 200, 120, f"{port}")
    started = {ln["worker"]: ln for ln in sup.logged("hub_worker_started")}
    assert {w: (ln["client_id"], ln["http_port"]) for w, ln in started.items()} == {
        i: (f"{client_id}-{i}", base_port + i - 1) for i in (1, 2, 3)
    }
    token = subprocess.run(
        [*GOVEDGE, "hub", "--config", str(config), "token", "create", "--role", "admin"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    publisher = Publisher(mqtt_broker, prefix)
    try:
        # Registered through worker 1's API; the others take the devices from the database.
        for device_id in publisher.devices:
            status, _ = _http(
                f"http://127.0.0.1:{ports[0]}/api/v1/devices", token, {"id": device_id}
            )
            assert status == 201
        # A command per device for each ack slot before k 120, and a desired config: the
        # devices answer them in the stream, some to the worker that is killed.
        api = f"http://127.0.0.1:{ports[0]}/api/v1"
        for device_id in publisher.devices:
            for k in range(ACK_SLOT, 121, EVENT_EVERY):
                body = {"name": "noop", "selector": {"ids": [device_id]}, "ttl_s": 3600}
                status, made = _http(f"{api}/commands", token, body)
                assert status == 201
                publisher.commands[(device_id, k)] = made["commands"][0]
            config = {"config": {"publish": {"health_interval_s": 30}}}
            status, made = _http(f"{api}/devices/{device_id}/config", token, config, "PUT")
            assert status == 202
            publisher.config_versions[device_id] = made["version"]
        for port in ports:
            sup.wait_for(
                lambda p=port: (
                    (h := _http(f"http://127.0.0.1:{p}/api/v1/health", token)[1])
                    and h["ingest"]["broker_connected"]
                ),
                60,
                f"worker on {port} connected",
            )
        time.sleep(0.5)  # subscriptions go out right after CONNACK

        # 1. Worker 2 is killed while the stream runs; the supervisor restarts it at once.
        victim = started[2]["pid"]
        stream = threading.Thread(target=publisher.send, args=(1, 120, 300.0))
        stream.start()
        sup.wait_for(lambda: publisher.sent >= 240, 60, "a third of the stream sent")
        killed_at = time.time()
        os.kill(victim, signal.SIGKILL)
        stream.join(120)
        assert not stream.is_alive()
        back = sup.wait_for(
            lambda: sup.logged("hub_worker_started", worker=2, restarts=1), 30, "restart"
        )[0]
        exited = sup.logged("hub_worker_exited", worker=2, pid=victim)
        assert exited and exited[0]["signal"] == "SIGKILL" and exited[0]["restart_in_s"] == 0
        assert back["client_id"] == f"{client_id}-2" and back["pid"] != victim
        assert back["ts"] - killed_at < 2.0  # at once (a busy machine)
        expected = publisher.readings()
        _wait_all_stored(sup, influx, prefix, expected)

        # 2. Without a restart, what the broker queued for the dead session is stored by no
        # one: the supervisor is frozen (SIGSTOP), worker 3 is killed, the stream goes on.
        os.kill(sup.proc.pid, signal.SIGSTOP)
        os.kill(started[3]["pid"], signal.SIGKILL)
        publisher.send(121, 180, 300.0)
        held = _count(publisher.readings()) - _stable_count(influx, prefix, 3.0, 90)
        phase = len(publisher.devices) * sum(1 for k in range(121, 181) if k % EVENT_EVERY)
        # Mosquitto hands the group's messages out in turn: the dead member's third waits.
        assert phase / 5 < held < phase / 2, (held, phase)
        missing = {(d, t) for d, v in publisher.readings().items() for t, _ in v} - {
            (d, t) for d, v in _stored_readings(influx, prefix).items() for t, _ in v
        }
        assert all(t > int(publisher.t0) + 120 for _, t in missing)
        # ...and it arrives once the same client id is back.
        os.kill(sup.proc.pid, signal.SIGCONT)
        sup.wait_for(
            lambda: sup.logged("hub_worker_started", worker=3, restarts=1), 30, "restart of 3"
        )
        publisher.send(181, 200, 300.0)
        expected = publisher.readings()
        _wait_all_stored(sup, influx, prefix, expected)
    finally:
        publisher.close()

    # Each acknowledged reading once, with its value; each event once.
    stored = _stored_readings(influx, prefix)
    assert stored == expected
    answers = len(publisher.commands) + len(publisher.config_versions)
    assert _count(stored) == DEVICES * (200 - 200 // EVENT_EVERY) - answers
    # Events go through each worker's alarm lane, a session of its own: those the broker held
    # for a dead worker's alarm session may be stored after its telemetry.
    engine = sa.create_engine(postgres_url)
    deadline = time.monotonic() + 60
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(events.c.device_id, events.c.seq).where(
                    events.c.device_id.in_(publisher.devices)
                )
            ).all()
        if len(rows) >= len(publisher.events()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    engine.dispose()
    assert len(rows) == len(publisher.events()) == DEVICES * 200 // EVENT_EVERY
    assert {(d, s) for d, s in rows} == publisher.events()
    # Each command acknowledged with its device's result, each config applied: an ack or a
    # report is written with the batch that stores it, so a worker killed after storing it
    # leaves it done, and one killed before leaves it to the broker's redelivery.
    for (_device, k), command in publisher.commands.items():
        status, got = _http(f"{api}/commands/{command}", token)
        assert (status, got["state"], got["result"]) == (200, "acknowledged", {"k": k})
    for device_id, version in publisher.config_versions.items():
        status, got = _http(f"{api}/devices/{device_id}/config", token)
        assert (status, got["version"], got["state"]) == (200, version, "applied")
        status, got = _http(f"{api}/devices/{device_id}", token)
        assert (status, got["config_version"]) == (200, version)
    assert sup.stop() == 0
    assert {ln["worker"] for ln in sup.logged("hub_worker_exited", signal="SIGKILL")} == {2, 3}


def test_a_worker_killed_on_a_long_stream_loses_nothing(
    tmp_path: Path,
    mqtt_broker: Any,
    postgres_url: str,
    influx: Any,
    stopped_later: list[Supervised],
) -> None:
    """A stream long enough that a worker's own record of it would be full: each worker used to
    list the others' messages as missing, at most 10 000 of them (hub/ingest/dedup.py), so
    after some 15 000 messages with 3 workers a record no longer listed the newest, and a
    restarted worker that started from it (the last one written to the shared streams table)
    took the messages the broker held for it as repeats: 224 of the 1 500 acknowledged readings
    sent around the kill were lost. The record is now merged from every worker's saves: it lists
    only what nobody stored (here nothing: no gap, no duplicate, on every worker's /metrics),
    and the restarted worker starts from it."""
    prefix = f"long-{uuid.uuid4().hex[:6]}"
    base_port = _ports_free_from(3)
    host = influx.forwarder_url.split("//")[1]
    devices = tmp_path / "devices.json"
    devices.write_text(json.dumps([{"id": f"{prefix}-0"}]))
    config = tmp_path / "hub.json"
    config.write_text(
        json.dumps(
            {
                "broker_url": mqtt_broker.url,
                "client_id": f"hub-{prefix}",
                "database_url": postgres_url,
                "telemetry_url": f"influxdb://{host}/govedge/autogen",
                "http_port": base_port,
                "devices_file": str(devices),
            }
        )
    )
    sup = Supervised(config, 3)  # no shared_group: "hub" is the default
    stopped_later.append(sup)
    for port in range(base_port, base_port + 3):
        sup.wait_for(lambda p=port: _http(f"http://127.0.0.1:{p}/")[0] == 200, 120, f"{port}")
    time.sleep(1.0)  # subscriptions go out right after CONNACK
    publisher = Publisher(mqtt_broker, prefix, devices=1, event_every=10**9)
    try:
        publisher.send(1, 18_000, 3000.0)
        _wait_all_stored(sup, influx, prefix, publisher.readings())
        # The three workers' shares merge into one record of the stream, which every worker
        # reports (a worker's own view had some 12 000 gaps: the others' shares).
        whole = (1, 18_000, 18_000, 0, 0)
        sup.wait_for(lambda: _stream_record(postgres_url) == whole, 30, "the merged record")
        for port in range(base_port, base_port + 3):
            sup.wait_for(lambda p=port: _shared_figures(p) == (0.0, 0.0), 10, f"figures {port}")
        victim = {ln["worker"]: ln["pid"] for ln in sup.logged("hub_worker_started")}[2]
        stream = threading.Thread(target=publisher.send, args=(18_001, 19_500, 1000.0))
        stream.start()
        sup.wait_for(lambda: publisher.sent >= 18_400, 30, "the stream going on")
        os.kill(victim, signal.SIGKILL)
        stream.join(120)
        sup.wait_for(lambda: sup.logged("hub_worker_started", worker=2, restarts=1), 30, "restart")
        _wait_all_stored(sup, influx, prefix, publisher.readings())
        # What the killed worker had stored since its last save of the stream was not
        # acknowledged to the broker (``Pipeline.ack_after_save``): sent again to its successor,
        # it is counted in the record, not left there as a gap (some 300 of them before).
        sup.wait_for(
            lambda: (_stream_record(postgres_url) or ())[:4] == (1, 19_500, 19_500, 0),
            30,
            "the record after the kill: no gap",
        )
        for port in range(base_port, base_port + 3):
            sup.wait_for(lambda p=port: (_shared_figures(p) or (1,))[0] == 0.0, 10, f"gaps {port}")
    finally:
        publisher.close()
    assert _count(_stored_readings(influx, prefix)) == 19_500


def _stream_record(database_url: str) -> tuple[int, ...] | None:
    """(min seq, max seq, received, gaps, duplicates) of the one stream in the database."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT min_seq, max_seq, received, gaps, duplicates FROM streams")
            ).first()
    finally:
        engine.dispose()
    return None if row is None else tuple(row)


def _shared_figures(port: int) -> tuple[float, float] | None:
    """(govedge_hub_gaps, govedge_hub_streams_duplicates) from a worker's /metrics."""
    status, text = _http(f"http://127.0.0.1:{port}/metrics")
    if status != 200:
        return None
    values = dict(
        line.split(" ", 1)
        for line in text.decode().splitlines()
        if line.startswith(("govedge_hub_gaps ", "govedge_hub_streams_duplicates "))
    )
    return float(values["govedge_hub_gaps"]), float(values["govedge_hub_streams_duplicates"])


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_sigint_stops_the_workers_and_a_killed_supervisor_leaves_none_behind(
    tmp_path: Path, mqtt_broker: Any, postgres_url: str, influx: Any
) -> None:
    host = influx.forwarder_url.split("//")[1]

    def start(name: str) -> tuple[Supervised, list[int]]:
        config = tmp_path / f"{name}.json"
        config.write_text(
            json.dumps(
                {
                    "broker_url": mqtt_broker.url,
                    "client_id": f"{name}-{uuid.uuid4().hex[:6]}",
                    "database_url": postgres_url,
                    "telemetry_url": f"influxdb://{host}/govedge/autogen",
                    "http_port": (base := _ports_free_from(2)),
                }
            )
        )
        sup = Supervised(config, 2)
        for port in (base, base + 1):
            sup.wait_for(lambda p=port: _http(f"http://127.0.0.1:{p}/")[0] == 200, 120, "up")
        return sup, [ln["pid"] for ln in sup.logged("hub_worker_started")]

    sup, pids = start("sigint")
    sup.proc.send_signal(signal.SIGINT)  # Ctrl-C: passed on once to each worker
    assert sup.proc.wait(60) == 0
    assert {ln["worker"]: ln.get("exit_code") for ln in sup.logged("hub_worker_exited")} == {
        1: 0,
        2: 0,
    }
    assert not [pid for pid in pids if _alive(pid)]

    sup, pids = start("orphans")
    sup.proc.kill()  # the supervisor itself, with no chance to stop anything
    sup.proc.wait(10)
    sup.wait_for(lambda: not [pid for pid in pids if _alive(pid)], 60, "workers gone")
