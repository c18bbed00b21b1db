"""Fixtures on real photographs: the card photo, probe frames of two real people, and
scripted simulator sequences written once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from drivers.camera.faces import FaceEngine, default_engine
from drivers.camera.images import fit
from drivers.camera.verification import FaceVerifier
from sim.camera import effects
from sim.camera.people import card_photo, frame_of, person
from sim.camera.script import SceneRenderer, parse_script, write_folder


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    return default_engine()


@pytest.fixture(scope="session")
def verifier(engine: FaceEngine) -> FaceVerifier:
    return FaceVerifier(engine=engine)


@pytest.fixture(scope="session")
def card_gray() -> bytes:
    """The card photo as the ID-card simulator stores it: 102x126, under 1 KB."""
    return card_photo("astronaut")


@pytest.fixture(scope="session")
def card_colour() -> bytes:
    """A colour card photo at a JPEG quality an older reader would give (about 1.3 KB)."""
    import cv2

    face = cv2.resize(person("astronaut")[0:220, 140:330], (102, 126), interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 10])[1].tobytes()


def _same_person() -> dict[str, np.ndarray]:
    img = person("astronaut")
    return {
        "frame": frame_of("astronaut"),
        "zoomed_1.3": fit(img, 832, 624)[0:480, 96:736].copy(),
        "cropped": fit(img[0:300, 60:420], 640, 480),
        "darker": fit(effects.lighting(img, 0.7), 640, 480),
        "brighter": fit(effects.lighting(img, 1.1, 20), 640, 480),
        "rotated_-7": fit(effects.rotate(img, -7), 640, 480),
        "rotated_7": fit(effects.rotate(img, 7), 640, 480),
    }


def _other_person() -> dict[str, np.ndarray]:
    img = person("grace_hopper")
    return {
        "frame": frame_of("grace_hopper"),
        "cropped": fit(img[0:350, 80:450], 640, 480),
        "darker": fit(effects.lighting(img, 0.7), 640, 480),
        "rotated_6": fit(effects.rotate(img, 6), 640, 480),
    }


@pytest.fixture(scope="session")
def same_probes() -> dict[str, np.ndarray]:
    return _same_person()


@pytest.fixture(scope="session")
def other_probes() -> dict[str, np.ndarray]:
    return _other_person()


@pytest.fixture(scope="session")
def scene() -> SceneRenderer:
    return SceneRenderer("astronaut", seed=1)


@pytest.fixture(scope="session")
def scripted(
    scene: SceneRenderer, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], str]:
    """Write a script's frames to a folder once; return the camera URL (every frame played)."""
    cache: dict[str, str] = {}

    def make(script: str) -> str:
        if script not in cache:
            frames = [scene.frame(s.name) for s in parse_script(script) for _ in range(s.frames)]
            folder = Path(tmp_path_factory.mktemp("scene"))
            cache[script] = write_folder(frames, folder)
        return cache[script]

    return make
