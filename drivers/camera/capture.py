"""Capture: a thread reads the source and hands frames to readers through a newest-wins queue.

The event loop never touches OpenCV: ``await camera.aread()`` waits in a worker thread. Health
is kept from what the thread sees (no device, no frames, frozen image).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

from drivers.base import HealthReport
from drivers.camera.errors import CameraEnded, CameraError, FrozenImageError, NoFramesError
from drivers.camera.frames import Frame, LatestFrameQueue
from drivers.camera.health import FrozenDetector
from drivers.camera.sources import FrameSource, SourceSpec, open_source, parse_camera_url
from drivers.errors import DriverError
from govedge.health import HealthState
from govedge.logs import fields, get_logger

log = get_logger(__name__)


class Camera:
    """One camera URL, opened for capture. Thread-safe readers; one capture thread."""

    def __init__(
        self,
        url: str,
        *,
        queue_size: int = 1,
        no_frames_after_s: float = 2.0,
        frozen_after_s: float = 3.0,
    ) -> None:
        self.url = url
        self.spec: SourceSpec = parse_camera_url(url)
        self._queue = LatestFrameQueue(queue_size)
        self._no_frames_after = no_frames_after_s
        self._frozen = FrozenDetector(after_s=frozen_after_s)
        self._source: FrameSource | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._opened_at = 0.0
        self._last_frame_at = 0.0
        self._state = HealthState.OFFLINE
        self._detail = "not opened"
        self.counters: dict[str, int] = {"frames": 0, "read_failures": 0, "errors": 0}

    # -- life cycle ---------------------------------------------------------------------------
    def open(self) -> None:
        """Open the source and start the capture thread; CameraNotFound if nothing is there."""
        if self._thread is not None:
            return
        source = open_source(self.spec)
        try:
            source.open()
        except DriverError as exc:
            self._set(exc.health, str(exc))
            self.counters["errors"] += 1
            raise
        self._source = source
        self._queue = LatestFrameQueue(self._queue_size())
        self._stop.clear()
        self._opened_at = time.monotonic()
        self._set(HealthState.ONLINE, "")
        self._thread = threading.Thread(target=self._run, name="camera-capture", daemon=True)
        self._thread.start()
        log.info("camera_opened", extra=fields(kind=self.spec.kind, fps=source.fps))

    def close(self) -> None:
        """Stop the thread, release the source, zero pending frames; safe to call twice."""
        self._stop.set()
        self._queue.close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self._source is not None:
            self._source.close()
            self._source = None
        self._set(HealthState.OFFLINE, "closed")

    def __enter__(self) -> Camera:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------------
    def read(self, timeout: float = 2.0) -> Frame:
        """The newest frame; NoFramesError after ``timeout`` s, CameraEnded after the last one."""
        frame = self._queue.get(timeout)
        if frame is not None:
            return frame
        if self._queue.closed and self._source is not None and self._source.ended:
            raise CameraEnded(f"camera source {self.spec.kind} has no more frames")
        if self._queue.closed:
            raise CameraError("camera is closed")
        self.counters["errors"] += 1  # the health itself follows the capture thread
        raise NoFramesError(f"no frames from the camera for {timeout:g} s")

    async def aread(self, wait_s: float = 2.0) -> Frame:
        """``read`` off the event loop (the wait happens in a worker thread)."""
        return await asyncio.to_thread(self.read, wait_s)

    def frames(self, timeout: float = 2.0) -> Iterator[Frame]:
        """Frames until a finite source ends (NoFramesError if a live one stalls)."""
        while True:
            try:
                yield self.read(timeout)
            except CameraEnded:
                return

    @property
    def dropped(self) -> int:
        """Frames the newest-wins queue discarded because no reader took them in time."""
        return self._queue.dropped

    # -- health -------------------------------------------------------------------------------
    def health(self) -> HealthReport:
        """The capture thread's state, turned offline when a live source stalls or hardware_error
        when the image is frozen; counters include dropped frames and frozen events.
        """
        with self._lock:
            state, detail = self._state, self._detail
        if state is HealthState.ONLINE and self._thread is not None:
            now = time.monotonic()
            last = self._last_frame_at or self._opened_at
            if self.spec.live and now - last > self._no_frames_after:
                state, detail = HealthState.OFFLINE, "no frames"
            elif self._frozen.frozen:
                state, detail = HealthState.HARDWARE_ERROR, "frozen image"
        counters = dict(self.counters)
        counters["dropped"] = self._queue.dropped
        counters["frozen_events"] = self._frozen.events
        return HealthReport(state, detail, counters["errors"], counters)

    def check(self) -> None:
        """Raise the error matching an unhealthy state (for the agent's poll)."""
        report = self.health()
        if report.detail == "frozen image":
            raise FrozenImageError("the camera keeps delivering the same image")
        if report.state is HealthState.OFFLINE and report.detail == "no frames":
            raise NoFramesError("the camera delivers no frames")

    def _set(self, state: HealthState, detail: str) -> None:
        with self._lock:
            self._state, self._detail = state, detail

    def _queue_size(self) -> int:
        return self._queue._maxsize

    # -- capture thread -----------------------------------------------------------------------
    def _run(self) -> None:
        source = self._source
        assert source is not None  # noqa: S101 - narrowing: open() sets the source before the thread starts
        spec = self.spec
        period = 1.0 / source.fps if source.fps else 0.0
        index = 0
        started = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    image = source.read()
                except Exception as exc:  # noqa: BLE001 - OpenCV raises cv2.error on broken streams
                    self.counters["read_failures"] += 1
                    log.warning("camera_read_failed", extra=fields(error=type(exc).__name__))
                    image = None
                if image is None:
                    if source.ended:
                        break
                    self.counters["read_failures"] += 1
                    self._stop.wait(0.05)
                    continue
                now = time.monotonic()
                t = now if spec.live else index / (source.fps or 10.0)
                frame = Frame(image, t, index)
                self._last_frame_at = now
                self.counters["frames"] += 1
                self._frozen.feed(image, t)
                if spec.lossless:
                    while not self._queue.put_wait(frame, timeout=0.2):
                        if self._stop.is_set() or self._queue.closed:
                            frame.wipe()
                            return
                else:
                    self._queue.put(frame)
                    if not spec.live and period:  # play files and folders at their rate
                        due = started + (index + 1) * period
                        self._stop.wait(max(0.0, due - time.monotonic()))
                index += 1
        finally:
            self._queue.close(drain=True)
