"""A live camera scene the kiosk rig controls: who stands in front of the camera, and what they
do right now.

``LiveScene.show(who)`` takes ``"<person>"`` (a live person), ``"photo:<person>"`` (a printed
photo held up), ``"still:<person>"`` (a still image replayed on a phone screen), ``"nobody"``
or ``"qr:<text>"`` (a QR code held up). ``act(action, seconds)`` makes a live person blink,
turn left or right or open the mouth for a while, then look at the camera again; a photo or a
still cannot act. ``frame()`` is the image the camera sees now, with sensor noise, so that it is
never the same picture twice (as with a real sensor). ``MjpegCamera(source=scene.frame)``
serves it as a network camera.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from sim.camera import effects
from sim.camera.people import FRAME_H, FRAME_W, PEOPLE
from sim.camera.script import SceneRenderer

ACTIONS = ("blink", "turn_left", "turn_right", "mouth_open")
NOISE_FRAMES = 6
NOISE_SIGMA = 2.0


class SceneError(ValueError):
    """An unknown person, action or scene."""


@dataclass(frozen=True, slots=True)
class Shown:
    """What stands in front of the camera: kind (person, photo, still, nobody, qr) and whom."""

    kind: str
    subject: str = ""

    def __str__(self) -> str:
        if self.kind == "person":
            return self.subject
        return f"{self.kind}:{self.subject}" if self.subject else self.kind


def parse_shown(text: str) -> Shown:
    """``"astronaut"``, ``"photo:astronaut"``, ``"still:grace_hopper"``, ``"nobody"``,
    ``"qr:TEXT"`` -> Shown; SceneError otherwise."""
    kind, sep, rest = text.partition(":")
    if not sep:
        if text in ("nobody", ""):
            return Shown("nobody")
        return Shown("person", _known(text))
    if kind in ("photo", "still"):
        return Shown(kind, _known(rest))
    if kind == "qr":
        if not rest:
            raise SceneError("qr: needs the text to encode")
        return Shown("qr", rest)
    raise SceneError(
        f"unknown scene {text!r}: use PERSON, photo:PERSON, still:PERSON, nobody, qr:TEXT"
    )


def _known(name: str) -> str:
    aliases = {"hopper": "grace_hopper", "grace": "grace_hopper"}
    name = aliases.get(name, name)
    if name not in PEOPLE:
        raise SceneError(f"unknown person {name!r}; known: {', '.join(PEOPLE)}")
    return name


class LiveScene:
    """The scene in front of one kiosk camera; thread-safe controls, ``frame()`` for the
    camera's serving thread."""

    def __init__(self, shown: str = "nobody", seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)
        self._noise = [
            self._rng.normal(0.0, NOISE_SIGMA, (FRAME_H, FRAME_W, 3)).astype(np.int16)
            for _ in range(NOISE_FRAMES)
        ]
        self._renderers: dict[str, SceneRenderer] = {}
        self._lock = threading.Lock()
        self._shown = parse_shown(shown)
        self._action = ""
        self._action_until = 0.0
        self._index = 0
        self._qr: tuple[str, np.ndarray] | None = None
        self._empty = effects.empty_scene(FRAME_W, FRAME_H, self._rng)
        self.actions_done: list[str] = []

    # -- controls ------------------------------------------------------------------------------

    def prepare(self, person: str) -> None:
        """Render a person's poses now (a second of work), not on first show."""
        self._renderer(_known(person))

    def show(self, text: str) -> Shown:
        """Put someone (or something) in front of the camera."""
        shown = parse_shown(text)
        if shown.subject and shown.kind != "qr":
            self._renderer(shown.subject)
        if shown.kind == "qr":
            image = _qr_image(shown.subject)
            with self._lock:
                self._qr = (shown.subject, image)
        with self._lock:
            self._shown = shown
            self._action, self._action_until = "", 0.0
        return shown

    @property
    def shown(self) -> Shown:
        """What stands in front of the camera now (the last ``show``)."""
        with self._lock:
            return self._shown

    def act(self, action: str, seconds: float = 0.4) -> bool:
        """A live person does ``action`` for ``seconds``; False if nobody live is there."""
        if action not in ACTIONS:
            raise SceneError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
        with self._lock:
            if self._shown.kind != "person":
                return False
            self._action, self._action_until = action, time.monotonic() + seconds
            self.actions_done.append(action)
            return True

    def release(self) -> None:
        """End the current action now: the person looks at the camera again."""
        with self._lock:
            self._action, self._action_until = "", 0.0

    # -- the camera's side ---------------------------------------------------------------------

    def frame(self) -> np.ndarray:
        """The picture the camera sees now (BGR 640x480, with sensor noise)."""
        with self._lock:
            shown = self._shown
            pose = self._action if time.monotonic() < self._action_until else "face"
            qr = self._qr
            self._index += 1
            noise = self._noise[self._index % NOISE_FRAMES]
        if shown.kind == "nobody":
            base = self._empty
        elif shown.kind == "qr" and qr is not None:
            base = qr[1]
        else:
            renderer = self._renderer(shown.subject)
            if shown.kind == "photo":
                base = renderer.poses["photo"]
            elif shown.kind == "still":
                base = renderer.poses["still"]
            else:
                base = renderer.poses[pose]
        frame: np.ndarray = np.clip(base.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        return frame

    def _renderer(self, person: str) -> SceneRenderer:
        renderer = self._renderers.get(person)
        if renderer is None:
            renderer = SceneRenderer(person)
            # a still replayed on a phone screen: the face, a little brighter and flatter
            renderer.poses["still"] = effects.lighting(renderer.poses["face"], 0.9, 20)
            self._renderers[person] = renderer
        return renderer


def _qr_image(text: str) -> np.ndarray:
    """A QR code printed on white paper, held up in front of a grey wall."""
    encoder = cv2.QRCodeEncoder.create()
    code = encoder.encode(text)
    side = min(FRAME_H, FRAME_W) * 2 // 3
    code = cv2.resize(code, (side, side), interpolation=cv2.INTER_NEAREST)
    code = cv2.copyMakeBorder(code, 24, 24, 24, 24, cv2.BORDER_CONSTANT, value=255)
    image = np.full((FRAME_H, FRAME_W, 3), 110, np.uint8)
    h, w = code.shape[:2]
    y, x = (FRAME_H - h) // 2, (FRAME_W - w) // 2
    image[y : y + h, x : x + w] = cv2.cvtColor(code, cv2.COLOR_GRAY2BGR)
    return image
