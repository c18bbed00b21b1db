"""The face session: liveness and the card-photo match on the same tracked face, fed by the
rig's live scene at a kiosk camera's pace (a person who reacts to the prompt, a printed photo,
a replayed still, another person, nobody, a face swapped in during the challenge)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from drivers.camera.frames import Frame
from drivers.camera.liveness import Challenge
from drivers.camera.session import FaceSession, SessionSettings
from drivers.camera.verification import FaceVerifier
from sim.camera.live import LiveScene
from sim.camera.people import card_photo

FPS = 10.0
SETTINGS = SessionSettings(look_timeout_s=2.0, challenge_timeout_s=1.5)


class PacedCamera:
    """Frames of the scene at ``FPS``, timed like a live camera's."""

    def __init__(self, scene: LiveScene) -> None:
        self.scene = scene
        self.index = 0
        self.due = time.monotonic()

    def read(self, timeout: float = 1.0) -> Frame:
        self.due = max(self.due + 1.0 / FPS, time.monotonic() - 1.0 / FPS)
        time.sleep(max(0.0, self.due - time.monotonic()))
        self.index += 1
        return Frame(self.scene.frame(), time.monotonic(), self.index)


class Follower:
    """A person who does what the prompt says and holds it until the screen shows it was
    seen (the progress moves on for a blink, the verdict for a turn), as the rig's citizen."""

    def __init__(self, scene: LiveScene) -> None:
        self.scene = scene
        self.holding = ""
        self.shown: float | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        if event["step"] == "challenge":
            self.holding = event["action"] if self.scene.act(event["action"], 5.0) else ""
            self.shown = None
        elif event["step"] == "progress" and self.holding == "blink":
            if self.shown is None:
                self.shown = event["value"]
            elif event["value"] > self.shown:
                self.scene.release()
                self.holding = ""
        elif event["step"] == "verdict":
            self.scene.release()


@pytest.fixture(scope="module")
def scene() -> LiveScene:
    live = LiveScene("nobody")
    live.prepare("astronaut")
    live.prepare("grace_hopper")
    return live


Run = Callable[..., tuple[dict[str, Any], list[dict[str, Any]]]]


@pytest.fixture
def run(scene: LiveScene, verifier: FaceVerifier) -> Run:
    def go(
        who: str,
        challenge: Challenge = Challenge.BLINK,
        react: Callable[[dict[str, Any]], None] | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        scene.show(who)
        steps: list[dict[str, Any]] = []
        follow = Follower(scene)

        def emit(event: dict[str, Any]) -> None:
            steps.append(event)
            (react or follow)(event)

        session = FaceSession(verifier, SETTINGS, challenges=[challenge])
        result = session.run(PacedCamera(scene), card_photo("astronaut"), emit)
        return result.event(), steps

    return go


@pytest.mark.parametrize("challenge", [Challenge.BLINK, Challenge.TURN_LEFT, Challenge.TURN_RIGHT])
def test_card_holder_who_follows_passes(run: Run, challenge: Challenge) -> None:
    verdict, steps = run("astronaut", challenge)
    assert verdict["passed"] and verdict["reason"] == "ok", verdict
    assert verdict["matched"] and verdict["live"] and verdict["distance"] < 0.54
    assert steps[0] == {"step": "look", "text_key": "face.look"}
    assert steps[-1] == verdict
    challenges = [s for s in steps if s["step"] == "challenge"]
    assert challenges == [
        {"step": "challenge", "action": challenge.value, "text_key": f"face.{challenge.value}"}
    ]
    values = [s["value"] for s in steps if s["step"] == "progress"]
    assert values and values == sorted(values) and all(0.0 <= v <= 1.0 for v in values)
    # the contract's order: look, challenge, progress..., verdict
    assert [s["step"] for s in steps[:2]] == ["look", "challenge"]
    assert {s["step"] for s in steps[2:-1]} == {"progress"}


@pytest.mark.parametrize("who", ["photo:astronaut", "still:astronaut"])
def test_printed_photo_and_replayed_still_are_refused(run: Run, who: str) -> None:
    verdict, steps = run(who)
    assert not verdict["passed"] and not verdict["live"]
    assert verdict["reason"] == "not_live"
    assert any(s["step"] == "challenge" for s in steps)  # the face was tracked and asked


def test_another_person_is_a_mismatch(run: Run) -> None:
    verdict, _ = run("grace_hopper")
    assert verdict["live"] and not verdict["matched"] and not verdict["passed"]
    assert verdict["reason"] == "mismatch" and verdict["distance"] > 0.54


def test_nobody_is_no_face(run: Run) -> None:
    verdict, steps = run("nobody")
    assert verdict == {
        "step": "verdict",
        "matched": False,
        "live": False,
        "passed": False,
        "reason": "no_face",
    }
    assert [s["step"] for s in steps] == ["look", "verdict"]


def test_face_swapped_in_for_the_challenge_is_refused(run: Run, scene: LiveScene) -> None:
    """The card holder's photo is shown for the match, another (live) person does the blink."""

    def swap(event: dict[str, Any]) -> None:
        if event["step"] == "challenge":
            scene.show("grace_hopper")
            scene.act("blink", 0.4)

    verdict, _ = run("photo:astronaut", react=swap)
    assert not verdict["passed"] and not verdict["live"]
    assert verdict["reason"] == "not_live"


def test_camera_without_frames_is_a_camera_fault(scene: LiveScene, verifier: FaceVerifier) -> None:
    """A camera that stops delivering frames mid-session ends it with camera_fault."""
    from drivers.camera.errors import NoFramesError

    class Stalling(PacedCamera):
        def read(self, timeout: float = 1.0) -> Frame:
            if self.index >= 4:
                raise NoFramesError("no frames from the camera for 1 s")
            return super().read(timeout)

    scene.show("astronaut")
    steps: list[dict[str, Any]] = []
    session = FaceSession(verifier, SETTINGS, challenges=[Challenge.BLINK])
    result = session.run(Stalling(scene), card_photo("astronaut"), steps.append)
    assert result.reason == "camera_fault" and not result.passed
    assert steps[0]["step"] == "look" and steps[-1]["reason"] == "camera_fault"
