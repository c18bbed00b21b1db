"""The flow on its own thread: an asyncio loop that runs the flow and its HTTP clients, so the
GUI thread never waits on a device or the hub.

Views travel to the GUI thread through a Qt signal (queued across threads); taps travel to the
loop with ``call_soon_threadsafe``. Stopping cancels the flow, which wipes the session.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QObject, Signal

from govedge.logs import fields, get_logger
from kiosk.hall.config import KioskConfig
from kiosk.hall.flow import Flow, View
from kiosk.hall.protocols import ClientFactory

log = get_logger(__name__)


class FlowRunner(QObject):
    """Owns the loop thread and the flow; ``view_changed`` carries every new View."""

    view_changed = Signal(object)

    def __init__(self, config: KioskConfig, make_clients: ClientFactory, tick_s: float = 0.2):
        super().__init__()
        self.config = config
        self.make_clients = make_clients
        self.tick_s = tick_s
        self.loop = asyncio.new_event_loop()
        self.flow: Flow | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="kiosk-flow", daemon=True)
        self.error = ""

    def start(self, wait_s: float = 15.0) -> None:
        """Start the loop thread and wait until the flow runs.

        Raises ``TimeoutError`` when it does not start within ``wait_s`` seconds, and
        ``RuntimeError`` with the reason when the device client or service backend cannot be made.
        """
        self._thread.start()
        if not self._ready.wait(wait_s):
            raise TimeoutError("the kiosk flow did not start")
        if self.error:
            raise RuntimeError(self.error)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        try:
            devices, backend = await self.make_clients()
        except Exception as exc:  # noqa: BLE001 - whatever stops the clients is shown on the kiosk's screen
            self.error = f"cannot start the kiosk clients: {exc}"
            self._ready.set()
            return
        try:
            self.flow = Flow(self.config, devices, backend, self.view_changed.emit, self.tick_s)
            self._task = asyncio.current_task()
            self._ready.set()
            self.view_changed.emit(self.flow.view)
            try:
                await self.flow.run()
            except asyncio.CancelledError:
                pass
        finally:
            for client in (devices, backend):
                try:
                    await client.close()
                except Exception as exc:  # noqa: BLE001 - a client that fails to close is logged; the others still close
                    log.warning("client_close_failed", extra=fields(error=type(exc).__name__))
            self._ready.set()

    def tap(self, action: str, arg: str = "") -> None:
        """Forward a touch to the flow (from the GUI thread)."""
        flow = self.flow
        if flow is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(flow.tap, action, arg)

    def call(self, fn: Callable[[Flow], Any]) -> Future[Any]:
        """Run ``fn(flow)`` on the loop (a coroutine function is awaited); for tests and demos."""
        flow = self.flow
        assert flow is not None  # noqa: S101 - narrowing: callers wait for the bridge to be ready

        async def run() -> Any:
            result = fn(flow)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self.loop)

    def stop(self, wait_s: float = 10.0) -> None:
        """Cancel the flow (it wipes the session) and end the loop thread."""
        if self._task is not None and not self.loop.is_closed():
            task = self._task
            self.loop.call_soon_threadsafe(task.cancel)
        self._thread.join(wait_s)

    @property
    def view(self) -> View | None:
        """The flow's latest view; None until the flow has started."""
        return self.flow.view if self.flow else None
