"""One kiosk rig (simulators and a real agent) per module, reset to an empty kiosk per test,
and a small blocking client of its local API (JSON, NDJSON streams, SSE events)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from sim.kiosk.rig import KioskRig, running_rig


class Api:
    """The kiosk app's side of the local API, as plainly as possible."""

    def __init__(self, rig: KioskRig) -> None:
        self.rig = rig
        parts = urlsplit(rig.api_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    def _open(self, method: str, path: str, body: Any) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self.rig.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        return conn.getresponse()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        resp = self._open(method, path, body)
        text = resp.read().decode()
        return resp.status, json.loads(text) if text else None

    def stream(self, path: str, body: Any) -> tuple[int, str, list[dict[str, Any]]]:
        """An NDJSON answer: status, content type, one object per line."""
        resp = self._open("POST", path, body)
        lines = [json.loads(line) for line in resp.read().decode().splitlines() if line]
        return resp.status, resp.getheader("Content-Type", ""), lines


class Events:
    """Collects the SSE events of /v1/events in a thread."""

    def __init__(self, api: Api) -> None:
        self.rig = api.rig
        self.items: list[dict[str, Any]] = []
        self._resp = api._open("GET", "/v1/events", None)
        assert self._resp.status == 200
        # the agent writes this comment once the stream's listener is registered
        assert self._resp.readline().startswith(b": connected")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                line = self._resp.readline()
                if not line:
                    return
                if line.startswith(b"data: "):
                    self.items.append(json.loads(line[6:]))
        except (OSError, ValueError, AttributeError):  # AttributeError: closed under us
            return

    def wait_for(self, check: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in list(self.items):
                if check(item):
                    return item
            time.sleep(0.02)
        states = {n: (s.state.value, s.detail) for n, s in self.rig.agent.supervisors.items()}
        raise AssertionError(
            f"no such event within {timeout} s; got {self.items[-10:]}; drivers {states}"
        )

    def close(self) -> None:
        # The reader thread blocks in readline until the agent's next keepalive comment (15 s),
        # holding the response's lock: shut the connection under it first.
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(self._resp.fileno())) as s:
            s.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        self._resp.close()


@pytest.fixture(scope="module")
def rig(mqtt_broker: Any) -> Iterator[KioskRig]:
    device_id = f"kiosk-rig-{time.time_ns() % 10**8}"
    yield from running_rig(broker_url=mqtt_broker.url, device_id=device_id, finger_timeout_s=2.0)


@pytest.fixture
def kiosk(rig: KioskRig) -> Iterator[KioskRig]:
    """The rig with nobody at it: no card, no face, no finger, paper in, cover shut."""
    citizen = rig.citizen
    citizen.remove_card()
    citizen.face("nobody")
    citizen.lift_finger()
    citizen.paper_out(False)
    citizen.cover_open(False)
    citizen.follow_challenges(True)
    deadline = time.monotonic() + 5.0
    while rig.agent.cards_present().get("idcard") and time.monotonic() < deadline:
        time.sleep(0.02)  # the reader has seen the card go, so the next one is an event
    yield rig
    citizen.remove_card()
    citizen.face("nobody")


@pytest.fixture
def api(kiosk: KioskRig) -> Api:
    return Api(kiosk)


@pytest.fixture
def events(api: Api) -> Iterator[Events]:
    collector = Events(api)
    yield collector
    collector.close()
