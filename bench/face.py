"""Face verification speed at 640x480: time per step and per verification, pinned to one core.

Steps: detect (HOG, one upsample), quality (landmarks, blur, brightness, pose), encode (128-d),
reference (decode, upsample and encode the 102x126 card photo), compare, one liveness frame
(detect without upsample + landmarks), and the whole verification. The baseline, measured in the
same run, is the raw OpenCV work every frame costs anyway: decode the same 640x480 JPEG and
resize it. The goal is a whole verification in at most 1 s on one core.

Run: ``python -m bench.face``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import cv2

from bench.common import BenchResult
from drivers.camera.faces import default_engine, distance, largest
from drivers.camera.images import Scratch, decode_image, encode_jpeg, to_rgb
from drivers.camera.liveness import ChallengeResponseLiveness
from drivers.camera.quality import QualityLimits, assess
from drivers.camera.verification import FaceVerifier
from sim.camera.people import card_photo, frame_of

REPEAT = 7


_MIN: dict[int, float] = {}


def _median_ms(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    """Median of ``repeat`` runs after a warm-up; the minimum is kept in _MIN (on a shared
    machine the minimum is the cost without interference)."""
    fn()  # warm-up (model loading, caches)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    median = statistics.median(times)
    _MIN[id(fn)] = min(times)
    return median


def _timed(fn: Callable[[], object], repeat: int = REPEAT) -> tuple[float, float]:
    median = _median_ms(fn, repeat)
    return median, _MIN.pop(id(fn))


def run() -> list[BenchResult]:
    """Measure each step on one core (affinity and OpenCV threads restored afterwards)."""
    old_affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    old_threads = cv2.getNumThreads()
    if old_affinity:
        os.sched_setaffinity(0, {min(old_affinity)})
    cv2.setNumThreads(1)
    try:
        return _measure()
    finally:
        cv2.setNumThreads(old_threads)
        if old_affinity:
            os.sched_setaffinity(0, old_affinity)


def _measure() -> list[BenchResult]:
    engine = default_engine()
    verifier = FaceVerifier(engine=engine)
    frame = frame_of("astronaut")
    jpeg = encode_jpeg(frame, 90)
    reference = card_photo("astronaut")
    rgb = to_rgb(frame)
    box = largest(engine.detect(rgb, 1))
    assert box is not None
    enc = engine.encode(rgb, box)
    ref_enc, _ = verifier.encode_reference(reference, Scratch())
    liveness = ChallengeResponseLiveness(engine=engine)

    baseline = _median_ms(lambda: cv2.resize(decode_image(jpeg), (320, 240)))
    steps = {
        "detect": _timed(lambda: engine.detect(to_rgb(frame), 1)),
        "quality": _timed(lambda: assess(frame, box, engine.landmarks(rgb, box), QualityLimits())),
        "encode": _timed(lambda: engine.encode(rgb, box)),
        "reference": _timed(lambda: verifier.encode_reference(reference, Scratch())),
        "compare": _timed(lambda: distance(enc, ref_enc)),
        "liveness_frame": _timed(lambda: liveness.measure(frame.copy())),
    }
    total, total_min = _timed(lambda: verifier.verify(reference, decode_image(jpeg)), repeat=5)
    label = "cv2 decode+resize of the same 640x480 JPEG"
    results = [
        BenchResult(
            f"face.{name}_ms",
            ms,
            "ms",
            baseline,
            label,
            higher_is_better=False,
            notes=f"640x480, one core, median of {REPEAT}; min {fastest:.3g} ms",
        )
        for name, (ms, fastest) in steps.items()
    ]
    results.append(
        BenchResult(
            "face.verification_total_ms",
            total,
            "ms",
            baseline,
            label,
            higher_is_better=False,
            goal="<= 1000 ms on one core",
            notes="decode+detect+quality+encode+reference+compare, median of 5; "
            f"min {total_min:.0f} ms",
        )
    )
    return results


if __name__ == "__main__":
    for result in run():
        print(result.line())
