"""Face geometry from dlib's 68 landmarks: eye and mouth openness, yaw and roll.

Pure numpy, no detector: the liveness check and the quality check read these numbers.
Yaw here is the nose position between the two jaw edges, -1..1, 0 when frontal; positive
when the nose sits towards the image's right (the person turned to their left on a camera that
is not mirrored).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

Landmarks = Mapping[str, Sequence[tuple[int, int]]]


def _pts(landmarks: Landmarks, name: str) -> np.ndarray:
    return np.asarray(landmarks[name], dtype=np.float64)


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """Soukupová and Čech's EAR: eye height over width; ~0.3 open, under ~0.2 closed."""
    width = float(np.linalg.norm(eye[0] - eye[3]))
    if width <= 0:
        return 0.0
    height = float(np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4]))
    return height / (2.0 * width)


def mean_ear(landmarks: Landmarks) -> float:
    """The eye aspect ratio averaged over both eyes (low when they are closed)."""
    return (
        eye_aspect_ratio(_pts(landmarks, "left_eye"))
        + eye_aspect_ratio(_pts(landmarks, "right_eye"))
    ) / 2.0


def mouth_aspect_ratio(landmarks: Landmarks) -> float:
    """Gap between the inner lips over the mouth width; grows when the mouth opens."""
    top, bottom = _pts(landmarks, "top_lip"), _pts(landmarks, "bottom_lip")
    width = float(np.linalg.norm(top[0] - top[6]))
    if width <= 0:
        return 0.0
    gap = float(np.linalg.norm(top[8:11].mean(axis=0) - bottom[8:11].mean(axis=0)))
    return gap / width


def yaw(landmarks: Landmarks) -> float:
    """Nose tip between the jaw edges (chin points 0 and 16), scaled to -1..1."""
    chin = _pts(landmarks, "chin")
    nose = _pts(landmarks, "nose_bridge")[-1]
    span = chin[16, 0] - chin[0, 0]
    if abs(span) < 1e-6:
        return 0.0
    return float(((nose[0] - chin[0, 0]) / span) * 2.0 - 1.0)


def roll_degrees(landmarks: Landmarks) -> float:
    """Angle of the line between the eye centres, in degrees (0 when level)."""
    left = _pts(landmarks, "left_eye").mean(axis=0)
    right = _pts(landmarks, "right_eye").mean(axis=0)
    dx, dy = right[0] - left[0], right[1] - left[1]
    return math.degrees(math.atan2(dy, dx)) if dx or dy else 0.0
