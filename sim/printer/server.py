"""The simulated printer's TCP server (raw port 9100 protocol: bytes in, status bytes out)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

from govedge.logs import fields, get_logger
from sim.printer.engine import PrinterEngine, SimState
from sim.printer.page import SimReceipt
from sim.printer.parser import EscPosParser

log = get_logger(__name__)


class PrinterSimulator:
    """A receipt printer on ``tcp://host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        paper: int = 80,
        out_dir: Path | None = None,
    ) -> None:
        self.engine = PrinterEngine(paper=paper, out_dir=out_dir)
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.2)
        self.host, self.port = self._listener.getsockname()[:2]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.counters: dict[str, int] = {
            "connections": 0,
            "bytes": 0,
            "unknown_commands": 0,
            "torn_bytes": 0,  # the start of a command left unfinished when a client went away
        }

    @property
    def url(self) -> str:
        """The printer's ``tcp://`` URL, with the port the listener got."""
        return f"tcp://{self.host}:{self.port}"

    @property
    def receipts(self) -> list[SimReceipt]:
        """The receipts printed so far (the engine's list, not a copy)."""
        return self.engine.receipts

    def start(self) -> PrinterSimulator:
        """Accept connections in a thread; returns self, to chain after the constructor."""
        thread = threading.Thread(target=self._accept_loop, name="printer-sim", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Close every client connection and the listener; waits up to 2 s for each thread."""
        self._stop.set()
        with self._lock:
            for client in list(self._clients):
                try:
                    client.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for thread in list(self._threads):
            thread.join(timeout=2.0)
        self._listener.close()

    def __enter__(self) -> PrinterSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def drop_connections(self) -> int:
        """Close every client connection (a printer rebooting or a switch port flapping)."""
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(clients)

    def set_state(self, **flags: bool) -> SimState:
        """Set paper_out, paper_near_end, cover_open, cutter_error or drawer_high."""
        state = self.engine.set_state(**flags)
        log.debug("printer_sim_state", extra=fields(**{k: int(v) for k, v in flags.items()}))
        return state

    def wait_for_receipts(self, count: int, timeout: float = 5.0) -> list[SimReceipt]:
        """Block until ``count`` receipts are done or ``timeout`` s pass; return them all."""
        return self.engine.wait_for_receipts(count, timeout)

    def snapshot(self) -> dict[str, Any]:
        """The engine's snapshot with the connection and byte counters added."""
        return {**self.engine.snapshot(), **self.counters}

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(0.2)
            with self._lock:
                self._clients.add(client)
                self.counters["connections"] += 1
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            thread.start()
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _serve(self, client: socket.socket) -> None:
        parser = EscPosParser()
        try:
            while not self._stop.is_set():
                try:
                    data = client.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                with self._lock:
                    self.counters["bytes"] += len(data)
                reply = self.engine.handle(parser.feed(data))
                if reply:
                    client.sendall(reply)
        except OSError:
            pass
        finally:
            with self._lock:
                self._clients.discard(client)
                self.counters["unknown_commands"] += parser.unknown_commands
                self.counters["torn_bytes"] += parser.pending
            client.close()
