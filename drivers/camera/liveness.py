"""Liveness: is a live person in front of the camera, not a printed photo or a still screen?

``LivenessCheck`` is the pluggable interface (a model-based presentation-attack detector can be
added beside the challenge-response one). ``ChallengeResponseLiveness`` asks for a random
sequence of actions (blink, turn left, turn right, open the mouth), reads them from the 68
landmarks of each frame relative to a baseline taken from the first frames, and fails when
the time runs out. A still photo never blinks, turns or opens its mouth, so it times out.

Times are frame times (``Frame.t``): wall-clock seconds for live cameras, media time for files.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np

from drivers.camera.errors import CameraEnded, LivenessError, NoFramesError
from drivers.camera.faces import FaceEngine, default_engine, largest
from drivers.camera.frames import Frame
from drivers.camera.geometry import Landmarks, mean_ear, mouth_aspect_ratio, yaw
from drivers.camera.images import to_rgb
from govedge.logs import fields, get_logger

log = get_logger(__name__)


class Challenge(StrEnum):
    """What a person is asked to do in front of the camera."""

    BLINK = "blink"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    MOUTH_OPEN = "mouth_open"


PROMPTS: dict[Challenge, str] = {
    Challenge.BLINK: "please blink",
    Challenge.TURN_LEFT: "please turn your head to your left",
    Challenge.TURN_RIGHT: "please turn your head to your right",
    Challenge.MOUTH_OPEN: "please open your mouth",
}


class Verdict(StrEnum):
    """Where a liveness check stands."""

    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(slots=True)
class LivenessStatus:
    """After one frame: the verdict, the current prompt and how far the person got."""

    verdict: Verdict
    prompt: str = ""
    completed: list[str] = field(default_factory=list)
    reason: str = ""


@runtime_checkable
class LivenessCheck(Protocol):
    """A liveness check fed frame by frame. ``begin`` resets it and returns the first prompt."""

    name: str
    challenges: list[Challenge]
    frames: int
    faces: int

    def begin(self) -> str:
        """Reset the check, draw its challenges and return the prompt for the first one."""

    def feed(self, frame: Frame) -> LivenessStatus:
        """Advance on one frame; the status says whether the check is pending, passed or failed."""


@dataclass(frozen=True, slots=True)
class LivenessThresholds:
    """How much a landmark measure must move from the person's own baseline."""

    baseline_frames: int = 3
    blink_ratio: float = 0.65  # EAR under this fraction of the baseline = eyes closed
    blink_max_ear: float = 0.22  # ... and under this absolute EAR
    reopen_ratio: float = 0.85  # EAR back over this fraction = eyes open again
    turn_delta: float = 0.15  # yaw change from the baseline
    mouth_delta: float = 0.15  # mouth aspect ratio change from the baseline


@dataclass(slots=True)
class Measures:
    """The landmark measures of one face in one frame: eye, yaw and mouth ratios."""

    ear: float
    yaw: float
    mar: float

    @classmethod
    def of(cls, marks: Landmarks) -> Measures:
        """The measures from one face's 68 landmarks."""
        return cls(mean_ear(marks), yaw(marks), mouth_aspect_ratio(marks))


