"""The hub's exception hierarchy; each class carries the HTTP status and code it answers with.

The one error middleware (``hub.app``) turns any of them into the one error body
(``hub.api.util.ErrorBody``), so a handler raises with the facts a person needs and never
builds an error response itself.
"""

from __future__ import annotations

from govedge.errors import GovedgeError


class HubError(GovedgeError):
    """Root of hub errors. ``status``/``code``: the HTTP answer; ``headers``: any it must carry."""

    status = 400
    code = "bad_request"
    path: str | None = None
    headers: dict[str, str] | None = None


class NotFoundError(HubError):
    """A device, command, rollout or token that does not exist."""

    status = 404
    code = "not_found"


class AuthError(HubError):
    """Missing, unknown or revoked API token."""

    status = 401
    code = "unauthorized"


class ForbiddenError(HubError):
    """The token's role may not use this route."""

    status = 403
    code = "forbidden"


class ValidationError(HubError):
    """A request body or query parameter is invalid; the message names the field.

    ``path`` is where, for a program: a JSON path into the body ("$.location.lat") or the name
    of a query parameter; None when the message alone says it.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class TooLargeError(HubError):
    """A request body over the hub's limit."""

    status = 413
    code = "too_large"


class ConflictError(HubError):
    """The request contradicts the state it would change (a task's state, a retried request)."""

    status = 409
    code = "conflict"


class UpstreamError(HubError):
    """A system the hub relies on for this request (the city's platform) failed."""

    status = 502
    code = "bad_gateway"


class StorageError(HubError):
    """The telemetry store or the registry database failed."""


class BackupError(HubError):
    """A hub backup could not be taken or restored; the message names the part and why."""
