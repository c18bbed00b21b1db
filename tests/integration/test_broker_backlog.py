"""The generated broker configuration holds the hub's backlog: a hub outage under load loses
nothing the broker acknowledged, and the hub alarms as the backlog nears the configured limit.

Everything is real: the fleet CA, Mosquitto running the generated mosquitto.conf as written
(mutual TLS, ACL, queue limits), the hub as its own process (``govedge hub``, killed with
SIGKILL), and device publishers with their own certificates.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from govedge.broker import MosquittoBroker, free_port
from govedge.contract import Channel, Telemetry, encode, topic
from provisioning.broker_config import Backlog, write_broker_config
from provisioning.ca import FleetCA, IdentityPaths

DEVICES = 10
RATE_HZ = 50.0  # per device: 500 msg/s in all
OUTAGE_S = 60.0


@dataclass
class Publisher:
    """One device: publishes numbered readings at QoS 1 and keeps the seqs the broker acked."""

    device_id: str
    client: mqtt.Client
    boot_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    acked: set[int] = field(default_factory=set)
    mids: dict[int, int] = field(default_factory=dict)
    early: dict[int, bool] = field(default_factory=dict)  # PUBACKs that beat the bookkeeping
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with self.lock:
            seq = self.mids.pop(mid, None)
            if seq is None:
                self.early[mid] = not reason.is_failure
            elif not reason.is_failure:
                self.acked.add(seq)

    def publish(self, seq: int, ts: float | None = None) -> None:
        when = time.time() if ts is None else ts
        msg = Telemetry(
            device_id=self.device_id, boot_id=self.boot_id, seq=seq, ts=when, data={"n": seq}
        )
        info = self.client.publish(topic(self.device_id, Channel.TELEMETRY), encode(msg), qos=1)
        with self.lock:
            ok = self.early.pop(info.mid, None)
            if ok is None:
                self.mids[info.mid] = seq
            elif ok:
                self.acked.add(seq)


@dataclass
class Setup:
    base: Path
    ca: FleetCA
    broker: MosquittoBroker
    backlog: Backlog
    hub_config: Path
    http_port: int
    token: str = ""
    hub: subprocess.Popen[bytes] | None = None

    def start_hub(self) -> None:
        log = (self.base / "hub.log").open("ab")
        self.hub = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url("/metrics"), timeout=5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("the hub did not answer within 30 s")
        if not self.token:
            made = subprocess.run(
                [*self.command(), "token", "create", "--role", "admin"],
                capture_output=True,
                text=True,
                check=True,
            )
            self.token = made.stdout.strip()

    def command(self) -> list[str]:
        return [sys.executable, "-m", "govedge", "hub", "--config", str(self.hub_config)]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def kill_hub(self) -> None:
        assert self.hub is not None
        self.hub.send_signal(signal.SIGKILL)
        self.hub.wait(10)
        self.hub = None

    def api(self, path: str) -> Any:
        request = urllib.request.Request(
            self.url(path),
            headers={"Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())


def _generated_broker(
    base: Path, ca: FleetCA, backlog: Backlog, *, sys_interval: int | None = None
) -> MosquittoBroker:
    port = free_port()
    files = write_broker_config(
        ca, base / "broker", port=port, bind="127.0.0.1", backlog=backlog, key_owner=None
    )
    text = files.conf.read_text().replace("log_dest stderr\n", "")
    if sys_interval is not None:
        text = text.replace("sys_interval 10", f"sys_interval {sys_interval}")
    if os.geteuid() == 0:
        text += "user root\n"
    broker = MosquittoBroker(port=port, extra_config=text, workdir=base / "mosq", defaults=False)
    broker.workdir.mkdir()
    broker.start()
    return broker


@pytest.fixture
def setup(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Setup]:
    backlog: Backlog = request.param
    ca = FleetCA.init(tmp_path / "ca")
    hub_id = IdentityPaths(tmp_path / "hub-mqtt")
    ca.issue_service("hub").write(hub_id)
    for n in range(DEVICES):
        ca.issue_device(f"dev-{n:02d}", model="gauge", site="river").write(
            IdentityPaths(tmp_path / f"dev-{n:02d}")
        )
    broker = _generated_broker(tmp_path, ca, backlog, sys_interval=1)
    http_port = free_port()
    config = {
        "broker_url": f"mqtts://127.0.0.1:{broker.port}",
        "client_id": "hub",
        "tls_ca": str(hub_id.ca),
        "tls_cert": str(hub_id.cert),
        "tls_key": str(hub_id.key),
        "database_url": f"sqlite:///{tmp_path / 'registry.db'}",
        "telemetry_url": f"sqlite:///{tmp_path / 'telemetry.db'}",
        "http_port": http_port,
        "auto_register": True,
        "broker_backlog_messages": backlog.messages,
        "broker_backlog_bytes": backlog.bytes,
    }
    hub_config = tmp_path / "hub.json"
    hub_config.write_text(json.dumps(config))
    s = Setup(tmp_path, ca, broker, backlog, hub_config, http_port)
    yield s
    if s.hub is not None:
        s.hub.terminate()
        s.hub.wait(30)
    broker.close()


def _connect(s: Setup, device_id: str) -> Publisher:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5)
    paths = IdentityPaths(s.base / device_id)
    context = ssl.create_default_context(cafile=str(s.ca.chain_path))
    context.load_cert_chain(str(paths.cert), str(paths.key))
    client.tls_set_context(context)
    client.max_inflight_messages_set(100)
    pub = Publisher(device_id, client)
    client.on_publish = pub.on_publish
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.connect("127.0.0.1", s.broker.port, keepalive=30)
    client.loop_start()
    assert connected.wait(10), f"{device_id} could not connect"
    return pub


def _stored(s: Setup, device_id: str) -> set[int]:
    body = s.api(f"/api/v1/devices/{device_id}/telemetry?metric=n&start=-1h&limit=100000")
    return {int(item["value"]) for item in body["items"]}


def _load(publishers: list[Publisher], seconds: float, start_seq: int) -> int:
    """Publish at RATE_HZ per device for ``seconds``; return the next seq."""
    seq = start_seq
    step = 1.0 / RATE_HZ
    next_at = time.monotonic()
    end = next_at + seconds
    while next_at < end:
        for pub in publishers:
            pub.publish(seq)
        seq += 1
        next_at += step
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return seq


@pytest.mark.timeout(420)
@pytest.mark.parametrize(
    "setup",
    [Backlog(devices=DEVICES, rate_hz=RATE_HZ, ride_out_s=OUTAGE_S * 1.5, message_bytes=256)],
    indirect=True,
)
def test_hub_down_for_60_s_under_load_loses_nothing(setup: Setup) -> None:
    """500 msg/s from 10 devices; the hub is killed with SIGKILL and stays down 60 s (30 000
    readings, thirty times Mosquitto's default queue); every reading the broker acknowledged is
    stored once the hub is back."""
    s = setup
    s.start_hub()
    publishers = [_connect(s, f"dev-{n:02d}") for n in range(DEVICES)]
    seq = _load(publishers, 3.0, 1)
    s.kill_hub()
    seq = _load(publishers, OUTAGE_S, seq)
    s.start_hub()
    seq = _load(publishers, 3.0, seq)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(p.mids for p in publishers):
        time.sleep(0.1)  # the last PUBACKs
    acked = {p.device_id: set(p.acked) for p in publishers}
    for p in publishers:
        p.client.disconnect()
        p.client.loop_stop()
    total = sum(len(v) for v in acked.values())
    assert total >= DEVICES * RATE_HZ * (OUTAGE_S + 4) * 0.9, f"only {total} acknowledged"
    missing: dict[str, int] = {}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        missing = {d: len(seqs - _stored(s, d)) for d, seqs in acked.items()}
        if not any(missing.values()):
            break
        time.sleep(1.0)
    assert not any(missing.values()), f"acknowledged but not stored: {missing} of {total}"


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    "setup",
    [Backlog(devices=1, rate_hz=1, ride_out_s=1000, message_bytes=256, headroom=1.0)],
    indirect=True,
)
def test_hub_alarms_when_the_backlog_nears_the_limit(setup: Setup) -> None:
    """With the hub away, 800 readings (and the broker's own ~80 retained $SYS and status
    messages, which its store count includes) fill over 80 % of a 1 000-message queue; back, the
    hub reads
    the broker's $SYS store count, raises 'broker-backlog' (major), shows it in /metrics, and
    clears it once the queue has drained."""
    s = setup
    s.start_hub()  # the hub's persistent session exists from here on
    s.kill_hub()
    pub = _connect(s, "dev-00")
    start = time.time() - 800 / 40.0  # readings taken at 40 Hz, within the contract's rate
    for seq in range(1, 801):
        pub.publish(seq, ts=start + seq / 40.0)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and pub.mids:
        time.sleep(0.05)
    assert len(pub.acked) == 800
    time.sleep(2.5)  # two $SYS intervals: the retained count now holds the queue
    s.start_hub()
    raised: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not raised:
        raised = s.api("/api/v1/alarms?rule=broker-backlog").get("items", [])
        time.sleep(0.2)
    if not raised:
        with urllib.request.urlopen(s.url("/metrics"), timeout=10) as resp:
            backlog = [ln for ln in resp.read().decode().splitlines() if "backlog" in ln]
        raise AssertionError(f"no broker-backlog alarm; {backlog}")
    alarm = raised[0]
    assert alarm["device_id"] == "hub" and alarm["severity"] == "major"
    assert "queue it may keep for the hub" in alarm["message"]
    with urllib.request.urlopen(s.url("/metrics"), timeout=10) as resp:
        metrics = resp.read().decode()
    assert 'govedge_hub_broker_backlog_limit{unit="messages"} 1000.0' in metrics
    assert 'govedge_hub_broker_backlog{unit="messages"}' in metrics
    deadline = time.monotonic() + 20
    state = ""
    while time.monotonic() < deadline:
        state = s.api(f"/api/v1/alarms/{alarm['id']}")["state"]
        if state == "cleared":
            break
        time.sleep(0.3)
    assert state == "cleared"
    assert _stored(s, "dev-00") == set(range(1, 801))
    pub.client.disconnect()
    pub.client.loop_stop()
