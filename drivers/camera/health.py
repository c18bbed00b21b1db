"""Camera health from the frames themselves: no frames, and a frozen image.

A real sensor always has some noise, so consecutive frames that are identical for seconds mean
a stuck sensor or a dead pipeline, not a still scene. The detector is sans-I/O: feed it
frames with their times and ask.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Mean absolute difference (0..255) under which two samples count as the same image.
FROZEN_DIFF = 0.25


@dataclass(slots=True)
class FrozenDetector:
    """Frozen when thumbnails stayed identical for ``after_s`` seconds of frame time."""

    after_s: float = 3.0
    min_frames: int = 5
    _last: np.ndarray | None = None
    _still_since: float | None = None
    _still_frames: int = 0
    frozen: bool = False
    events: int = 0

    def feed(self, image: np.ndarray, t: float) -> bool:
        """Add one BGR frame taken at ``t`` seconds; return whether the image is frozen."""
        # a strided sample of raw pixels: averaging (a thumbnail) would smooth the sensor noise
        # that tells a live still scene from a stuck image
        sample = image[:: max(1, image.shape[0] // 48), :: max(1, image.shape[1] // 64)]
        thumb = (
            cv2.cvtColor(np.ascontiguousarray(sample), cv2.COLOR_BGR2GRAY)
            if sample.ndim == 3
            else sample
        ).astype(np.float32)
        same = (
            self._last is not None
            and self._last.shape == thumb.shape
            and float(np.mean(np.abs(thumb - self._last))) < FROZEN_DIFF
        )
        self._last = thumb
        if not same:
            self._still_since, self._still_frames = t, 1
            self.frozen = False
            return False
        self._still_frames += 1
        since = t if self._still_since is None else self._still_since
        frozen = self._still_frames >= self.min_frames and t - since >= self.after_s
        if frozen and not self.frozen:
            self.events += 1
        self.frozen = frozen
        return frozen
