"""Errors of the inspection extension (within the hub's hierarchy, so the middleware maps them)."""

from __future__ import annotations

from typing import ClassVar

from hub.errors import ValidationError


class InspectionError(ValidationError):
    """A request about tasks or evidence that cannot be done as asked (a 400)."""


class DeviceAuthError(InspectionError, status=401, code="unauthorized"):
    """The caller presented no valid device certificate (a 401)."""


class TransitionError(InspectionError, status=409, code="conflict"):
    """A task cannot move from its state to the one asked (a 409)."""


class UploadRefused(InspectionError):
    """A tus request the upload's state refuses: its status (404, 409, 415, or 460 when the
    bytes do not hash to the address) and the tus headers the client reads (Upload-Offset)."""

    CODES: ClassVar[dict[int, str]] = {
        404: "not_found",
        409: "conflict",
        415: "unsupported_media_type",
    }

    def __init__(self, message: str, status: int, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.status = status
        self.code = self.CODES.get(status, "checksum_mismatch")
        self.headers = headers
