"""Errors of the inspection extension (within the hub's hierarchy, so the middleware maps them)."""

from __future__ import annotations

from hub.errors import ValidationError


class InspectionError(ValidationError):
    """A request about tasks or evidence that cannot be done as asked (a 400)."""


class DeviceAuthError(InspectionError):
    """The caller presented no valid device certificate (mapped to 401 by the routes)."""


class TransitionError(InspectionError):
    """A task cannot move from its state to the one asked (a 409)."""
