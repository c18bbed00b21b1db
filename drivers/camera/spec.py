"""Options of the face camera driver (dependency-free: msgspec only)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from msgspec import Meta

from drivers.spec import DriverOptions

Seconds = Annotated[float, Meta(gt=0, le=600)]
Distance = Annotated[float, Meta(gt=0, lt=2)]
Brightness = Annotated[float, Meta(ge=0, le=255)]
Upsample = Annotated[int, Meta(ge=0, le=4)]

# Default decision threshold on the encoding distance. face_recognition's usual 0.6 is too
# loose against a 102x126 card photo: on the reference images same-person distances are
# 0.40-0.51 and different-person ones 0.57-0.69. Calibrate per deployment (see calibration).
DEFAULT_THRESHOLD = 0.54


class CameraOptions(DriverOptions, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A V4L2 device, a file, a stream or an image folder, with 1:1 verification and liveness."""

    KIND: ClassVar[str] = "camera"
    SCHEMES: ClassVar[tuple[str, ...]] = ("v4l2", "file", "rtsp", "http", "https")
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("face", "face_session", "qr_scan")

    threshold: Annotated[Distance, Meta(description="match distance (smaller is stricter)")] = (
        DEFAULT_THRESHOLD
    )
    max_frames: Annotated[int, Meta(ge=1, le=100, description="frames tried per check")] = 5
    read_timeout_s: Annotated[Seconds, Meta(description="seconds to wait for a frame")] = 2.0
    frozen_after_s: Annotated[
        Seconds, Meta(description="seconds of identical frames before the camera is frozen")
    ] = 3.0
    no_frames_after_s: Annotated[
        Seconds, Meta(description="seconds without a frame before the camera is sick")
    ] = 2.0
    upsample: Annotated[Upsample, Meta(description="HOG upsampling for verification")] = 1
    liveness_timeout_s: Annotated[Seconds, Meta(description="seconds for a liveness check")] = 8.0
    min_face_px: Annotated[int, Meta(ge=1, le=4096, description="smallest face width, px")] = 80
    min_sharpness: Annotated[
        float, Meta(ge=0, le=100_000, description="variance of the Laplacian")
    ] = 60.0
    min_brightness: Annotated[Brightness, Meta(description="mean grey level, 0-255")] = 50.0
    max_brightness: Annotated[Brightness, Meta(description="mean grey level, 0-255")] = 215.0
    max_yaw: Annotated[
        float, Meta(ge=0, le=1, description="head turn, the nose between the jaw edges, 0-1")
    ] = 0.35
    max_roll_deg: Annotated[float, Meta(ge=0, le=90, description="head tilt, degrees")] = 20.0
    session_challenges: Annotated[
        int, Meta(ge=1, le=10, description="liveness challenges per kiosk face session")
    ] = 1
    session_look_timeout_s: Annotated[
        Seconds, Meta(description="seconds to find a face and take its baseline")
    ] = 3.0
    session_challenge_timeout_s: Annotated[
        Seconds, Meta(description="seconds per challenge, from its prompt")
    ] = 3.0
    session_upsample: Annotated[Upsample, Meta(description="HOG upsampling in a session")] = 0
    session_baseline_frames: Annotated[
        int, Meta(ge=1, le=30, description="frames of the session's baseline")
    ] = 3
    continuity_threshold: Annotated[
        Distance, Meta(description="encoding distance, first vs last frame of the track")
    ] = 0.6
