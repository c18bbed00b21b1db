"""Hub extension: systemd readiness and watchdog (``Type=notify``, ``WatchdogSec=``).

Under systemd, ``NOTIFY_SOCKET`` names a datagram socket: the hub sends ``READY=1`` once it is
serving, then ``WATCHDOG=1`` from its event loop every half ``WATCHDOG_USEC``. A loop that blocks
stops the pings and systemd restarts the worker. Outside systemd this does nothing. (The protocol
is a few bytes on a Unix socket; no library is needed for it.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from aiohttp import web

from hub.background import while_serving
from hub.context import Hub

log = logging.getLogger("govedge.hub.watchdog")


def notify(message: str, address: str | None = None) -> bool:
    """Send one sd_notify message; False when there is no socket to send it to."""
    target = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
    if not target:
        return False
    if target.startswith("@"):
        target = "\0" + target[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        # never wait: the event loop sends these, and a reader that stopped reading (its queue
        # holds net.unix.max_dgram_qlen datagrams, 10 by default) blocked the loop for good
        sock.setblocking(False)
        try:
            sock.sendto(message.encode("utf-8"), target)
        except OSError as exc:
            log.warning("sd_notify_failed: %s", exc)
            return False
    return True


def watchdog_interval() -> float | None:
    """How often to ping systemd's watchdog (half its timeout), or None when none is set."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6


def install(hub: Hub, app: web.Application) -> None:
    """Ping systemd's watchdog while the event loop runs, so a hung hub is restarted."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return
    interval = watchdog_interval()

    started = asyncio.Event()

    async def pings() -> None:
        # READY only once every start-up step has run: a stop that came in the middle of them
        # (systemd stops a unit it was told is ready) left the hub's MQTT threads running
        await started.wait()
        notify("READY=1", address)
        while interval:
            notify("WATCHDOG=1", address)
            await asyncio.sleep(interval)

    async def ready(_: web.Application) -> None:
        started.set()

    async def stopping(_: web.Application) -> None:
        notify("STOPPING=1", address)

    while_serving(app, pings)
    app.on_startup.append(ready)  # after the start-up of every cleanup context
    app.on_shutdown.append(stopping)
