"""The provisioning package's exceptions: one hierarchy under GovedgeError."""

from __future__ import annotations

from govedge.errors import GovedgeError


class ProvisioningError(GovedgeError):
    """Root of every error raised on purpose by provisioning/."""


class CAError(ProvisioningError):
    """The fleet CA is missing, damaged, or refuses to issue (bad id, reserved name)."""


class CSRError(ProvisioningError):
    """A certificate signing request is malformed, badly signed or asks for the wrong thing."""


class EnrollmentRefused(ProvisioningError):
    """A claim token or renewal was refused; ``reason`` is a stable machine-readable word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BundleSignatureError(ProvisioningError):
    """A config bundle is unsigned, signed by another key, or altered after signing."""


class RotationError(ProvisioningError):
    """A certificate rotation could not complete; the previous identity is still in place."""


class BrokerConfigError(ProvisioningError):
    """The broker configuration cannot be generated from what the CA directory holds."""


class ReleaseBundleError(ProvisioningError):
    """A release bundle is unsigned, signed by a key not trusted for releases, altered, or
    holds a file its manifest does not list (or lacks one it does)."""
