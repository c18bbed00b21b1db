"""The hub's exception hierarchy; each class carries the HTTP status and code it answers with.

The one error middleware (``hub.app``) turns any of them into the one error body
(``hub.api.util.ErrorBody``), so a handler raises with the facts a person needs and never
builds an error response itself.
"""

from __future__ import annotations

from govedge.errors import GovedgeError


class HubError(GovedgeError):
    """Root of hub errors. ``status``/``code``: the HTTP answer; ``headers``: any it must carry.

    A subclass names its own: ``class NotFoundError(HubError, status=404, code="not_found")``.
    """

    status = 400
    code = "bad_request"
    path: str | None = None
    headers: dict[str, str] | None = None

    def __init_subclass__(cls, status: int | None = None, code: str | None = None) -> None:
        super().__init_subclass__()
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code


class NotFoundError(HubError, status=404, code="not_found"):
    """A device, command, rollout or token that does not exist."""


class AuthError(HubError, status=401, code="unauthorized"):
    """Missing, unknown or revoked API token."""


class ForbiddenError(HubError, status=403, code="forbidden"):
    """The token's role may not use this route."""


class ValidationError(HubError):
    """A request body or query parameter is invalid; the message names the field.

    ``path`` is where, for a program: a JSON path into the body ("$.location.lat") or the name
    of a query parameter; None when the message alone says it.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class TooLargeError(HubError, status=413, code="too_large"):
    """A request body over the hub's limit."""


class ConflictError(HubError, status=409, code="conflict"):
    """The request contradicts the state it would change (a task's state, a retried request)."""


class UpstreamError(HubError, status=502, code="bad_gateway"):
    """A system the hub relies on for this request (the city's platform) failed."""


class StorageError(HubError):
    """The telemetry store or the registry database failed."""


class BackupError(HubError):
    """A hub backup could not be taken or restored; the message names the part and why."""
