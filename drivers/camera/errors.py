"""The camera package's exceptions, each carrying the health state it implies."""

from __future__ import annotations

from drivers.errors import DeviceTimeout, DriverError, NoDeviceError, UserActionError
from govedge.health import HealthState


class CameraError(DriverError):
    """Root of camera errors."""


class CameraNotFound(NoDeviceError, CameraError):
    """Nothing at the camera URL: no such device index, file, folder or stream."""


class NoFramesError(DeviceTimeout, CameraError):
    """The camera is open but delivered no frame in time."""


class CameraEnded(CameraError):
    """A finite source (video file, image folder) has played all of its frames."""

    health = HealthState.OFFLINE


class FrozenImageError(CameraError):
    """The camera keeps delivering the same image: a stuck sensor or a dead pipeline."""

    health = HealthState.HARDWARE_ERROR


class ImageError(CameraError):
    """An image (reference photo, probe file) could not be decoded."""

    health = HealthState.USER_ERROR


class CalibrationError(CameraError):
    """A calibration pairs file is missing, malformed or unusable."""

    health = HealthState.USER_ERROR


class LivenessError(CameraError):
    """The liveness check could not run (no camera frames at all)."""


class NoQrError(UserActionError, CameraError):
    """No QR code was held up to the camera in time."""
