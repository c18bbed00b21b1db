"""Quality checks on the probe face before it is encoded: size, sharpness, brightness, pose.

Sharpness is the variance of the Laplacian on the face crop scaled to 128x128, so it does not
depend on how large the face is in the frame. A face that fails any check is not compared: the
result says why, and the kiosk asks the citizen to step closer, hold still or face the camera.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from drivers.camera.faces import FaceBox
from drivers.camera.geometry import Landmarks, roll_degrees, yaw
from drivers.camera.spec import CameraOptions

CROP = 128


_SPEC = CameraOptions()  # the defaults, declared once in drivers.camera.spec


@dataclass(frozen=True, slots=True)
class QualityLimits:
    """Per-deployment limits; defaults suit a 640x480 kiosk camera at arm's length."""

    min_face_px: int = _SPEC.min_face_px
    min_sharpness: float = _SPEC.min_sharpness
    min_brightness: float = _SPEC.min_brightness
    max_brightness: float = _SPEC.max_brightness
    max_yaw: float = _SPEC.max_yaw
    max_roll_deg: float = _SPEC.max_roll_deg


@dataclass(slots=True)
class QualityReport:
    """The measured values and the reasons for rejection (empty when the face is usable)."""

    face_px: int
    sharpness: float
    brightness: float
    yaw: float
    roll_deg: float
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no reason for rejection was found."""
        return not self.reasons

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready data, measures rounded to three decimals."""
        data = asdict(self)
        for key in ("sharpness", "brightness", "yaw", "roll_deg"):
            data[key] = round(float(data[key]), 3)
        return data


def face_crop_gray(bgr: np.ndarray, box: FaceBox) -> np.ndarray:
    """The face box as a 128x128 gray crop."""
    crop = bgr[box.top : box.bottom, box.left : box.right]
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return cv2.resize(gray, (CROP, CROP), interpolation=cv2.INTER_AREA)


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian: low for blurred (out of focus or moving) faces."""
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def assess(
    bgr: np.ndarray, box: FaceBox, landmarks: Landmarks, limits: QualityLimits
) -> QualityReport:
    """Measure the face in ``box`` and list what is wrong with it."""
    gray = face_crop_gray(bgr, box)
    try:
        report = QualityReport(
            face_px=min(box.width, box.height),
            sharpness=sharpness(gray),
            brightness=float(gray.mean()),
            yaw=yaw(landmarks),
            roll_deg=roll_degrees(landmarks),
        )
    finally:
        gray.fill(0)
    if report.face_px < limits.min_face_px:
        report.reasons.append("face_too_small")
    if report.sharpness < limits.min_sharpness:
        report.reasons.append("blurred")
    if report.brightness < limits.min_brightness:
        report.reasons.append("too_dark")
    elif report.brightness > limits.max_brightness:
        report.reasons.append("too_bright")
    if abs(report.yaw) > limits.max_yaw or abs(report.roll_deg) > limits.max_roll_deg:
        report.reasons.append("not_frontal")
    return report
