"""Capture from an image folder and a video file, newest-wins delivery, and health."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.camera.capture import Camera
from drivers.camera.errors import CameraEnded, FrozenImageError
from govedge.health import HealthState


def numbered(i: int) -> np.ndarray:
    """A 160x120 frame whose grey level encodes its index (survives JPEG/MJPEG)."""
    return np.full((120, 160, 3), 10 + 20 * i, np.uint8)


def write_pngs(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"f{i:03d}.png"), numbered(i))


def test_folder_plays_every_frame_in_name_order(tmp_path: Path) -> None:
    write_pngs(tmp_path, 8)
    (tmp_path / "readme.txt").write_text("ignored")
    with Camera(f"{tmp_path}?fps=20&pace=each") as camera:
        frames = list(camera.frames(timeout=5.0))
        report = camera.health()
    assert [f.index for f in frames] == list(range(8))
    assert [int(f.image[0, 0, 0]) for f in frames] == [10 + 20 * i for i in range(8)]
    assert [f.t for f in frames] == pytest.approx([i / 20 for i in range(8)])
    assert report.state is HealthState.ONLINE
    assert report.counters["frames"] == 8


def test_video_file_written_with_videowriter(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 15.0, (160, 120))
    for i in range(10):
        writer.write(numbered(i))
    writer.release()
    with Camera(f"{path}?pace=each") as camera:
        frames = list(camera.frames(timeout=5.0))
        with pytest.raises(CameraEnded):
            camera.read(1.0)
    assert len(frames) == 10
    levels = [int(np.median(f.image)) for f in frames]
    assert levels == pytest.approx([10 + 20 * i for i in range(10)], abs=3)
    assert frames[1].t == pytest.approx(1 / 15)


def test_slow_reader_gets_the_newest_frame(tmp_path: Path) -> None:
    write_pngs(tmp_path, 12)
    camera = Camera(f"{tmp_path}?fps=1000")  # realtime pace: the reader may miss frames
    camera.open()
    try:
        first = camera.read(5.0)
        assert camera._thread is not None
        camera._thread.join(10.0)  # the source has played to its end
        rest = list(camera.frames(timeout=1.0))
    finally:
        camera.close()
    assert len(rest) <= 1  # only the newest frame waited in the queue
    if rest:
        assert rest[0].index == 11
    assert camera.dropped == 12 - 1 - len(rest)
    assert first.index < 11


def test_frozen_image_is_a_hardware_error(scripted: Callable[[str], str]) -> None:
    with Camera(scripted("frozen:40"), frozen_after_s=3.0) as camera:
        count = sum(1 for _ in camera.frames(timeout=5.0))
        report = camera.health()
        with pytest.raises(FrozenImageError):
            camera.check()
    assert count == 40
    assert report.state is HealthState.HARDWARE_ERROR
    assert report.detail == "frozen image"
    assert report.counters["frozen_events"] == 1


def test_a_still_scene_with_sensor_noise_is_not_frozen(scripted: Callable[[str], str]) -> None:
    with Camera(scripted("photo:35")) as camera:
        for _ in camera.frames(timeout=5.0):
            pass
        camera.check()
        assert camera.health().state is HealthState.ONLINE


async def test_aread_keeps_the_event_loop_free(tmp_path: Path) -> None:
    write_pngs(tmp_path, 3)
    with Camera(f"{tmp_path}?pace=each") as camera:
        got = [await camera.aread(5.0) for _ in range(3)]
    assert [f.index for f in got] == [0, 1, 2]


def test_close_is_idempotent_and_wipes_pending_frames(tmp_path: Path) -> None:
    write_pngs(tmp_path, 3)
    camera = Camera(f"{tmp_path}?pace=each")
    camera.open()
    first = camera.read(5.0)
    camera.close()
    camera.close()
    assert camera.health().state is HealthState.OFFLINE
    assert first.image.any()  # a frame handed out belongs to its reader until it wipes it
