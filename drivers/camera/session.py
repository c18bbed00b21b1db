"""The kiosk's face session: liveness and 1:1 verification on ONE tracked face in the same frames.

A session streams its steps to the app while it runs:

1. ``look``: the person looks at the camera. The largest face starts a track; its landmark
   measures over the first frames become the person's own baseline, and the face in the last
   baseline frame is encoded and compared with the card photo.
2. ``challenge``: a random action (blink, turn left, turn right) the person must do now.
   Only the tracked face counts: each frame's face must overlap the track's last box, so a
   second face, or a face swapped in, breaks the track and the session fails.
3. ``progress`` (0..1) once the challenge is shown: 0.3 for the baseline taken, then as the
   challenge is done.
4. ``verdict``: the face of the frame that completed the challenge is encoded again and must be
   the same person as the one matched (``continuity_threshold``). ``matched`` is the card-photo
   distance against the threshold; ``live`` is the challenge done by the tracked face;
   ``passed`` needs both.

A printed photo or a still replayed on a screen never blinks or turns: it is tracked, it may
even match, but the challenge times out and the verdict is ``not_live``. Reasons: ``ok``,
``no_face`` (no face to start with), ``not_live`` (a face stayed but did not do the challenge,
or the track broke), ``mismatch`` (live, not the card holder), ``timeout`` (the face left during
the challenge), ``camera_fault`` (no frames).

Nothing of the face leaves: frames are zeroed once measured, encodings and the reference are
zeroed before the verdict; only distances and decisions are logged.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from drivers.camera.errors import CameraEnded, CameraError, NoFramesError
from drivers.camera.faces import FaceBox, FaceEngine, default_engine, distance, largest
from drivers.camera.frames import Frame
from drivers.camera.images import Scratch, to_rgb
from drivers.camera.liveness import (
    Challenge,
    ChallengeResponseLiveness,
    LivenessThresholds,
    Measures,
    Verdict,
)
from drivers.camera.spec import CameraOptions
from drivers.camera.verification import FaceVerifier
from govedge.logs import fields, get_logger

log = get_logger(__name__)

KIOSK_ACTIONS = (Challenge.BLINK, Challenge.TURN_LEFT, Challenge.TURN_RIGHT)
TEXT_KEYS = {
    "look": "face.look",
    Challenge.BLINK: "face.blink",
    Challenge.TURN_LEFT: "face.turn_left",
    Challenge.TURN_RIGHT: "face.turn_right",
    Challenge.MOUTH_OPEN: "face.mouth_open",
}
REASONS = ("ok", "no_face", "not_live", "mismatch", "timeout", "camera_fault")

Event = dict[str, Any]
EventSink = Callable[[Event], None]


class FrameReader(Protocol):
    """Anything with ``read(timeout) -> Frame`` (drivers.camera.capture.Camera)."""

    def read(self, timeout: float = 2.0) -> Frame:
        """The newest frame, waiting at most ``timeout`` seconds."""


_SPEC = CameraOptions()  # the defaults, declared once in drivers.camera.spec


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Kiosk-sized bounds of one session; every one is a camera driver option."""

    challenges: int = _SPEC.session_challenges
    look_timeout_s: float = _SPEC.session_look_timeout_s  # to find a face and take its baseline
    challenge_timeout_s: float = _SPEC.session_challenge_timeout_s  # per challenge
    baseline_frames: int = _SPEC.session_baseline_frames
    upsample: int = _SPEC.session_upsample  # HOG upsampling; 0 finds faces of 80 px+, fast
    continuity_threshold: float = _SPEC.continuity_threshold  # first vs last frame of the track
    min_overlap: float = 0.3  # a frame's face must overlap the track's last box this much
    read_timeout_s: float = 1.0
    actions: tuple[Challenge, ...] = KIOSK_ACTIONS


@dataclass(slots=True)
class _Track:
    box: FaceBox | None = None
    missed: int = 0
    broken: bool = False
    seen: int = 0


