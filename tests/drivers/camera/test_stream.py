"""Capture from a network camera: an MJPEG stream over HTTP on loopback (the simulator)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from drivers.camera.capture import Camera
from drivers.camera.errors import CameraNotFound, NoFramesError
from drivers.camera.polled import create
from govedge.broker import free_port
from govedge.health import HealthState
from sim.camera.mjpeg import MjpegCamera
from sim.camera.script import SceneRenderer


@pytest.fixture
def network_camera(scene: SceneRenderer) -> Iterator[MjpegCamera]:
    frames = [scene.frame("face") for _ in range(3)] + [scene.frame("no_face")]
    with MjpegCamera(frames, fps=25) as camera:
        yield camera


def wait_for(camera: Camera, state: HealthState, limit_s: float = 10.0) -> HealthState:
    """Poll the health until it reaches ``state`` (bounded)."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        current = camera.health().state
        if current is state:
            return current
        time.sleep(0.05)
    return camera.health().state


def test_frames_from_an_http_mjpeg_stream(network_camera: MjpegCamera) -> None:
    with Camera(network_camera.url) as camera:
        frames = [camera.read(5.0) for _ in range(6)]
        assert camera.health().state is HealthState.ONLINE
    assert all(f.image.shape == (480, 640, 3) for f in frames)
    assert [f.index for f in frames] == sorted(f.index for f in frames)
    assert frames[-1].t > frames[0].t  # wall-clock times for live sources


def test_stalled_stream_is_no_frames_then_recovers(network_camera: MjpegCamera) -> None:
    with Camera(network_camera.url, no_frames_after_s=0.5) as camera:
        camera.read(5.0)
        network_camera.stall()
        assert wait_for(camera, HealthState.OFFLINE) is HealthState.OFFLINE
        assert camera.health().detail == "no frames"
        with pytest.raises(NoFramesError):
            camera.check()
        network_camera.resume()
        assert wait_for(camera, HealthState.ONLINE) is HealthState.ONLINE


def test_refused_connection_is_no_device() -> None:
    camera = Camera(f"http://127.0.0.1:{free_port()}/stream.mjpg")
    with pytest.raises(CameraNotFound):
        camera.open()
    assert camera.health().state is HealthState.NO_DEVICE


def test_verify_face_over_the_network(network_camera: MjpegCamera, card_gray: bytes) -> None:
    driver = create(network_camera.url, {"max_frames": 8})
    driver.open()
    try:
        result = driver.verify_face(card_gray)
        assert driver.health().state is HealthState.ONLINE
    finally:
        driver.close()
    assert result["match"] is True, result


def test_newest_frame_wins_for_a_slow_reader(network_camera: MjpegCamera) -> None:
    with Camera(network_camera.url) as camera:
        camera.read(5.0)
        before = network_camera.frames_sent
        # hold the reader back until the camera has sent several more frames
        end = time.monotonic() + 10.0
        while network_camera.frames_sent < before + 5 and time.monotonic() < end:
            time.sleep(0.02)
        frame = camera.read(5.0)
        assert camera.dropped >= 1
        assert isinstance(frame.image, np.ndarray)


def test_a_read_timeout_does_not_stick_in_the_health(network_camera: MjpegCamera) -> None:
    with Camera(network_camera.url, no_frames_after_s=0.3) as camera:
        camera.read(5.0)
        network_camera.stall()
        timed_out = False
        for _ in range(20):  # frames already in flight still arrive first
            try:
                camera.read(0.5)
            except NoFramesError:
                timed_out = True
                break
        assert timed_out
        network_camera.resume()
        camera.read(5.0)
        assert wait_for(camera, HealthState.ONLINE) is HealthState.ONLINE
