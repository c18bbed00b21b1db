"""Linux namespace helpers (ctypes): enter a network namespace, isolate a child process.

A private pcscd runs in its own mount and network namespaces: its socket directory is private and
vpcd's listening port exists only on that namespace's loopback, so nothing listens on the host's
interfaces and a pcscd left over from another run cannot collide with it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import signal
import socket
import struct

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def enter_netns(path: str) -> None:
    """Move the calling thread into the network namespace at ``path`` (/proc/PID/ns/net)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), f"setns {path}")
    finally:
        os.close(fd)


def loopback_up() -> None:
    """Bring ``lo`` up in the current network namespace (a new one starts with it down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def isolate_child(run_dir: str, error_path: str) -> None:
    """In a forked child before exec: new mount and network namespaces, a private /run with
    ``run_dir`` bound at /run/pcscd, loopback up, and death with the parent. A failure is also
    written to ``error_path``, since the parent only learns that the child failed."""
    try:
        _isolate(run_dir)
    except OSError as exc:
        with open(error_path, "w") as out:
            out.write(str(exc))
        raise


def _isolate(run_dir: str) -> None:
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0), "prctl")
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    _check(_libc.mount(b"tmpfs", b"/run", b"tmpfs", 0, b"mode=0755"), "mount tmpfs on /run")
    os.mkdir("/run/pcscd", 0o755)
    _check(_libc.mount(run_dir.encode(), b"/run/pcscd", None, MS_BIND, None), "bind /run/pcscd")
    loopback_up()
