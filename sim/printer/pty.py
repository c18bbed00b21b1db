"""The simulated printer behind a pseudo-terminal, for drivers using a serial printer URL."""

from __future__ import annotations

import os
import select
import threading
from pathlib import Path

from sim.printer.engine import PrinterEngine
from sim.printer.parser import EscPosParser
from sim.pty import close_fds, open_raw_pty


class PtyPrinterSimulator:
    """A printer at ``self.path`` (``/dev/pts/N``); same engine as the TCP simulator."""

    def __init__(self, *, paper: int = 80, out_dir: Path | None = None) -> None:
        self.engine = PrinterEngine(paper=paper, out_dir=out_dir)
        self._master, self._slave, self.path = open_raw_pty()
        self.parser = EscPosParser()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="printer-pty", daemon=True)

    @property
    def url(self) -> str:
        """The pty's slave path, for a driver's serial printer URL."""
        return self.path

    def start(self) -> PtyPrinterSimulator:
        """Serve the pty in a thread; returns self so it can be chained after the constructor."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the pty; waits up to 2 s for the thread."""
        self._stop.set()
        self._thread.join(timeout=2.0)
        close_fds(self._master, self._slave)

    def __enter__(self) -> PtyPrinterSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self._master, 65536)
            except OSError:
                return
            reply = self.engine.handle(self.parser.feed(data))
            if reply:
                os.write(self._master, reply)
