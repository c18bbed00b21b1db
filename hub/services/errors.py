"""The services' exception hierarchy.

Each class also derives from the hub error that carries its HTTP status (400, 404, 409, 502), so a
handler raises with the facts a person needs and the error middleware answers in the one shape.
"""

from __future__ import annotations

from hub.errors import ConflictError, HubError, NotFoundError, UpstreamError, ValidationError


class ServicesError(HubError):
    """Root of the services' errors."""


class BadRequest(ServicesError, ValidationError):
    """A request body or parameter is invalid; the message names the field."""


class UnknownItem(ServicesError, NotFoundError):
    """An errand, application, proof or proof type that does not exist."""


class Conflict(ServicesError, ConflictError):
    """A retried request that does not match the first one (HTTP 409)."""


class PlatformError(ServicesError, UpstreamError):
    """The city's application platform failed or answered something unreadable (HTTP 502)."""


class KeyringError(ServicesError):
    """The proof keys cannot be read, written or found."""


class ProofRejected(ServicesError):
    """A proof that does not verify; ``reason`` is one word a program can test."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
