"""The face engine: dlib's HOG detector, 68-point landmarks and 128-d encodings, through
face_recognition. Every input is an RGB array made with cv2.cvtColor (see images.to_rgb).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from drivers.camera.geometry import Landmarks


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A detected face: pixel box (top, right, bottom, left) and the detector's score."""

    top: int
    right: int
    bottom: int
    left: int
    score: float = 0.0

    @property
    def width(self) -> int:
        """Box width in pixels (negative for a degenerate box; see ``area``)."""
        return self.right - self.left

    @property
    def height(self) -> int:
        """Box height in pixels (negative for a degenerate box; see ``area``)."""
        return self.bottom - self.top

    @property
    def area(self) -> int:
        """Box area in square pixels, 0 for a degenerate box."""
        return max(0, self.width) * max(0, self.height)

    def css(self) -> tuple[int, int, int, int]:
        """The box in face_recognition's (top, right, bottom, left) "css" order."""
        return (self.top, self.right, self.bottom, self.left)

    def scaled(self, factor: float) -> FaceBox:
        """The box in an image resized by ``factor`` (coordinates rounded; the score is kept)."""
        return FaceBox(
            round(self.top * factor),
            round(self.right * factor),
            round(self.bottom * factor),
            round(self.left * factor),
            self.score,
        )


def largest(boxes: list[FaceBox]) -> FaceBox | None:
    """The largest face; among faces within 10% of the largest area, the highest score."""
    if not boxes:
        return None
    top_area = max(b.area for b in boxes)
    close = [b for b in boxes if b.area >= 0.9 * top_area]
    return max(close, key=lambda b: (b.score, b.area))


class FaceEngine:
    """Thin typed wrapper over face_recognition's dlib models (loaded on first use)."""

    def __init__(self) -> None:
        import face_recognition.api as api  # heavy: loads the dlib models

        self._api: Any = api

    def detect(self, rgb: np.ndarray, upsample: int = 1) -> list[FaceBox]:
        """HOG face boxes, clipped to the image."""
        rects, scores, _ = self._api.face_detector.run(rgb, upsample, 0.0)
        h, w = rgb.shape[:2]
        boxes = []
        for rect, score in zip(rects, scores, strict=True):
            top, right = max(rect.top(), 0), min(rect.right(), w)
            bottom, left = min(rect.bottom(), h), max(rect.left(), 0)
            if right > left and bottom > top:
                boxes.append(FaceBox(top, right, bottom, left, float(score)))
        return boxes

    def landmarks(self, rgb: np.ndarray, box: FaceBox) -> Landmarks:
        """The 68 landmarks grouped by feature (chin, left_eye, top_lip, ...)."""
        found: list[Landmarks] = self._api.face_landmarks(rgb, [box.css()], model="large")
        return found[0]

    def encode(self, rgb: np.ndarray, box: FaceBox, jitters: int = 1) -> np.ndarray:
        """The 128-d encoding of the face in ``box``."""
        found = self._api.face_encodings(rgb, [box.css()], num_jitters=jitters, model="small")
        return np.asarray(found[0], dtype=np.float64)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two encodings (face_recognition's face_distance)."""
    return float(np.linalg.norm(a - b))


_ENGINE: FaceEngine | None = None


def default_engine() -> FaceEngine:
    """One shared engine per process (the models take ~100 MB and a second to load)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = FaceEngine()
    return _ENGINE
