"""Errors of the smart-card simulator and of the private PC/SC stack it runs against."""

from __future__ import annotations

from govedge.errors import GovedgeError


class SmartcardSimError(GovedgeError):
    """Root of the simulator's errors."""


class VpcdFrameError(SmartcardSimError):
    """A vpcd message cannot be framed (longer than the 2-byte length allows)."""


class PcscStackError(SmartcardSimError):
    """The private pcscd could not be started or did not become ready."""
