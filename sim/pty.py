"""The raw pseudo-terminal every serial simulator serves on.

The driver opens the slave's path (``/dev/pts/N``) exactly as it would a USB serial adapter; the
simulator reads and writes the master. Both ends are raw: no echo, no line discipline, so every
byte crosses unchanged.
"""

from __future__ import annotations

import os
import tty


def open_raw_pty(nonblocking_master: bool = False) -> tuple[int, int, str]:
    """Open a raw pty pair; return (master fd, slave fd, slave path)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    tty.setraw(master)
    if nonblocking_master:
        os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


def close_fds(*fds: int) -> None:
    """Close each valid fd, ignoring those already closed."""
    for fd in fds:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass
