"""The simulated module on a pseudo-terminal: the driver opens ``.url`` like a real port.

The slave side is put in raw mode and kept open by the simulator (so the master never sees a
hang-up between two driver sessions); a thread serves the master side with the module's logic.
"""

from __future__ import annotations

import os
import select
import threading
from types import TracebackType
from typing import Any

from sim.fingerprint.device import SimulatedModule
from sim.pty import close_fds, open_raw_pty


class FingerprintSimulator:
    """A simulated R30x module on a pty. Use as a context manager, or start() and stop()."""

    def __init__(self, module: SimulatedModule | None = None, **settings: Any) -> None:
        self.module = module or SimulatedModule(**settings)
        self.url = ""
        self._master = -1
        self._slave = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> FingerprintSimulator:
        """Open the pty (``url`` is its slave path) and serve on it in a thread; a second call does
        nothing.
        """
        if self._thread is not None:
            return self
        self._master, self._slave, self.url = open_raw_pty()
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="fingerprint-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the pty; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        close_fds(self._master, self._slave)
        self._master = self._slave = -1

    def __enter__(self) -> FingerprintSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _serve(self) -> None:
        master = self._master
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(master, 4096)
            except OSError:
                # No slave open for a moment, or the pty is being closed.
                self._stop.wait(0.01)
                continue
            for chunk in self.module.receive(data):
                try:
                    os.write(master, chunk)
                except OSError:
                    break