class ChallengeResponseLiveness:
    """Randomised challenge-response from landmarks, with an overall timeout."""

    name = "challenge_response"

    def __init__(
        self,
        challenges: Sequence[Challenge] | None = None,
        *,
        count: int = 2,
        timeout_s: float = 8.0,
        rng: random.Random | None = None,
        thresholds: LivenessThresholds | None = None,
        engine: FaceEngine | None = None,
        upsample: int = 0,
    ) -> None:
        self._fixed = list(challenges) if challenges else None
        self._count = count
        self._rng = rng or random.SystemRandom()
        self.timeout_s = timeout_s
        self.th = thresholds or LivenessThresholds()
        self.engine = engine or default_engine()
        self.upsample = upsample
        self.challenges: list[Challenge] = []
        self.timings_ms: dict[str, float] = {}
        self._reset()

    def _reset(self) -> None:
        self._start: float | None = None
        self._step = 0
        self._samples: list[Measures] = []
        self._base: Measures | None = None
        self._closed = False
        self._done: list[str] = []
        self.frames = 0
        self.faces = 0

    def pick(self) -> list[Challenge]:
        """A random sequence of ``count`` different challenges (the fixed ones if given)."""
        if self._fixed:
            return list(self._fixed)
        pool = list(Challenge)
        picked = self._rng.sample(pool, k=min(self._count, len(pool)))
        if {Challenge.TURN_LEFT, Challenge.TURN_RIGHT} <= set(picked):
            # keep at most one turn: replace the second by a non-turn challenge
            rest = [c for c in pool if c not in picked]
            picked[-1] = self._rng.choice(rest) if rest else picked[-1]
        return picked

    def begin(self) -> str:
        """Reset the counters, draw the challenges and return the prompt for the first one."""
        self._reset()
        self.challenges = self.pick()
        return PROMPTS[self.challenges[0]]

    @property
    def prompt(self) -> str:
        """The prompt of the challenge in progress; empty once all are done."""
        if self._step < len(self.challenges):
            return PROMPTS[self.challenges[self._step]]
        return ""

    def measure(self, image: np.ndarray) -> Measures | None:
        """Landmark measures of the largest face, or None if there is no face."""
        start = time.perf_counter()
        rgb = to_rgb(image)
        try:
            box = largest(self.engine.detect(rgb, self.upsample))
            if box is None:
                return None
            return Measures.of(self.engine.landmarks(rgb, box))
        finally:
            rgb.fill(0)
            self.timings_ms["last_frame"] = (time.perf_counter() - start) * 1000.0

    @property
    def has_baseline(self) -> bool:
        """Whether the person's own baseline (the first frames with a face) is taken."""
        return self._base is not None

    @property
    def eyes_closed(self) -> bool:
        """A blink is half done: the eyes were seen closed."""
        return self._closed

    def feed(self, frame: Frame) -> LivenessStatus:
        """Measure the face in ``frame`` and advance; starts the check on the first call.

        Fails with ``timeout`` once ``timeout_s`` has passed since the first frame fed.
        """
        if not self.challenges:
            self.begin()
        if self._start is None:
            self._start = frame.t
        if self._step >= len(self.challenges) or frame.t - self._start > self.timeout_s:
            return self.step(frame.t, None)
        return self.step(frame.t, self.measure(frame.image))

    def step(self, t: float, m: Measures | None) -> LivenessStatus:
        """Advance on one frame taken at ``t`` whose face measured ``m`` (None: no face).

        For callers that find and track the face themselves (drivers.camera.session)."""
        if not self.challenges:
            self.begin()
        if self._start is None:
            self._start = t
        self.frames += 1
        if self._step >= len(self.challenges):
            return LivenessStatus(Verdict.PASSED, "", list(self._done))
        if t - self._start > self.timeout_s:
            return self._fail("timeout")
        if m is None:
            return LivenessStatus(Verdict.PENDING, self.prompt, list(self._done))
        self.faces += 1
        if self._base is None:
            self._samples.append(m)
            if len(self._samples) >= self.th.baseline_frames:
                self._base = Measures(
                    statistics.median(s.ear for s in self._samples),
                    statistics.median(s.yaw for s in self._samples),
                    statistics.median(s.mar for s in self._samples),
                )
            return LivenessStatus(Verdict.PENDING, self.prompt, list(self._done))
        if self._satisfied(self.challenges[self._step], m, self._base):
            self._done.append(self.challenges[self._step].value)
            self._step += 1
            self._closed = False
            if self._step >= len(self.challenges):
                return LivenessStatus(Verdict.PASSED, "", list(self._done))
        return LivenessStatus(Verdict.PENDING, self.prompt, list(self._done))

    def _satisfied(self, challenge: Challenge, m: Measures, base: Measures) -> bool:
        th = self.th
        if challenge is Challenge.BLINK:
            closed = m.ear < min(th.blink_max_ear, base.ear * th.blink_ratio)
            if closed:
                self._closed = True
                return False
            return self._closed and m.ear >= base.ear * th.reopen_ratio
        if challenge is Challenge.TURN_LEFT:
            return m.yaw - base.yaw >= th.turn_delta
        if challenge is Challenge.TURN_RIGHT:
            return base.yaw - m.yaw >= th.turn_delta
        return m.mar - base.mar >= th.mouth_delta

    def _fail(self, reason: str) -> LivenessStatus:
        return LivenessStatus(Verdict.FAILED, self.prompt, list(self._done), reason)


@dataclass(slots=True)
class LivenessResult:
    """The outcome of a liveness check, with what was asked and what was done."""

    passed: bool
    reason: str
    challenges: list[str]
    completed: list[str]
    frames: int
    faces: int
    elapsed_s: float

    def to_dict(self) -> dict[str, object]:
        """The result as JSON-ready data (elapsed time rounded to milliseconds)."""
        return {
            "passed": self.passed,
            "reason": self.reason,
            "challenges": self.challenges,
            "completed": self.completed,
            "frames": self.frames,
            "faces": self.faces,
            "elapsed_s": round(self.elapsed_s, 3),
        }


class FrameReader(Protocol):
    """Anything that gives camera frames."""

    def read(self, timeout: float = 2.0) -> Frame:
        """The newest frame, waiting at most ``timeout`` seconds."""


def run_liveness(
    camera: FrameReader,
    check: LivenessCheck,
    *,
    on_prompt: Callable[[str], None] | None = None,
    read_timeout_s: float = 2.0,
) -> LivenessResult:
    """Feed camera frames to the check until it passes, fails, or the camera stops.

    Each frame is zeroed once measured. A finite source that ends before a verdict fails.
    """
    prompt = check.begin()
    if on_prompt:
        on_prompt(prompt)
    first: float | None = None
    last_t = 0.0
    status = LivenessStatus(Verdict.PENDING, prompt)
    reason = ""
    while status.verdict is Verdict.PENDING:
        try:
            frame = camera.read(read_timeout_s)
        except CameraEnded:
            reason = "camera_ended"
            break
        except NoFramesError:
            if check.frames == 0:
                raise LivenessError("no frames from the camera") from None
            reason = "no_frames"
            break
        try:
            first = frame.t if first is None else first
            last_t = frame.t
            before = status.prompt
            status = check.feed(frame)
        finally:
            frame.wipe()
        if on_prompt and status.prompt and status.prompt != before:
            on_prompt(status.prompt)
    passed = status.verdict is Verdict.PASSED
    if not passed and not reason:
        reason = status.reason or "failed"
    if not passed and check.faces == 0:
        reason = f"{reason}; no face seen"
    result = LivenessResult(
        passed,
        "" if passed else reason,
        [c.value for c in check.challenges],
        list(status.completed),
        check.frames,
        check.faces,
        last_t - (first or 0.0),
    )
    log.info(
        "liveness_checked",
        extra=fields(passed=passed, reason=result.reason, frames=result.frames, check=check.name),
    )
    return result
