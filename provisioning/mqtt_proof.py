"""Proving an identity against the real broker: connect with it over TLS and await CONNACK.

Used by the operator's ``govedge provision check`` and as a rotation proof. paho-mqtt is
imported lazily: it comes with the agent and hub extras, not with provisioning alone.

The broker makes the certificate's name the client id, so this connection *replaces* any
session the same identity has open (the agent's own link drops once, and a clean start discards
its persistent session). An agent that keeps a persistent session should prove a candidate by
reconnecting its own link with it instead (see provisioning.rotation).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from provisioning.ca import IdentityPaths


class _Flag:
    """Set by a callback; read by the loop that drives the client in the same thread."""

    def __init__(self) -> None:
        self.value = False

    def set(self) -> None:
        self.value = True

    def is_set(self) -> bool:
        return self.value


@dataclass(frozen=True, slots=True)
class ConnectResult:
    """Whether the broker accepted the identity, and why not if it did not."""

    ok: bool
    reason: str = ""


def tls_context(paths: IdentityPaths) -> ssl.SSLContext:
    """Client TLS context: trust the fleet chain, present this identity's certificate."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(paths.ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(paths.cert), str(paths.key))
    return context


def try_connect(
    host: str,
    port: int,
    paths: IdentityPaths,
    *,
    client_id: str | None = None,
    timeout: float = 5.0,
) -> ConnectResult:
    """Connect once with ``paths`` (MQTT 5 over TLS), disconnect, and say whether it worked."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    done = _Flag()
    outcome: dict[str, Any] = {}

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        outcome.setdefault("ok", not reason.is_failure)
        outcome.setdefault("reason", str(reason))
        done.set()

    def on_disconnect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        outcome.setdefault("ok", False)
        outcome.setdefault("reason", f"disconnected: {reason}")
        done.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or "",
        protocol=mqtt.MQTTv5,
    )
    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.tls_set_context(tls_context(paths))
    except (OSError, ssl.SSLError) as exc:
        return ConnectResult(False, f"identity files unusable: {exc}")
    try:
        client.connect(host, port, keepalive=10)
    except (OSError, ssl.SSLError) as exc:
        return ConnectResult(False, f"TLS/TCP refused: {exc}")
    # drive the client in this thread: no background thread, no automatic reconnect
    deadline = time.monotonic() + timeout
    try:
        while not done.is_set():
            if time.monotonic() >= deadline:
                return ConnectResult(False, "no CONNACK before timeout")
            rc = client.loop(timeout=0.05)
            if rc != mqtt.MQTT_ERR_SUCCESS and not done.is_set():
                return ConnectResult(False, f"connection lost: {mqtt.error_string(rc)}")
        return ConnectResult(bool(outcome["ok"]), str(outcome["reason"]))
    finally:
        if client.is_connected():
            client.disconnect()
            client.loop(timeout=0.05)
        sock = client.socket()
        if sock is not None:
            sock.close()


def connect_proof(host: str, port: int, *, timeout: float = 5.0) -> Callable[[IdentityPaths], bool]:
    """A rotation proof: True if the broker at host:port accepts the candidate identity."""

    def prove(paths: IdentityPaths) -> bool:
        return try_connect(host, port, paths, timeout=timeout).ok

    return prove
