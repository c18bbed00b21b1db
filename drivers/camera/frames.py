"""A captured frame, and the bounded queue that hands frames from the capture thread to readers.

The queue keeps at most ``maxsize`` frames and drops the oldest when full, so a slow reader
always gets the newest picture instead of a backlog. Dropped frames are zeroed (citizen data).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class Frame:
    """One BGR image (uint8, HxWx3), its time in seconds and its index in the source."""

    image: np.ndarray
    t: float
    index: int

    def wipe(self) -> None:
        """Zero the pixels in place."""
        self.image.fill(0)


class LatestFrameQueue:
    """Bounded, thread-safe, newest-wins frame queue."""

    def __init__(self, maxsize: int = 1) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._items: deque[Frame] = deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        """Add a frame; if full, the oldest is dropped (and zeroed)."""
        with self._cond:
            while len(self._items) >= self._maxsize:
                old = self._items.popleft()
                old.wipe()
                self.dropped += 1
            self._items.append(frame)
            self._cond.notify_all()

    def put_wait(self, frame: Frame, timeout: float | None = None) -> bool:
        """Add a frame once there is room (lossless replay); False if closed or timed out."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._closed or len(self._items) < self._maxsize, timeout
            )
            if not ok or self._closed:
                return False
            self._items.append(frame)
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> Frame | None:
        """The oldest retained frame (the newest one when maxsize is 1), or None on timeout
        or when the queue is closed and empty."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or bool(self._items), timeout)
            if not self._items:
                return None
            frame = self._items.popleft()
            self._cond.notify_all()
            return frame

    async def aget(self, wait_s: float | None = None) -> Frame | None:
        """``get`` from a worker thread, so the event loop never blocks."""
        return await asyncio.to_thread(self.get, wait_s)

    def close(self, *, drain: bool = False) -> None:
        """No more frames will come: wake every waiter. With ``drain`` readers still get the
        pending frames (end of a file); otherwise pending frames are zeroed and dropped."""
        with self._cond:
            self._closed = True
            if not drain:
                while self._items:
                    self._items.popleft().wipe()
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """True once ``close`` was called; readers then get the pending frames or None."""
        return self._closed

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