@dataclass(slots=True)
class SessionResult:
    """The verdict, as streamed (``step: verdict``) and logged."""

    matched: bool
    live: bool
    reason: str
    distance: float | None = None
    challenges: list[str] = field(default_factory=list)
    frames: int = 0
    elapsed_s: float = 0.0

    @property
    def passed(self) -> bool:
        """The person passes only if the face matched and was live."""
        return self.matched and self.live

    def event(self) -> Event:
        """The verdict as the ``step: verdict`` event the kiosk receives."""
        out: Event = {
            "step": "verdict",
            "matched": self.matched,
            "live": self.live,
            "passed": self.passed,
            "reason": self.reason,
        }
        if self.distance is not None:
            out["distance"] = round(self.distance, 4)
        return out


def overlap(a: FaceBox, b: FaceBox) -> float:
    """Intersection over union of two boxes."""
    top, bottom = max(a.top, b.top), min(a.bottom, b.bottom)
    left, right = max(a.left, b.left), min(a.right, b.right)
    inter = max(0, bottom - top) * max(0, right - left)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


class FaceSession:
    """One person's face session against one card photo. ``run(camera, emit)`` blocks."""

    def __init__(
        self,
        verifier: FaceVerifier,
        settings: SessionSettings | None = None,
        *,
        challenges: Sequence[Challenge] | None = None,
        rng: random.Random | None = None,
        engine: FaceEngine | None = None,
        thresholds: LivenessThresholds | None = None,
    ) -> None:
        self.verifier = verifier
        self.settings = settings or SessionSettings()
        self.engine = engine or default_engine()
        rng = rng or random.SystemRandom()
        s = self.settings
        picked = list(challenges) if challenges else self._pick(rng, s.challenges, s.actions)
        base = thresholds or LivenessThresholds()
        self.liveness = ChallengeResponseLiveness(
            picked,
            timeout_s=s.look_timeout_s + s.challenge_timeout_s * len(picked),
            thresholds=LivenessThresholds(
                baseline_frames=s.baseline_frames,
                blink_ratio=base.blink_ratio,
                blink_max_ear=base.blink_max_ear,
                reopen_ratio=base.reopen_ratio,
                turn_delta=base.turn_delta,
                mouth_delta=base.mouth_delta,
            ),
            engine=self.engine,
        )
        self.track = _Track()
        self.frames = 0

    @staticmethod
    def _pick(rng: random.Random, count: int, actions: Sequence[Challenge]) -> list[Challenge]:
        pool = list(actions)
        picked: list[Challenge] = []
        for _ in range(max(1, count)):
            options = [a for a in pool if a not in picked] or pool
            choice = rng.choice(options)
            picked.append(choice)
            if choice in (Challenge.TURN_LEFT, Challenge.TURN_RIGHT):  # one turn is enough
                pool = [a for a in pool if a not in (Challenge.TURN_LEFT, Challenge.TURN_RIGHT)]
                pool = pool or list(actions)
        return picked

    # -- one frame -----------------------------------------------------------------------------

    def _face(self, rgb: np.ndarray) -> FaceBox | None:
        """The tracked face in this frame (None if absent); marks the track broken if only
        faces elsewhere are seen."""
        boxes = self.engine.detect(rgb, self.settings.upsample)
        last = self.track.box
        if last is None:
            return largest(boxes)
        near = [b for b in boxes if overlap(b, last) >= self.settings.min_overlap]
        if near:
            return max(near, key=lambda b: overlap(b, last))
        if boxes:
            self.track.broken = True
        return None

    # -- the whole session ---------------------------------------------------------------------

    def run(self, camera: FrameReader, reference_image: bytes, emit: EventSink) -> SessionResult:
        """Encode the card photo, read frames from ``camera``, emit the steps; return the
        verdict (also emitted). An undecodable card photo raises ImageError before any step."""
        start = time.monotonic()
        scratch = Scratch()
        try:
            reference, _ = self.verifier.encode_reference(reference_image, scratch)
            result = self._loop(camera, emit, reference, scratch)
        finally:
            scratch.wipe()
        result.challenges = [c.value for c in self.liveness.challenges]
        result.frames = self.frames
        result.elapsed_s = time.monotonic() - start
        emit(result.event())
        log.info(
            "face_session",
            extra=fields(
                matched=result.matched,
                live=result.live,
                reason=result.reason,
                distance=None if result.distance is None else round(result.distance, 4),
                frames=result.frames,
                elapsed_ms=round(result.elapsed_s * 1000.0, 1),
            ),
        )
        return result

    def _loop(
        self, camera: FrameReader, emit: EventSink, reference: np.ndarray, scratch: Scratch
    ) -> SessionResult:
        s = self.settings
        check = self.liveness
        check.begin()
        emit({"step": "look", "text_key": TEXT_KEYS["look"]})
        look_until = time.monotonic() + s.look_timeout_s
        challenge_until = 0.0
        prompted = -1
        progress = 0.0
        matched_distance: float | None = None
        first_encoding: np.ndarray | None = None
        new_completed = 0
        while True:
            now = time.monotonic()
            if not check.has_baseline and now > look_until:
                reason = "no_face" if self.track.seen == 0 else "timeout"
                return SessionResult(False, False, reason, matched_distance)
            if check.has_baseline and now > challenge_until:
                # a face that stayed but never acted is a photo or a still; one that left timed out
                reason = "not_live" if self.track.missed <= 2 else "timeout"
                return SessionResult(
                    self._matched(matched_distance), False, reason, matched_distance
                )
            try:
                frame = camera.read(s.read_timeout_s)
            except (NoFramesError, CameraEnded, CameraError):
                return SessionResult(False, False, "camera_fault", matched_distance)
            self.frames += 1
            pending: tuple[np.ndarray, FaceBox] | None = None
            rgb = to_rgb(frame.image)
            try:
                box = self._face(rgb)
                if self.track.broken:
                    log.info("face_session_track_broken", extra=fields(frames=self.frames))
                    return SessionResult(False, False, "not_live", matched_distance)
                measures: Measures | None = None
                if box is not None:
                    self.track.box, self.track.missed = box, 0
                    self.track.seen += 1
                    measures = Measures.of(self.engine.landmarks(rgb, box))
                else:
                    self.track.missed += 1
                had_baseline = check.has_baseline
                status = check.step(frame.t, measures)
                if box is not None and not had_baseline and check.has_baseline:
                    # the baseline's last frame: its face is matched to the card, once the
                    # challenge is on the screen (the person reads it while we encode)
                    pending = (scratch.track(rgb), box)
                new_completed = len(status.completed)
                if status.verdict is Verdict.PASSED and box is not None:
                    last = scratch.track(self.engine.encode(rgb, box))
                    live = (
                        first_encoding is not None
                        and distance(first_encoding, last) <= s.continuity_threshold
                    )
                    matched = self._matched(matched_distance)
                    reason = "not_live" if not live else "ok" if matched else "mismatch"
                    return SessionResult(matched, live, reason, matched_distance)
                if status.verdict is Verdict.FAILED:
                    return SessionResult(
                        self._matched(matched_distance), False, "timeout", matched_distance
                    )
            finally:
                frame.wipe()
                if pending is None:
                    rgb.fill(0)
            if check.has_baseline and prompted < new_completed:
                prompted = new_completed
                challenge = check.challenges[new_completed]
                emit(
                    {
                        "step": "challenge",
                        "action": challenge.value,
                        "text_key": TEXT_KEYS[challenge],
                    }
                )
                challenge_until = time.monotonic() + s.challenge_timeout_s
            if pending is not None:
                first_encoding = scratch.track(self.engine.encode(*pending))
                matched_distance = distance(reference, first_encoding)
                pending[0].fill(0)
            value = self._progress(check, new_completed)
            if prompted >= 0 and value > progress:  # the contract's order: look, challenge, ...
                progress = value
                emit({"step": "progress", "value": round(value, 2)})

    def _matched(self, d: float | None) -> bool:
        return d is not None and d <= self.verifier.threshold

    def _progress(self, check: ChallengeResponseLiveness, completed: int) -> float:
        """0.3 for the baseline, the rest shared by the challenges (half for closed eyes)."""
        if not check.has_baseline:
            return (
                0.3
                * min(self.track.seen, self.settings.baseline_frames)
                / max(1, self.settings.baseline_frames)
            )
        share = 0.7 / max(1, len(check.challenges))
        partial = 0.5 if check.eyes_closed else 0.0
        return min(1.0, 0.3 + share * (completed + partial))
