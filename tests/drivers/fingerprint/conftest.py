"""Fixtures: the simulated module on a pty, an opened driver, and a scripted peer on a pty."""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from collections.abc import Iterator

import pytest

from drivers.fingerprint.module import FingerprintModule, ModuleSettings
from sim.fingerprint import FingerprintSimulator

FAST = ModuleSettings(timeout=0.5, finger_timeout=0.3, poll_interval=0.0, quiet_gap=0.03)


@pytest.fixture
def sim() -> Iterator[FingerprintSimulator]:
    with FingerprintSimulator() as simulator:
        yield simulator


@pytest.fixture
def module(sim: FingerprintSimulator) -> Iterator[FingerprintModule]:
    with FingerprintModule(sim.url, FAST) as driver:
        yield driver


class ScriptedPeer:
    """The far end of a pty that plays a fixed script: (expected request, reply) pairs.

    Whatever the driver writes is recorded; each time the bytes received so far end with the
    next expected request, the scripted reply is written back.
    """

    def __init__(self, script: list[tuple[bytes, bytes]]) -> None:
        self.script = list(script)
        self.received = bytearray()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.url = os.ttyname(self._slave)
        self.step = 0  # script steps matched so far
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def wait_played(self, timeout: float = 5.0) -> bool:
        """True once every step of the script has been received (the driver's last bytes may
        still be in the pty when it returns)."""
        deadline = time.monotonic() + timeout
        while self.step < len(self.script) and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.step == len(self.script)

    def _serve(self) -> None:
        step = 0
        matched_to = 0
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.02)
            if not ready:
                continue
            try:
                self.received += os.read(self._master, 4096)
            except OSError:
                continue
            while step < len(self.script):
                expected, reply = self.script[step]
                at = self.received.find(expected, matched_to)
                if at < 0:
                    break
                matched_to = at + len(expected)
                step += 1
                self.step = step
                if reply:
                    os.write(self._master, reply)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self._master)
        os.close(self._slave)


@pytest.fixture
def scripted() -> Iterator[type[ScriptedPeer]]:
    peers: list[ScriptedPeer] = []

    class Peer(ScriptedPeer):
        def __init__(self, script: list[tuple[bytes, bytes]]) -> None:
            super().__init__(script)
            peers.append(self)

    yield Peer
    for peer in peers:
        peer.close()


@pytest.fixture
def fast() -> ModuleSettings:
    """Driver settings for tests: short waits, no polling pause."""
    return FAST
