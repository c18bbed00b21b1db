"""The simulated card on the wire: a vpcd client that can be inserted and removed.

vpcd listens on TCP (35963 by default, per reader slot); a card is "in the reader" while it is
connected. ``VirtualCard`` connects, answers vpcd's control messages and APDUs with its card
model, and reconnects after vpcd drops it; ``remove()`` closes the connection (pcscd sees the
card leave on its next presence poll) and ``insert()`` connects again.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time

from govedge.logs import fields
from sim.smartcard.card import SocialSecurityCardModel
from sim.smartcard.netns import enter_netns
from sim.smartcard.vpcd import (
    CTRL_ATR,
    CTRL_OFF,
    CTRL_ON,
    CTRL_RESET,
    DEFAULT_PORT,
    Apdu,
    Control,
    VpcdDecoder,
    classify,
    encode_frame,
)

log = logging.getLogger("govedge.sim.smartcard")
_TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", 12)


class VirtualCard:
    """A card model connected to vpcd at ``host:port`` (inside ``netns`` when given)."""

    def __init__(
        self,
        model: SocialSecurityCardModel,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        netns: str | None = None,
        retry_interval: float = 0.05,
    ) -> None:
        self.model = model
        self.host = host
        self.port = port
        self.netns = netns
        self.retry_interval = retry_interval
        self.connections = 0
        self.unknown_controls = 0
        self.error = ""
        self._inserted = threading.Event()
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def where(self) -> str:
        """Where the card connects, for messages: ``host:port`` and the netns if any."""
        return f"{self.host}:{self.port}" + (f" (netns {self.netns})" if self.netns else "")

    def start(self, inserted: bool = True) -> VirtualCard:
        """Start the card's thread; it connects at once if ``inserted``."""
        if inserted:
            self._inserted.set()
        self._thread = threading.Thread(target=self._run, name="vpcd-card", daemon=True)
        self._thread.start()
        return self

    def insert(self) -> None:
        """Put the card in the reader (connect to vpcd)."""
        self._inserted.set()

    def remove(self) -> None:
        """Take the card out (close the connection and stay away)."""
        self._inserted.clear()
        self._drop()

    def wait_connected(self, timeout: float) -> bool:
        """True once vpcd has accepted the card's connection; False on timeout or ``error``."""
        deadline = time.monotonic() + timeout
        while not self._connected.wait(min(0.05, max(0.0, deadline - time.monotonic()))):
            if self.error or time.monotonic() >= deadline:
                return False
        return True

    @property
    def connected(self) -> bool:
        """Whether vpcd has the card's connection now."""
        return self._connected.is_set()

    def stop(self) -> None:
        """Remove the card and end its thread."""
        self._stop.set()
        self._inserted.set()  # wake the thread so it sees the stop
        self._drop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _drop(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _run(self) -> None:
        if self.netns:
            try:
                enter_netns(self.netns)  # this thread only: its sockets live in pcscd's namespace
            except OSError as exc:
                self.error = f"cannot enter the network namespace {self.netns}: {exc.strerror}"
                return
        while not self._stop.is_set():
            self._inserted.wait()
            if self._stop.is_set():
                break
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
            except OSError:
                time.sleep(self.retry_interval)
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if not self._inserted.is_set() or self._stop.is_set():
                    sock.close()
                    continue
                self._sock = sock
            self.connections += 1
            self._connected.set()
            log.debug("card_connected", extra=fields(where=self.where))
            try:
                self._serve(sock)
            finally:
                self._connected.clear()
                self._drop()
                log.debug("card_disconnected", extra=fields(where=self.where))
            time.sleep(self.retry_interval)

    def _serve(self, sock: socket.socket) -> None:
        decoder = VpcdDecoder()
        while True:
            try:
                # vpcd may write the length and the message separately; acknowledging at once
                # keeps its Nagle timer from holding the message back 40 ms per APDU.
                sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
                data = sock.recv(4096)
            except OSError:
                return
            if not data:
                return
            for message in decoder.feed(data):
                reply = self._handle(message)
                if reply is not None:
                    try:
                        sock.sendall(encode_frame(reply))
                    except OSError:
                        return

    def _handle(self, message: bytes) -> bytes | None:
        item = classify(message)
        if isinstance(item, Control):
            if item.code == CTRL_ATR:
                return self.model.atr
            if item.code == CTRL_ON:
                self.model.power_on()
            elif item.code == CTRL_OFF:
                self.model.power_off()
            elif item.code == CTRL_RESET:
                self.model.reset()
            else:
                self.unknown_controls += 1
            return None
        assert isinstance(item, Apdu)
        return self.model.process(item.data)
