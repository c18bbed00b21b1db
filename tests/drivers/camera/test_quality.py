"""Quality rejections: the face is not compared, and the result says why."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.camera.images import fit
from drivers.camera.quality import QualityLimits
from drivers.camera.verification import FaceVerifier
from sim.camera import effects
from sim.camera.people import frame_of, person


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return frame_of("astronaut")


def small_face() -> np.ndarray:
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[120:360, 160:480] = fit(person("astronaut"), 320, 240)
    return frame


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda f: effects.blur(f, 1.2), "blurred"),
        (lambda f: effects.lighting(f, 0.28), "too_dark"),
        (lambda f: effects.lighting(f, 1.0, 75), "too_bright"),
        (lambda f: small_face(), "face_too_small"),
    ],
    ids=["blurred", "dark", "bright", "small"],
)
def test_poor_probe_is_rejected_with_a_reason(
    verifier: FaceVerifier, card_gray: bytes, astronaut: np.ndarray, make: object, reason: str
) -> None:
    probe = make(astronaut.copy())  # type: ignore[operator]
    result = verifier.verify(card_gray, probe)
    assert not result.match
    assert reason in result.reasons, result.to_dict()
    assert result.distance is None  # not compared
    assert "encode" not in result.timings_ms


def test_turned_face_is_not_frontal_under_strict_limits(
    verifier: FaceVerifier, card_gray: bytes, scene: object
) -> None:
    strict = FaceVerifier(limits=QualityLimits(max_yaw=0.1), engine=verifier.engine)
    turned = scene.poses["turn_left"].copy()  # type: ignore[attr-defined]
    result = strict.verify(card_gray, turned)
    assert "not_frontal" in result.reasons and not result.match
    assert result.quality is not None and result.quality["yaw"] > 0.1


def test_quality_not_enforced_still_reports_it(
    verifier: FaceVerifier, card_gray: bytes, astronaut: np.ndarray
) -> None:
    lenient = FaceVerifier(enforce_quality=False, engine=verifier.engine)
    result = lenient.verify(card_gray, effects.blur(astronaut, 1.2))
    assert "blurred" in result.reasons
    assert result.distance is not None


def test_first_usable_frame_decides(
    verifier: FaceVerifier, card_gray: bytes, astronaut: np.ndarray
) -> None:
    frames = [effects.blur(astronaut, 1.5), np.zeros_like(astronaut), astronaut.copy()]
    result = verifier.verify_frames(card_gray, iter(frames), max_frames=5)
    assert result.match
    assert all(not f.any() for f in frames)  # every frame tried is zeroed
