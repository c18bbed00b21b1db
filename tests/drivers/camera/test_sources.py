"""Camera URL forms and what happens when nothing is there."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.camera.capture import Camera
from drivers.camera.errors import CameraNotFound
from drivers.camera.sources import parse_camera_url
from govedge.errors import ConfigError
from govedge.health import HealthState


@pytest.mark.parametrize(
    ("url", "kind", "target", "index"),
    [
        ("0", "v4l2", "/dev/video0", 0),
        ("/dev/video2", "v4l2", "/dev/video2", 2),
        ("v4l2:///dev/video1", "v4l2", "/dev/video1", 1),
        ("v4l2://3", "v4l2", "/dev/video3", 3),
        (
            "rtsp://user:pw@10.0.0.5:554/stream1",
            "stream",
            "rtsp://user:pw@10.0.0.5:554/stream1",
            None,
        ),
        ("http://127.0.0.1:8080/video.mjpg", "stream", "http://127.0.0.1:8080/video.mjpg", None),
        ("/srv/clips/door.avi", "file", "/srv/clips/door.avi", None),
        ("file:///srv/clips/door.avi", "file", "/srv/clips/door.avi", None),
    ],
)
def test_url_forms(url: str, kind: str, target: str, index: int | None) -> None:
    spec = parse_camera_url(url)
    assert (spec.kind, spec.target, spec.index) == (kind, target, index)
    assert spec.live == (kind in ("v4l2", "stream"))


def test_folder_with_options(tmp_path: Path) -> None:
    spec = parse_camera_url(f"{tmp_path}?fps=25&pace=each&loop=1")
    assert (spec.kind, spec.fps, spec.pace, spec.loop, spec.lossless) == (
        "folder", 25.0, "each", True, True,
    )  # fmt: skip
    assert parse_camera_url(f"file://{tmp_path}").kind == "folder"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("ftp://host/x", "unknown scheme"),
        ("/tmp/x.avi?speed=2", "unknown option 'speed'"),
        ("/tmp/x.avi?fps=fast", "fps must be a number"),
        ("/tmp/x.avi?fps=0", "fps must be positive"),
        ("/tmp/x.avi?pace=slow", "pace must be"),
        ("v4l2:///dev/sda", "expected /dev/videoN"),
    ],
)
def test_bad_urls_name_the_problem(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_camera_url(url)


@pytest.mark.parametrize("url", ["57", "/nonexistent/clip.avi"])
def test_nothing_at_the_url_is_no_device(url: str) -> None:
    camera = Camera(url)
    with pytest.raises(CameraNotFound):
        camera.open()
    assert camera.health().state is HealthState.NO_DEVICE
    camera.close()


def test_empty_folder_is_no_device(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(CameraNotFound, match="no images"):
        Camera(str(tmp_path)).open()


def test_unreadable_video_file_is_no_device(tmp_path: Path) -> None:
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00AVI garbage")
    with pytest.raises(CameraNotFound, match="cannot open"):
        Camera(str(bad)).open()
