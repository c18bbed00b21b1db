"""1:1 verification: is the person in the probe frame the person on the ID-card photo?

Pipeline, each step timed: detect (HOG, largest face) -> landmarks and quality -> encode ->
reference (decode the card photo, upsample it, detect or use the whole image) -> compare
(Euclidean distance of the 128-d encodings against the deployment's threshold).

Every array made on the way (decoded reference, RGB copies, encodings) is tracked in a
Scratch and zeroed before ``verify`` returns; so is the probe frame unless the caller keeps it.
Nothing of the face reaches a log: only the distance, the decision, the reasons and timings.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from drivers.camera.faces import FaceBox, FaceEngine, default_engine, distance, largest
from drivers.camera.images import Scratch, decode_image, to_rgb
from drivers.camera.quality import QualityLimits, QualityReport, assess
from drivers.camera.spec import DEFAULT_THRESHOLD as DEFAULT_THRESHOLD
from govedge.logs import fields, get_logger

log = get_logger(__name__)


#: Card photos are tiny; they are upsampled to this height before detection and encoding.
REFERENCE_HEIGHT = 378


@dataclass(slots=True)
class VerificationResult:
    """The decision and everything needed to explain it (no image, no encoding)."""

    match: bool
    distance: float | None
    threshold: float
    reasons: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    quality: dict[str, Any] | None = None
    face_box: tuple[int, int, int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (distance to four decimals, timings to two)."""
        return {
            "match": self.match,
            "distance": None if self.distance is None else round(self.distance, 4),
            "threshold": self.threshold,
            "reasons": list(self.reasons),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "quality": self.quality,
            "face_box": list(self.face_box) if self.face_box else None,
        }


class _Timer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = self.ms.get(name, 0.0) + (time.perf_counter() - start) * 1000.0


@dataclass(slots=True)
class ProbeFace:
    """The probe's face: box, quality, and encoding (None when quality failed)."""

    box: FaceBox | None
    quality: QualityReport | None
    encoding: np.ndarray | None


class FaceVerifier:
    """Verifies probe frames against reference photos with one deployment's settings."""

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        limits: QualityLimits | None = None,
        *,
        upsample: int = 1,
        enforce_quality: bool = True,
        engine: FaceEngine | None = None,
    ) -> None:
        if not 0.0 < threshold < 2.0:
            raise ValueError("threshold must be between 0 and 2")
        self.threshold = threshold
        self.limits = limits or QualityLimits()
        self.upsample = upsample
        self.enforce_quality = enforce_quality
        self.engine = engine or default_engine()

    # -- steps --------------------------------------------------------------------------------
    def encode_reference(
        self, reference: bytes | np.ndarray, scratch: Scratch, timer: _Timer | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """Encoding of the card photo, and notes (``reference_whole_image`` if no face found)."""
        timer = timer or _Timer()
        notes: list[str] = []
        with timer.step("reference"):
            bgr = (
                scratch.track(decode_image(reference))
                if isinstance(reference, bytes)
                else reference
            )
            h, w = bgr.shape[:2]
            if h < REFERENCE_HEIGHT:
                factor = REFERENCE_HEIGHT / h
                bgr = scratch.track(
                    cv2.resize(
                        bgr, (round(w * factor), REFERENCE_HEIGHT), interpolation=cv2.INTER_CUBIC
                    )
                )
            rgb = scratch.track(to_rgb(bgr))
            # upsampled to 378 px high, the face is ~150 px: no detector upsampling needed
            box = largest(self.engine.detect(rgb, 0))
            if box is None:  # the card photo is the face: use the whole image
                box = FaceBox(0, rgb.shape[1], rgb.shape[0], 0)
                notes.append("reference_whole_image")
            encoding = scratch.track(self.engine.encode(rgb, box))
        return encoding, notes

    def probe_face(self, bgr: np.ndarray, scratch: Scratch, timer: _Timer) -> ProbeFace:
        """Detect the largest face, check its quality, encode it if usable."""
        with timer.step("convert"):
            rgb = scratch.track(to_rgb(bgr))
        with timer.step("detect"):
            box = largest(self.engine.detect(rgb, self.upsample))
        if box is None:
            return ProbeFace(None, None, None)
        with timer.step("quality"):
            landmarks = self.engine.landmarks(rgb, box)
            report = assess(bgr, box, landmarks, self.limits)
        if self.enforce_quality and not report.ok:
            return ProbeFace(box, report, None)
        with timer.step("encode"):
            encoding = scratch.track(self.engine.encode(rgb, box))
        return ProbeFace(box, report, encoding)

    # -- whole verification -------------------------------------------------------------------
    def verify(
        self,
        reference: bytes | np.ndarray,
        probe: np.ndarray,
        *,
        scratch: Scratch | None = None,
        wipe_probe: bool = True,
    ) -> VerificationResult:
        """Compare the probe frame (BGR) with the reference photo (bytes or BGR array)."""
        return self.verify_frames(reference, [probe], scratch=scratch, wipe_probe=wipe_probe)

    def verify_frames(
        self,
        reference: bytes | np.ndarray,
        probes: Iterable[np.ndarray],
        *,
        max_frames: int = 5,
        scratch: Scratch | None = None,
        wipe_probe: bool = True,
    ) -> VerificationResult:
        """Try up to ``max_frames`` probe frames; the first usable face decides.

        Every frame tried is zeroed afterwards unless ``wipe_probe`` is False.
        """
        scratch = scratch if scratch is not None else Scratch()
        timer = _Timer()
        total = time.perf_counter()
        try:
            face: ProbeFace | None = None
            for tried, frame in enumerate(probes, start=1):
                if wipe_probe:
                    scratch.track(frame)
                face = self.probe_face(frame, scratch, timer)
                if face.encoding is not None or tried >= max_frames:
                    break
            result = self._decide(reference, face, scratch, timer)
        finally:
            scratch.wipe()
        result.timings_ms = dict(timer.ms)
        result.timings_ms["total"] = (time.perf_counter() - total) * 1000.0
        log.info(
            "face_verified",
            extra=fields(
                match=result.match,
                distance=None if result.distance is None else round(result.distance, 4),
                threshold=self.threshold,
                reasons=",".join(result.reasons),
                total_ms=round(result.timings_ms["total"], 1),
            ),
        )
        return result

    def _decide(
        self,
        reference: bytes | np.ndarray,
        face: ProbeFace | None,
        scratch: Scratch,
        timer: _Timer,
    ) -> VerificationResult:
        result = VerificationResult(match=False, distance=None, threshold=self.threshold)
        if face is None:
            result.reasons.append("no_frame")
            return result
        if face.box is None:
            result.reasons.append("no_face")
            return result
        result.face_box = face.box.css()
        if face.quality is not None:
            result.quality = face.quality.to_dict()
            result.reasons.extend(face.quality.reasons)
        if face.encoding is None:
            return result
        ref_encoding, notes = self.encode_reference(reference, scratch, timer)
        result.reasons.extend(notes)
        with timer.step("compare"):
            result.distance = distance(ref_encoding, face.encoding)
        qualified = face.quality is None or face.quality.ok or not self.enforce_quality
        result.match = qualified and result.distance <= self.threshold
        if result.distance > self.threshold:
            result.reasons.append("distance_above_threshold")
        return result
