"""Fixtures for provisioning: a fleet CA, identities, and a real Mosquitto with mutual TLS."""

from __future__ import annotations

import queue
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from govedge.broker import MosquittoBroker, free_port
from provisioning.broker_config import BrokerFiles, write_broker_config
from provisioning.ca import FleetCA, IdentityPaths

WAIT = 5.0
"""Upper bound for any broker round trip on loopback; tests wait on events, not on time."""


class Peer:
    """A paho MQTT 5 client over TLS, with blocking helpers that wait for the broker's answers."""

    def __init__(
        self, host: str, port: int, ca_file: Path, identity: IdentityPaths | None, name: str
    ) -> None:
        self.host, self.port = host, port
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._cond = threading.Condition()
        self._acks: dict[int, Any] = {}
        self._connack: Any = None
        self._closed = False
        # no automatic reconnect: a peer the broker drops stays dropped
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=name,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        context = ssl.create_default_context(cafile=str(ca_file))
        if identity is not None:
            context.load_cert_chain(str(identity.cert), str(identity.key))
        self.client.tls_set_context(context)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda _c, _u, msg: self.messages.put((msg.topic, msg.payload))
        self.client.on_publish = self._on_ack
        self.client.on_subscribe = self._on_ack

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self._cond:
            self._connack = "ok" if not reason.is_failure else f"refused: {reason}"
            self._cond.notify_all()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self._cond:
            if self._connack is None:
                self._connack = f"dropped: {reason}"
            self._closed = True
            self._cond.notify_all()

    def _on_ack(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with self._cond:
            self._acks[mid] = reason
            self._cond.notify_all()

    def connect(self) -> str:
        """'ok', or why the broker would not have us."""
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            return f"tls: {exc}"
        self.client.loop_start()
        with self._cond:
            self._cond.wait_for(lambda: self._connack is not None, WAIT)
            return str(self._connack or "no answer")

    def _wait_ack(self, mid: int) -> Any:
        with self._cond:
            assert self._cond.wait_for(lambda: mid in self._acks, WAIT), "no ack from broker"
            return self._acks.pop(mid)

    def subscribe(self, topic: str) -> list[Any]:
        _, mid = self.client.subscribe(topic, qos=1)
        return list(self._wait_ack(mid))

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> Any:
        """Publish at QoS 1 and return the PUBACK reason code."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        return self._wait_ack(info.mid)

    def expect(self) -> tuple[str, bytes]:
        return self.messages.get(timeout=WAIT)

    def pending(self) -> list[tuple[str, bytes]]:
        out = []
        while not self.messages.empty():
            out.append(self.messages.get_nowait())
        return out

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Fleet:
    """A CA with identities, and a Mosquitto running its generated configuration."""

    ca: FleetCA
    broker: MosquittoBroker
    files: BrokerFiles
    dirs: Path
    ids: dict[str, IdentityPaths]
    peers: list[Peer]

    @property
    def host(self) -> str:
        return self.broker.host

    @property
    def port(self) -> int:
        return self.broker.port

    def peer(self, name: str | None, client_id: str | None = None) -> Peer:
        identity = self.ids[name] if name else None
        peer = Peer(self.host, self.port, self.ca.chain_path, identity, client_id or name or "x")
        self.peers.append(peer)
        return peer

    def connected(self, name: str) -> Peer:
        peer = self.peer(name)
        assert peer.connect() == "ok"
        return peer

    def add_device(self, device_id: str, **options: Any) -> IdentityPaths:
        paths = IdentityPaths(self.dirs / device_id)
        self.ca.issue_device(device_id, model="kiosk", site="hall-1", **options).write(paths)
        self.ids[device_id] = paths
        return paths


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Devices dev-a and dev-b, the hub, an expired device and a revoked one; the broker
    runs the configuration ``write_broker_config`` generated (CRL included)."""
    base = tmp_path_factory.mktemp("fleet")
    ca = FleetCA.init(base / "ca")
    now = datetime.now(UTC)
    ids: dict[str, IdentityPaths] = {}
    fleet = Fleet(ca, None, None, base / "ids", ids, [])  # type: ignore[arg-type]
    for device in ("dev-a", "dev-b", "dev-rot", "dev-rot2"):
        fleet.add_device(device)
    fleet.add_device(
        "dev-expired", not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    revoked = fleet.add_device("dev-revoked")
    ca.revoke_identity("dev-revoked", "key_compromise")
    assert revoked.cert.exists()
    ids["hub"] = ca.issue_service("hub").write(IdentityPaths(base / "ids" / "hub"))
    port = free_port()
    files = write_broker_config(ca, base / "broker", port=port, bind="127.0.0.1")
    assert files.crlfile is not None
    broker = MosquittoBroker(port=port, extra_config=files.listener, workdir=base / "mosquitto")
    broker.workdir.mkdir()
    broker.start()
    fleet.broker, fleet.files = broker, files
    yield fleet
    for peer in fleet.peers:
        peer.close()
    broker.close()


@pytest.fixture
def fresh_ca(tmp_path: Path) -> FleetCA:
    return FleetCA.init(tmp_path / "ca")


@pytest.fixture
def net(fleet: Fleet) -> Iterator[Fleet]:
    """The session's fleet; MQTT clients a test opens are closed when it ends."""
    yield fleet
    while fleet.peers:
        fleet.peers.pop().close()
