"""Driver supervision: each driver is opened and polled in its own task, its blocking calls run in
a worker thread, and its failures move it through the health states with exponential backoff.

A failing driver never stops the agent. Errors that leave the device usable (a torn frame, no
card on the reader, busy) keep the driver open and polling on its interval; the others (port
gone, timeout, hardware fault, anything unexpected) close it and reopen it after a backoff that
doubles up to the driver's ``backoff_max_s``.

Stopping is bounded whatever the driver is doing: a driver call runs in a daemon thread of its
own (never in the event loop's default executor, which ``asyncio.run`` joins without a limit at
exit), a cancellation always reaches the polling task (no ``wait_for``, which on Python 3.11 can
swallow a cancellation that arrives as the call completes, cpython issue 86296), and a call still
running after ``poll_timeout_s`` is abandoned to its thread instead of being waited for.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from drivers.base import PolledDriver
from drivers.errors import DriverError
from edge_agent.backoff import Backoff
from edge_agent.stopping import cancel_within
from firmware_configs.schema import DriverConfig
from govedge.health import HealthState
from govedge.logs import fields, get_logger

log = get_logger(__name__)

T = TypeVar("T")

KEEP_OPEN = frozenset({HealthState.ONLINE, HealthState.USER_ERROR, HealthState.BUSY})
"""States after an error in which the driver stays open and keeps its interval."""

ReadingSink = Callable[["DriverSupervisor", Mapping[str, float]], Awaitable[None]]
StateSink = Callable[["DriverSupervisor"], None]

STOP_TASK_S = 2.0
"""How long :meth:`DriverSupervisor.stop` gives the polling task to end once cancelled."""


class DriverSupervisor:
    """Owns one driver: opens it, polls it, tracks its health, reopens it after failures."""

    def __init__(
        self,
        config: DriverConfig,
        driver: PolledDriver,
        on_reading: ReadingSink,
        on_state: StateSink,
    ) -> None:
        self.config = config
        self.driver = driver
        self.on_reading = on_reading
        self.on_state = on_state
        self.state = HealthState.OFFLINE
        self.detail = "not opened yet"
        self.errors = 0
        self.polls = 0
        self.opened = False
        self.lock = asyncio.Lock()  # one operation at a time on the device
        self.backoff = Backoff(min(1.0, config.backoff_max_s), config.backoff_max_s, jitter=False)
        self._task: asyncio.Task[None] | None = None
        self._stuck: asyncio.Future[Any] | None = None

    @property
    def name(self) -> str:
        """The driver's name in the device config (also the key of its supervisor)."""
        return self.config.name

    def start(self) -> None:
        """Start the polling task on the running loop; does nothing while it runs already."""
        if self._task is not None and not self._task.done():
            return
        self._task = asyncio.create_task(self._run(), name=f"driver-{self.name}")

    def stop_bound_s(self) -> float:
        """The longest :meth:`stop` can take: the task's end, a call in flight, the close."""
        return STOP_TASK_S + 2 * self.config.poll_timeout_s

    async def stop(self) -> None:
        """Stop polling and close the driver, within :meth:`stop_bound_s` whatever it does.

        A call still running after ``poll_timeout_s`` owns the device: it is abandoned to its
        (daemon) thread and the driver is not closed under it; this is logged.
        """
        task, self._task = self._task, None
        if task is not None:
            await cancel_within([task], STOP_TASK_S)
        stuck = self._stuck
        if stuck is not None and not stuck.done():
            # A call still owns the device; let it finish (within the poll timeout) first.
            await asyncio.wait({stuck}, timeout=self.config.poll_timeout_s)
            if not stuck.done():
                self.opened = False
                log.warning(
                    "driver_call_abandoned",
                    extra=fields(driver=self.name, waited_s=self.config.poll_timeout_s),
                )
                return
        self._stuck = None
        await self._close()

    async def restart(self) -> None:
        """Close and reopen the driver now (the restart_driver command)."""
        await self.stop()
        self.backoff.reset()
        self.start()

    def _set(self, state: HealthState, detail: str) -> None:
        changed = state != self.state
        self.state = state
        self.detail = detail
        if changed:
            log.info(
                "driver_state", extra=fields(driver=self.name, state=state.value, detail=detail)
            )
            self.on_state(self)

    async def call(self, func: Callable[[], T]) -> T:
        """Run a blocking driver call in a worker thread, within the poll timeout.

        On a timeout the call keeps running in its thread and the driver is treated as offline
        until it returns (the device cannot be used concurrently).
        """
        if self._stuck is not None and not self._stuck.done():
            raise DriverError(f"{self.name}: a previous call is still running")
        future = in_thread(func, f"driver-{self.name}")
        try:
            await asyncio.wait({future}, timeout=self.config.poll_timeout_s)
        finally:
            if not future.done():  # timed out, or cancelled: the call keeps the device
                self._stuck = future
                future.add_done_callback(_consume)
        if not future.done():
            raise _CallTimeout(f"{self.name}: no answer within {self.config.poll_timeout_s} s")
        return future.result()

    async def _close(self) -> None:
        if self.opened:
            self.opened = False
            future = in_thread(self.driver.close, f"driver-{self.name}-close")
            future.add_done_callback(_consume)
            await asyncio.wait({future}, timeout=self.config.poll_timeout_s)
            if not future.done():
                log.warning("driver_close_abandoned", extra=fields(driver=self.name))
                return
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - a driver's failed close is logged; the agent goes on
                log.warning("driver_close_failed", extra=fields(driver=self.name, error=str(exc)))

    async def _run(self) -> None:
        interval = self.config.poll_interval_s
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            if not self.opened:
                try:
                    async with self.lock:
                        await self.call(self.driver.open)
                    self.opened = True
                except Exception as exc:  # noqa: BLE001 - a driver's failure must not stop its supervisor loop
                    await self._failed(exc, opening=True)
                    continue
            try:
                async with self.lock:
                    reading = await self.call(self.driver.poll)
            except Exception as exc:  # noqa: BLE001 - a driver's failure must not stop its supervisor loop
                await self._failed(exc, opening=False)
                next_at = loop.time()
                continue
            self.polls += 1
            self.backoff.reset()
            self._set(self._reported_state(), "")
            if reading:
                try:
                    await self.on_reading(self, reading)
                except Exception:
                    log.exception("reading_not_queued", extra=fields(driver=self.name))
            next_at = max(next_at + interval, loop.time())
            await asyncio.sleep(next_at - loop.time())

    def _reported_state(self) -> HealthState:
        try:
            state = self.driver.health().state
        except Exception:  # noqa: BLE001 - a driver whose health() fails is reported by its poll
            return HealthState.ONLINE
        return HealthState(state)

    async def _failed(self, exc: BaseException, *, opening: bool) -> None:
        self.errors += 1
        if isinstance(exc, DriverError):
            state = HealthState(exc.health)
            level = log.info if state in KEEP_OPEN else log.warning
            level(
                "driver_error",
                extra=fields(driver=self.name, error=type(exc).__name__, detail=str(exc)),
            )
        else:
            state = HealthState.HARDWARE_ERROR
            log.error(
                "driver_failed_unexpectedly",
                exc_info=exc,
                extra=fields(driver=self.name, opening=opening),
            )
        detail = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, _CallTimeout):
            state = HealthState.OFFLINE
        if not opening and state in KEEP_OPEN:
            self._set(state, detail)
            await asyncio.sleep(self.config.poll_interval_s)
            return
        if state == HealthState.ONLINE:
            state = HealthState.OFFLINE
        self._set(state, detail)
        if self._stuck is not None:
            await asyncio.wait({self._stuck}, timeout=self.backoff.cap)
            if self._stuck.done():
                self._stuck = None
        await self._close()
        await asyncio.sleep(self.backoff.next())


class _CallTimeout(DriverError):
    """A driver call did not return within its timeout."""

    health = HealthState.OFFLINE


def in_thread(func: Callable[[], T], name: str) -> asyncio.Future[T]:
    """Run a blocking call in a new daemon thread; its outcome settles the returned future.

    Unlike ``asyncio.to_thread`` the thread is not the loop's default executor's, which
    ``asyncio.run`` joins without a time limit on exit: a driver blocked in a read can never
    keep the process from ending. Cancelling the future does not stop the call.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result: T | None = func()
            exc: BaseException | None = None
        except BaseException as error:  # noqa: BLE001 - handed to the awaiting side
            result, exc = None, error
        try:
            loop.call_soon_threadsafe(settle, result, exc)
        except RuntimeError:
            pass  # the loop is gone (the agent stopped while this call was running)

    threading.Thread(target=work, name=name, daemon=True).start()
    return future


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
