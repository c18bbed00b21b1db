"""sd_notify never blocks the hub's event loop, even when nobody reads the notify socket."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from hub.watchdog import notify


def test_notify_does_not_wait_for_a_reader_that_stopped_reading(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as reader:
        reader.bind(str(path))
        results: list[bool] = []
        # more than the kernel queues for an unread datagram socket (max_dgram_qlen, 10)
        sender = threading.Thread(
            target=lambda: results.extend(notify("WATCHDOG=1", str(path)) for _ in range(50)),
            daemon=True,
        )
        sender.start()
        sender.join(5)
        assert not sender.is_alive(), "notify blocked on a full socket"
        assert results[0] is True and results[-1] is False  # the overflow is refused, not waited
        assert reader.recv(64) == b"WATCHDOG=1"
