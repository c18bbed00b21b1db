"""1:1 verification on real photographs: the astronaut's card photo against probes of the
astronaut (match) and of Grace Hopper (no match), at the default threshold."""

from __future__ import annotations

import io
import json
import logging

import cv2
import numpy as np
import pytest

from drivers.camera.images import Scratch
from drivers.camera.verification import DEFAULT_THRESHOLD, FaceVerifier
from govedge.logs import JsonFormatter
from sim.camera.people import CARD_PHOTO_H, CARD_PHOTO_MAX_BYTES, CARD_PHOTO_W

# the probes built in conftest.py
SAME = ["brighter", "cropped", "darker", "frame", "rotated_-7", "rotated_7", "zoomed_1.3"]
OTHER = ["cropped", "darker", "frame", "rotated_6"]


def test_card_photo_is_the_id_card_format(card_gray: bytes) -> None:
    image = cv2.imdecode(np.frombuffer(card_gray, np.uint8), cv2.IMREAD_UNCHANGED)
    assert len(card_gray) < CARD_PHOTO_MAX_BYTES
    assert image.shape[:2] == (CARD_PHOTO_H, CARD_PHOTO_W)


@pytest.mark.parametrize("name", SAME)
def test_same_person_matches(
    verifier: FaceVerifier, card_gray: bytes, same_probes: dict[str, np.ndarray], name: str
) -> None:
    result = verifier.verify(card_gray, same_probes[name].copy())
    assert result.distance is not None
    assert result.match, result.to_dict()
    assert result.distance <= DEFAULT_THRESHOLD
    assert result.reasons == []


@pytest.mark.parametrize("name", OTHER)
def test_other_person_does_not_match(
    verifier: FaceVerifier, card_gray: bytes, other_probes: dict[str, np.ndarray], name: str
) -> None:
    result = verifier.verify(card_gray, other_probes[name].copy())
    assert result.distance is not None and result.distance > DEFAULT_THRESHOLD
    assert not result.match
    assert "distance_above_threshold" in result.reasons


def test_colour_card_photo_separates_too(
    verifier: FaceVerifier,
    card_colour: bytes,
    same_probes: dict[str, np.ndarray],
    other_probes: dict[str, np.ndarray],
) -> None:
    same = verifier.verify(card_colour, same_probes["frame"].copy())
    other = verifier.verify(card_colour, other_probes["frame"].copy())
    assert same.match and not other.match
    assert same.distance is not None and other.distance is not None
    assert same.distance < other.distance


def test_result_has_distance_decision_reasons_and_timings(
    verifier: FaceVerifier, card_gray: bytes, same_probes: dict[str, np.ndarray]
) -> None:
    data = verifier.verify(card_gray, same_probes["frame"].copy()).to_dict()
    assert set(data) >= {"distance", "match", "reasons", "timings_ms", "threshold", "quality"}
    assert set(data["timings_ms"]) >= {"detect", "quality", "encode", "reference", "compare"}
    assert data["timings_ms"]["total"] >= data["timings_ms"]["detect"]
    assert data["quality"]["face_px"] >= 80
    json.dumps(data)  # plain JSON, nothing binary


def test_whole_image_fallback_for_a_reference_without_detectable_face(
    verifier: FaceVerifier, same_probes: dict[str, np.ndarray]
) -> None:
    # a tight crop of the face alone: too tight for HOG, so the whole image is the face
    from sim.camera.people import person

    tight = cv2.resize(person("astronaut")[70:150, 195:275], (102, 126))
    reference = cv2.imencode(".jpg", tight, [cv2.IMWRITE_JPEG_QUALITY, 60])[1].tobytes()
    result = verifier.verify(reference, same_probes["frame"].copy())
    assert "reference_whole_image" in result.reasons
    assert result.match


def test_no_face_in_the_probe(verifier: FaceVerifier, card_gray: bytes) -> None:
    wall = np.full((480, 640, 3), 120, np.uint8)
    result = verifier.verify(card_gray, wall)
    assert not result.match and result.distance is None
    assert result.reasons == ["no_face"]


def test_a_higher_threshold_is_a_deployment_choice(
    card_gray: bytes, other_probes: dict[str, np.ndarray], verifier: FaceVerifier
) -> None:
    lax = FaceVerifier(0.9, engine=verifier.engine)
    assert lax.verify(card_gray, other_probes["frame"].copy()).match
    with pytest.raises(ValueError):
        FaceVerifier(0.0)


def test_every_array_is_zeroed_after_verification(
    verifier: FaceVerifier, card_gray: bytes, same_probes: dict[str, np.ndarray]
) -> None:
    probe = same_probes["frame"].copy()
    scratch = Scratch()
    result = verifier.verify(card_gray, probe, scratch=scratch)
    assert result.match
    shapes = {a.shape for a in scratch.arrays}
    assert (128,) in shapes  # both encodings were tracked ...
    assert (480, 640, 3) in shapes  # ... and the probe and its RGB copy
    assert len(scratch.arrays) >= 6
    assert scratch.all_zero()
    assert not probe.any()


def test_caller_may_keep_its_frame(
    verifier: FaceVerifier, card_gray: bytes, same_probes: dict[str, np.ndarray]
) -> None:
    probe = same_probes["frame"].copy()
    verifier.verify(card_gray, probe, wipe_probe=False)
    assert np.array_equal(probe, same_probes["frame"])


def test_logs_carry_the_decision_but_no_face_data(
    verifier: FaceVerifier, card_gray: bytes, same_probes: dict[str, np.ndarray]
) -> None:
    # capture the encoding the verifier computes, to look for it in the log afterwards
    captured: list[np.ndarray] = []
    engine = verifier.engine
    original = engine.encode

    def spy(rgb: np.ndarray, box: object, jitters: int = 1) -> np.ndarray:
        enc = original(rgb, box, jitters)  # type: ignore[arg-type]
        captured.append(enc.copy())
        return enc

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    engine.encode = spy  # type: ignore[method-assign]
    try:
        verifier.verify(card_gray, same_probes["frame"].copy())
    finally:
        engine.encode = original  # type: ignore[method-assign]
        root.removeHandler(handler)
        root.setLevel(old_level)
    text = stream.getvalue()
    assert '"event": "face_verified"' in text and '"distance"' in text
    assert len(captured) == 2
    for enc in captured:
        for value in enc[:16]:
            assert f"{value:.6f}"[:8] not in text
            assert repr(float(value)) not in text
    assert "[" not in text.split('"face_verified"', 1)[1]  # no array of any kind


def test_the_id_card_simulators_photo(
    verifier: FaceVerifier,
    same_probes: dict[str, np.ndarray],
    other_probes: dict[str, np.ndarray],
) -> None:
    """The photo the ID-card simulator puts on its cards (986-byte colour JPEG)."""
    from sim.idcard.photo_data import ASTRONAUT_JPEG

    for name in ("frame", "cropped", "rotated_7"):
        assert verifier.verify(ASTRONAUT_JPEG, same_probes[name].copy()).match, name
    for name in ("frame", "cropped"):
        result = verifier.verify(ASTRONAUT_JPEG, other_probes[name].copy())
        assert not result.match and "distance_above_threshold" in result.reasons, name
