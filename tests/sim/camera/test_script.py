"""The scripted camera: script parsing, the synthetic actions measured with the real
landmark detector, the card photo, and ``govedge sim camera``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.camera.faces import default_engine, largest
from drivers.camera.geometry import mean_ear, mouth_aspect_ratio, yaw
from drivers.camera.images import decode_image, to_rgb
from govedge.cli import main
from sim.camera.people import card_photo, frame_of
from sim.camera.script import SceneRenderer, ScriptError, Step, parse_script, render


@pytest.fixture(scope="module")
def scene() -> SceneRenderer:
    return SceneRenderer("astronaut", seed=0)


def measures(image: np.ndarray) -> tuple[float, float, float] | None:
    engine = default_engine()
    rgb = to_rgb(image)
    box = largest(engine.detect(rgb, 0))
    if box is None:
        return None
    marks = engine.landmarks(rgb, box)
    return mean_ear(marks), yaw(marks), mouth_aspect_ratio(marks)


def test_parse_script() -> None:
    assert parse_script("face:3, blink:2,no_face") == [
        Step("face", 3), Step("blink", 2), Step("no_face", 1)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [("wink:2", "unknown step"), ("face:x", "whole number"), ("face:0", "1..10000"), ("", "empty")],
)
def test_bad_scripts(text: str, message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        parse_script(text)


def test_synthetic_actions_move_the_landmarks(scene: SceneRenderer) -> None:
    face = measures(scene.frame("face"))
    blink = measures(scene.frame("blink"))
    left = measures(scene.frame("turn_left"))
    right = measures(scene.frame("turn_right"))
    mouth = measures(scene.frame("mouth_open"))
    assert face and blink and left and right and mouth
    assert face[0] > 0.28 and blink[0] < 0.2  # eyes open, then closed
    assert left[1] - face[1] > 0.18 and face[1] - right[1] > 0.18  # yaw both ways
    assert abs(left[2] - face[2]) < 0.1 and abs(right[2] - face[2]) < 0.1  # mouth still
    assert mouth[2] - face[2] > 0.25  # mouth opened
    assert measures(scene.frame("no_face")) is None
    assert measures(scene.frame("photo")) is not None  # a photo still shows a face


def test_frames_carry_sensor_noise_except_frozen(scene: SceneRenderer) -> None:
    a, b = scene.frame("face"), scene.frame("face")
    assert a.shape == (480, 640, 3) and not np.array_equal(a, b)
    assert np.array_equal(scene.frame("frozen"), scene.frame("frozen"))


def test_card_photo_is_102_by_126_under_1_kb() -> None:
    data = card_photo("astronaut")
    assert len(data) < 1024 and data[:2] == b"\xff\xd8"
    assert decode_image(data).shape[:2] == (126, 102)


def test_render_counts_frames() -> None:
    frames = render("no_face:2,frozen:3")
    assert len(frames) == 5


def test_sim_camera_command_writes_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "seq"
    code = main(["sim", "camera", "--out", str(out), "--script", "face:2,no_face:1",
                 "--card-photo", str(tmp_path / "card.jpg")])  # fmt: skip
    url = capsys.readouterr().out.strip()
    assert code == 0
    assert url == f"{out}?fps=10&pace=each"
    assert sorted(p.name for p in out.iterdir()) == [
        "frame_00000.png", "frame_00001.png", "frame_00002.png"
    ]  # fmt: skip
    assert len((tmp_path / "card.jpg").read_bytes()) < 1024


def test_sim_camera_command_writes_a_video(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "seq.avi"
    assert main(["sim", "camera", "--out", str(out), "--script", "face:3", "--fps", "5"]) == 0
    assert capsys.readouterr().out.strip() == f"{out}?pace=each"
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 3 and cap.get(cv2.CAP_PROP_FPS) == 5
    cap.release()


def test_sim_camera_command_rejects_bad_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sim", "camera", "--out", str(tmp_path), "--script", "dance:3"]) == 1
    assert "unknown step 'dance'" in capsys.readouterr().err


def test_grace_hopper_scene_is_another_person() -> None:
    assert frame_of("grace_hopper").shape == (480, 640, 3)
    with pytest.raises(ValueError):
        frame_of("nobody")


def test_sim_camera_serves_mjpeg_over_http(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from drivers.camera.capture import Camera

    root = Path(__file__).resolve().parents[3]
    proc = subprocess.Popen(
        [sys.executable, "-m", "govedge.cli", "sim", "camera", "--serve", "--script", "face:2"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/stream.mjpg")
        with Camera(url) as camera:
            assert camera.read(10.0).image.shape == (480, 640, 3)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0


def test_sim_camera_needs_out_or_serve(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "camera", "--script", "face:1"]) == 1
    assert "--out" in capsys.readouterr().err
