"""The hub's exception hierarchy."""

from __future__ import annotations

from govedge.errors import GovedgeError


class HubError(GovedgeError):
    """Root of hub errors."""


class NotFoundError(HubError):
    """A device, command, rollout or token that does not exist."""


class AuthError(HubError):
    """Missing, unknown or revoked API token."""


class ForbiddenError(HubError):
    """The token's role may not use this route."""


class ValidationError(HubError):
    """A request body or query parameter is invalid; the message names the field.

    ``path`` is where, for a program: a JSON path into the body ("$.location.lat") or the name
    of a query parameter; None when the message alone says it.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class StorageError(HubError):
    """The telemetry store or the registry database failed."""


class BackupError(HubError):
    """A hub backup could not be taken or restored; the message names the part and why."""
