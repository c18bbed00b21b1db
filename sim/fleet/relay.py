"""A TCP relay between one device and the broker, so a fleet simulation can cut a device's link
at the network level (the broker sees a lost connection and publishes the will) without
touching the agent."""

from __future__ import annotations

import asyncio
import contextlib


class LinkRelay:
    """Listens on a loopback port and pipes each connection to the broker while ``up``."""

    def __init__(self, broker_host: str, broker_port: int) -> None:
        self.broker_host = broker_host
        self.broker_port = broker_port
        self.up = True
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[object]] = set()

    async def start(self) -> None:
        """Listen on a free loopback port (``port``, ``url``)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """The relay's address, for an agent to connect to instead of the broker's."""
        return f"mqtt://127.0.0.1:{self.port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            self._abort(writer)
            return
        try:
            b_reader, b_writer = await asyncio.open_connection(self.broker_host, self.broker_port)
        except OSError:
            self._abort(writer)
            return
        self._writers.update((writer, b_writer))
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await asyncio.gather(self._pipe(reader, b_writer), self._pipe(b_reader, writer))
        finally:
            self._writers.difference_update((writer, b_writer))
            self._handlers.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._abort(writer)

    @staticmethod
    def _abort(writer: asyncio.StreamWriter) -> None:
        transport = writer.transport
        if not transport.is_closing():
            transport.abort()

    def cut(self) -> None:
        """Drop every connection abruptly, as a lost link would."""
        for writer in list(self._writers):
            self._abort(writer)

    def set_up(self, up: bool) -> None:
        """Bring the link up or down; down also drops the connections open now."""
        self.up = up
        if not up:
            self.cut()

    async def close(self) -> None:
        """Drop every connection and stop listening; waits up to 2 s for the pipes to end."""
        self.up = False
        self.cut()
        # Aborted sockets end both pipes; wait for the handlers so none is left to cancel.
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=2.0)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
