"""Scripted camera sequences: ``"face:5,blink:2,face:3,turn_left:4,face:3"``.

Steps (each ``name:frames``):

- ``face``: the person looking at the camera; ``blink``: eyes closed; ``turn_left`` /
  ``turn_right``: head turned (the person's left on an unmirrored camera); ``mouth_open``;
- ``no_face``: nobody in front of the kiosk;
- ``photo``: a printed photo of the person held still in front of the camera;
- ``frozen``: the camera fault, the exact same image again and again (no sensor noise).

Every frame but ``frozen`` carries sensor noise, as a real camera's would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from drivers.camera.faces import default_engine, largest
from drivers.camera.images import to_rgb
from sim.camera import effects
from sim.camera.people import FRAME_H, FRAME_W, frame_of

STEPS = ("face", "blink", "turn_left", "turn_right", "mouth_open", "no_face", "photo", "frozen")
TURN_AMOUNT = 0.3
MOUTH_AMOUNT = 0.5


class ScriptError(ValueError):
    """A camera script names an unknown step or a bad frame count."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a camera script: a pose and how many frames it lasts."""

    name: str
    frames: int


def parse_script(text: str) -> list[Step]:
    """``"face:5,blink:2"`` -> steps; ScriptError on anything else."""
    steps: list[Step] = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, _, count = item.partition(":")
        name = name.strip()
        if name not in STEPS:
            raise ScriptError(f"unknown step {name!r}; steps: {', '.join(STEPS)}")
        try:
            frames = int(count) if count else 1
        except ValueError:
            raise ScriptError(f"step {item!r}: frame count must be a whole number") from None
        if not 1 <= frames <= 10_000:
            raise ScriptError(f"step {item!r}: frame count must be 1..10000")
        steps.append(Step(name, frames))
    if not steps:
        raise ScriptError("empty camera script")
    return steps


class SceneRenderer:
    """Renders the poses of one person once, then frames with fresh noise."""

    def __init__(self, person: str = "astronaut", seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        base = frame_of(person)
        engine = default_engine()
        rgb = to_rgb(base)
        box = largest(engine.detect(rgb, 1))
        if box is None:
            raise ScriptError(f"no face found in the photo of {person}")
        marks = engine.landmarks(rgb, box)
        self.poses: dict[str, np.ndarray] = {
            "face": base,
            "blink": effects.close_eyes(base, marks),
            "turn_left": effects.turn_head(base, box.css(), TURN_AMOUNT),
            "turn_right": effects.turn_head(base, box.css(), -TURN_AMOUNT),
            "mouth_open": effects.open_mouth(base, marks, MOUTH_AMOUNT),
            "photo": effects.printed_photo(base),
            "frozen": base,
        }

    def frame(self, step: str) -> np.ndarray:
        """A frame for ``step``: a pose with fresh sensor noise, the frozen pose
        unchanged (a replayed frame), or an empty scene for ``no_face``.
        """
        if step == "frozen":
            return self.poses["frozen"].copy()
        if step == "no_face":
            return effects.empty_scene(FRAME_W, FRAME_H, self.rng)
        return effects.sensor_noise(self.poses[step], self.rng)


def render(script: str | list[Step], person: str = "astronaut", seed: int = 0) -> list[np.ndarray]:
    """All frames of a script, in order."""
    steps = parse_script(script) if isinstance(script, str) else script
    scene = SceneRenderer(person, seed)
    return [scene.frame(s.name) for s in steps for _ in range(s.frames)]


def write_folder(frames: list[np.ndarray], folder: Path, *, fps: float = 10.0) -> str:
    """Write frames as numbered PNG files (lossless, so ``frozen`` stays identical); return
    the camera URL that plays them one by one."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("frame_*.png"):
        old.unlink()
    for i, image in enumerate(frames):
        cv2.imwrite(str(folder / f"frame_{i:05d}.png"), image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return f"{folder}?fps={fps:g}&pace=each"


def write_video(frames: list[np.ndarray], path: Path, *, fps: float = 10.0) -> str:
    """Write frames as an MJPEG AVI with cv2.VideoWriter; return its camera URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (FRAME_W, FRAME_H))
    if not writer.isOpened():
        raise ScriptError(f"cannot write video {path}")
    try:
        for image in frames:
            writer.write(image)
    finally:
        writer.release()
    return f"{path}?pace=each"
