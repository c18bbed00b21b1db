"""Landmark geometry on hand-written coordinates (values worked out by hand)."""

from __future__ import annotations

import math

import numpy as np

from drivers.camera.geometry import (
    eye_aspect_ratio,
    mean_ear,
    mouth_aspect_ratio,
    roll_degrees,
    yaw,
)

# An eye 30 px wide with its lids 9 and 9 px apart: EAR = (9 + 9) / (2 * 30) = 0.3.
OPEN_EYE = [(0, 0), (10, -4), (20, -4), (30, 0), (20, 5), (10, 5)]
# The same eye with the lids 2 px apart: EAR = (2 + 2) / 60 = 0.0667.
CLOSED_EYE = [(0, 0), (10, -1), (20, -1), (30, 0), (20, 1), (10, 1)]


def face(
    eye: list[tuple[int, int]], nose_x: int = 50, gap: int = 0, right_dy: int = 0
) -> dict[str, list[tuple[int, int]]]:
    chin = [(i * 100 // 16, 80) for i in range(17)]  # jaw from x=0 to x=100
    # face_recognition's lips: top = points 48..54, 64, 63, 62, 61, 60;
    # bottom = points 54..59, 48, 60, 67, 66, 65, 64 (dlib's 68-point numbering).
    top = [(30, 70), (35, 67), (40, 66), (50, 67), (60, 66), (65, 67), (70, 70),
           (66, 70), (60, 70), (50, 70), (40, 70), (34, 70)]  # fmt: skip
    bottom = [(70, 70), (65, 75), (60, 76), (50, 77), (40, 76), (35, 75), (30, 70),
              (34, 70), (40, 70 + gap), (50, 70 + gap), (60, 70 + gap), (66, 70)]  # fmt: skip
    return {
        "chin": chin,
        "left_eye": [(x + 10, y + 30) for x, y in eye],
        "right_eye": [(x + 60, y + 30 + right_dy) for x, y in eye],
        "nose_bridge": [(50, 30), (50, 35), (50, 40), (nose_x, 45)],
        "top_lip": top,
        "bottom_lip": bottom,
    }


def test_eye_aspect_ratio_open_and_closed() -> None:
    assert math.isclose(eye_aspect_ratio(np.array(OPEN_EYE, float)), 0.3)
    assert math.isclose(eye_aspect_ratio(np.array(CLOSED_EYE, float)), 4 / 60)
    assert math.isclose(mean_ear(face(OPEN_EYE)), 0.3)
    assert eye_aspect_ratio(np.zeros((6, 2))) == 0.0


def test_yaw_is_the_nose_between_the_jaw_edges() -> None:
    assert yaw(face(OPEN_EYE, nose_x=50)) == 0.0
    assert math.isclose(yaw(face(OPEN_EYE, nose_x=75)), 0.5)  # towards the image's right
    assert math.isclose(yaw(face(OPEN_EYE, nose_x=25)), -0.5)


def test_mouth_aspect_ratio_grows_with_the_gap() -> None:
    # mouth 40 px wide (top_lip[0] to top_lip[6]); inner gap 0 then 20 px: 0 and 0.5
    assert mouth_aspect_ratio(face(OPEN_EYE, gap=0)) == 0.0
    assert math.isclose(mouth_aspect_ratio(face(OPEN_EYE, gap=20)), 0.5)


def test_roll_is_the_angle_of_the_eye_line() -> None:
    assert roll_degrees(face(OPEN_EYE)) == 0.0
    # right eye 50 px further right and 50 px lower: 45 degrees
    assert math.isclose(roll_degrees(face(OPEN_EYE, right_dy=50)), 45.0)
