"""The kiosk app's exception hierarchy.

Nothing here ever reaches a citizen as text: the flow turns each error into a plain-words
message key and a way back. The messages are for the log (never with citizen data) and staff.
"""

from __future__ import annotations

from govedge.errors import GovedgeError


class KioskError(GovedgeError):
    """Base of every error the kiosk app raises on purpose."""


class DeviceError(KioskError):
    """The agent's local device API refused or failed a call.

    ``status`` is the HTTP status (0 when the agent could not be reached), ``code`` the agent's
    error code (e.g. ``NoFingerError``), ``state`` the device state it reported
    (e.g. ``paper_out``).
    """

    def __init__(self, message: str, status: int = 0, code: str = "", state: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.state = state

    @property
    def person_must_act(self) -> bool:
        """409: a person must do something (place a finger, load paper) or the device is busy."""
        return self.status == 409


class BackendError(KioskError):
    """The hub's services API failed a call."""


class BackendUnavailable(BackendError):
    """The hub is down, slow past the configured timeout, or answered with a server error."""


class BackendNotFound(BackendError):
    """The hub does not know the thing asked for (an application number, an errand)."""


class BackendRefused(BackendError):
    """The hub refused the request (400/401/403/409): the message says why."""
