"""Challenge-response liveness against scripted simulator sequences."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest

from drivers.camera.capture import Camera
from drivers.camera.errors import LivenessError
from drivers.camera.faces import FaceEngine
from drivers.camera.frames import Frame
from drivers.camera.liveness import (
    PROMPTS,
    Challenge,
    ChallengeResponseLiveness,
    LivenessCheck,
    Verdict,
    run_liveness,
)

BLINK_AND_TURN = "face:4,blink:2,face:3,turn_left:3,face:3"
# every action once, in a fixed order, for any random pair of challenges in that order
ALL_ACTIONS = "face:4,blink:2,face:2,turn_left:3,face:2,turn_right:3,face:2,mouth_open:3,face:2"
ORDER = [Challenge.BLINK, Challenge.TURN_LEFT, Challenge.TURN_RIGHT, Challenge.MOUTH_OPEN]


def check(engine: FaceEngine, *challenges: Challenge, **kw: object) -> ChallengeResponseLiveness:
    return ChallengeResponseLiveness(list(challenges) or None, engine=engine, **kw)  # type: ignore[arg-type]


def test_scripted_blink_and_turn_passes(scripted: Callable[[str], str], engine: FaceEngine) -> None:
    prompts: list[str] = []
    with Camera(scripted(BLINK_AND_TURN)) as camera:
        result = run_liveness(
            camera, check(engine, Challenge.BLINK, Challenge.TURN_LEFT), on_prompt=prompts.append
        )
    assert result.passed, result
    assert result.completed == ["blink", "turn_left"]
    assert prompts == [PROMPTS[Challenge.BLINK], PROMPTS[Challenge.TURN_LEFT]]


def test_still_printed_photo_fails_by_timeout(
    scripted: Callable[[str], str], engine: FaceEngine
) -> None:
    with Camera(scripted("photo:35")) as camera:
        result = run_liveness(camera, check(engine, rng=random.Random(5), timeout_s=3.0))
    assert not result.passed
    assert result.reason == "timeout"
    assert result.faces > 0 and result.completed == []
    assert result.elapsed_s == pytest.approx(3.1)


def test_still_frame_of_a_face_fails(scripted: Callable[[str], str], engine: FaceEngine) -> None:
    with Camera(scripted("face:12")) as camera:
        result = run_liveness(camera, check(engine, Challenge.BLINK, timeout_s=5.0))
    assert not result.passed and result.reason == "camera_ended"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_challenges_answered_in_order_pass(
    scripted: Callable[[str], str], engine: FaceEngine, seed: int
) -> None:
    # the person performs the actions asked, in the order asked
    liveness = check(engine, rng=random.Random(seed), count=2)
    asked = liveness.pick()
    steps = {
        Challenge.BLINK: "blink:2",
        Challenge.TURN_LEFT: "turn_left:3",
        Challenge.TURN_RIGHT: "turn_right:3",
        Challenge.MOUTH_OPEN: "mouth_open:3",
    }
    script = "face:4," + ",".join(f"{steps[c]},face:2" for c in asked)
    liveness = check(engine, rng=random.Random(seed), count=2)
    with Camera(scripted(script)) as camera:
        result = run_liveness(camera, liveness)
    assert result.passed, (asked, result)
    assert result.challenges == [c.value for c in asked]


def test_challenges_are_randomised() -> None:
    seen = {
        tuple(ChallengeResponseLiveness(rng=random.Random(s), engine=object()).pick())  # type: ignore[arg-type]
        for s in range(30)
    }
    assert len(seen) > 4
    for picked in seen:
        assert len(set(picked)) == 2
        assert not {Challenge.TURN_LEFT, Challenge.TURN_RIGHT} <= set(picked)


def test_actions_in_the_wrong_order_fail(
    scripted: Callable[[str], str], engine: FaceEngine
) -> None:
    with Camera(scripted(ALL_ACTIONS)) as camera:
        result = run_liveness(camera, check(engine, Challenge.MOUTH_OPEN, Challenge.BLINK))
    assert not result.passed
    assert result.completed == ["mouth_open"]


def test_turn_in_the_other_direction_does_not_count(
    scripted: Callable[[str], str], engine: FaceEngine
) -> None:
    with Camera(scripted("face:4,turn_right:3,face:3")) as camera:
        result = run_liveness(camera, check(engine, Challenge.TURN_LEFT))
    assert not result.passed and result.completed == []


def test_nobody_in_front_fails(scripted: Callable[[str], str], engine: FaceEngine) -> None:
    with Camera(scripted("no_face:10")) as camera:
        result = run_liveness(camera, check(engine, Challenge.BLINK))
    assert not result.passed and result.faces == 0
    assert "no face seen" in result.reason


def test_frames_are_zeroed_once_measured(
    scripted: Callable[[str], str], engine: FaceEngine
) -> None:
    seen: list[Frame] = []

    class Recorder:
        def __init__(self, camera: Camera) -> None:
            self.camera = camera

        def read(self, timeout: float = 2.0) -> Frame:
            frame = self.camera.read(timeout)
            seen.append(frame)
            return frame

    with Camera(scripted(BLINK_AND_TURN)) as camera:
        run_liveness(Recorder(camera), check(engine, Challenge.BLINK))
    assert seen and all(not f.image.any() for f in seen)


def test_no_frames_at_all_is_an_error(engine: FaceEngine) -> None:
    from drivers.camera.errors import NoFramesError

    class Dead:
        def read(self, timeout: float = 2.0) -> Frame:
            raise NoFramesError("no frames")

    with pytest.raises(LivenessError):
        run_liveness(Dead(), check(engine, Challenge.BLINK))


def test_the_check_is_pluggable() -> None:
    class AlwaysLive:
        """A stand-in for a model-based check: passes on the first frame."""

        name = "model"

        def __init__(self) -> None:
            self.challenges: list[Challenge] = []
            self.frames = 0
            self.faces = 0

        def begin(self) -> str:
            return ""

        def feed(self, frame: Frame) -> object:
            from drivers.camera.liveness import LivenessStatus

            self.frames += 1
            return LivenessStatus(Verdict.PASSED)

    class OneFrame:
        def read(self, timeout: float = 2.0) -> Frame:
            return Frame(np.ones((4, 4, 3), np.uint8), 0.0, 0)

    plugin = AlwaysLive()
    assert isinstance(plugin, LivenessCheck)
    assert run_liveness(OneFrame(), plugin).passed  # type: ignore[arg-type]


def test_all_four_actions_in_sequence(scripted: Callable[[str], str], engine: FaceEngine) -> None:
    with Camera(scripted(ALL_ACTIONS)) as camera:
        result = run_liveness(camera, check(engine, *ORDER))
    assert result.passed and result.completed == [c.value for c in ORDER]
