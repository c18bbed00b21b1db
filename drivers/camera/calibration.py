"""Threshold calibration from labelled pairs: false-accept and false-reject rates per threshold.

Each deployment (camera, lighting, card photo source) sets its own threshold. Collect pairs of
(card photo, camera probe) with a label saying whether they are the same person, then run
``govedge face calibrate PAIRS.csv``. The CSV has a header ``reference,probe,same``; paths are
relative to the CSV's folder; ``same`` is 1/0, true/false, yes/no or same/different.

A pair whose probe has no detectable face gets an infinite distance: it is rejected at every
threshold (it counts as a false reject when the pair is the same person).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivers.camera.errors import CalibrationError, ImageError
from drivers.camera.images import Scratch, read_image
from drivers.camera.verification import FaceVerifier, _Timer

_TRUE = {"1", "true", "yes", "same", "y"}
_FALSE = {"0", "false", "no", "different", "n"}


@dataclass(frozen=True, slots=True)
class Pair:
    """A reference photo and a probe image, and whether they show the same person."""

    reference: Path
    probe: Path
    same: bool


@dataclass(frozen=True, slots=True)
class ScoredPair:
    """A pair and the face distance the verifier found between its images."""

    pair: Pair
    distance: float  # math.inf when no face was found in the probe


@dataclass(frozen=True, slots=True)
class RateRow:
    """False accept and reject rates at one threshold."""

    threshold: float
    false_accept_rate: float
    false_reject_rate: float
    false_accepts: int
    false_rejects: int


def read_pairs(path: Path) -> list[Pair]:
    """Parse the pairs CSV; CalibrationError naming the line for anything malformed."""
    if not path.is_file():
        raise CalibrationError(f"no pairs file at {path}")
    base = path.parent
    pairs: list[Pair] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        need = {"reference", "probe", "same"}
        if reader.fieldnames is None or not need <= {n.strip() for n in reader.fieldnames}:
            raise CalibrationError(f"{path}: header must have columns reference,probe,same")
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            label = row["same"].lower()
            if label not in _TRUE | _FALSE:
                raise CalibrationError(f"{path}:{line}: 'same' must be 1/0 (got {row['same']!r})")
            if not row["reference"] or not row["probe"]:
                raise CalibrationError(f"{path}:{line}: empty image path")
            pairs.append(Pair(base / row["reference"], base / row["probe"], label in _TRUE))
    if not pairs:
        raise CalibrationError(f"{path}: no pairs")
    return pairs


def score_pairs(pairs: Sequence[Pair], verifier: FaceVerifier) -> list[ScoredPair]:
    """Distances of every pair, encoding each image file once (quality is not enforced)."""
    scratch = Scratch()
    refs: dict[Path, np.ndarray] = {}
    probes: dict[Path, np.ndarray | None] = {}
    timer = _Timer()
    try:
        scored = []
        for pair in pairs:
            if pair.reference not in refs:
                refs[pair.reference] = verifier.encode_reference(
                    scratch.track(_read(pair.reference)), scratch, timer
                )[0]
            if pair.probe not in probes:
                image = scratch.track(_read(pair.probe))
                probes[pair.probe] = verifier.probe_face(image, scratch, timer).encoding
            probe = probes[pair.probe]
            dist = (
                math.inf if probe is None else float(np.linalg.norm(refs[pair.reference] - probe))
            )
            scored.append(ScoredPair(pair, dist))
        return scored
    finally:
        scratch.wipe()


def _read(path: Path) -> np.ndarray:
    try:
        return read_image(path)
    except ImageError as exc:
        raise CalibrationError(str(exc)) from None


def rates(scored: Iterable[ScoredPair], thresholds: Sequence[float]) -> list[RateRow]:
    """False-accept rate (different people at or under the threshold) and false-reject rate
    (the same person over it) at each threshold."""
    items = list(scored)
    same = [s.distance for s in items if s.pair.same]
    diff = [s.distance for s in items if not s.pair.same]
    rows = []
    for t in thresholds:
        fa = sum(1 for d in diff if d <= t)
        fr = sum(1 for d in same if d > t)
        rows.append(
            RateRow(
                t,
                fa / len(diff) if diff else 0.0,
                fr / len(same) if same else 0.0,
                fa,
                fr,
            )
        )
    return rows


def threshold_range(start: float, stop: float, step: float) -> list[float]:
    """The thresholds from ``start`` to ``stop`` (inclusive) by ``step``."""
    if step <= 0 or stop < start:
        raise CalibrationError("threshold range needs start <= stop and a positive step")
    count = math.floor((stop - start) / step + 1e-9) + 1
    return [round(start + i * step, 6) for i in range(count)]


def suggest(rows: Sequence[RateRow]) -> RateRow:
    """The threshold with the fewest errors; on ties the lower false-accept rate, then the lower
    threshold (a wrong person let through costs more than a citizen asked to retry)."""
    return min(
        rows,
        key=lambda r: (r.false_accept_rate + r.false_reject_rate, r.false_accept_rate, r.threshold),
    )
