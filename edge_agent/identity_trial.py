"""Identity trials: a switch of the MQTT link to another TLS identity, kept only if the broker
accepts it (edge_agent.rotation's proof of a new certificate).

The rotation asks from its own thread (:meth:`IdentityTrials.request`, blocking); the link's
thread asks here, at each step of its connect loop, which identity to use and reports how the
connection went. The link itself knows nothing of certificates being rotated: it connects with the
settings it is given, and goes back to the previous ones when a trial is refused.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from govedge.logs import fields, get_logger

if TYPE_CHECKING:
    from edge_agent.link import LinkSettings

log = get_logger(__name__)


@dataclass(slots=True)
class Trial:
    """One switch to another TLS identity, waiting, under way or decided."""

    settings: LinkSettings
    timeout_s: float
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False
    reason: str = ""
    started: bool = False
    deadline: float = 0.0
    previous: LinkSettings | None = None


class IdentityTrials:
    """At most one trial at a time, between the asking thread and the link's thread."""

    def __init__(self) -> None:
        self.current: Trial | None = None

    # -- the asking side ---------------------------------------------------------------------

    def request(
        self,
        settings: LinkSettings,
        cert_file: str,
        key_file: str,
        ca_file: str = "",
        timeout_s: float = 10.0,
    ) -> tuple[bool, str]:
        """Ask the link (now on ``settings``) to try these files; block until it decided.

        Returns (accepted, reason). On acceptance the link stays on the new files."""
        if self.current is not None:
            return False, "another identity switch is under way"
        trial = Trial(
            dataclasses.replace(
                settings,
                tls=True,
                cert_file=cert_file,
                key_file=key_file,
                ca_file=ca_file or settings.ca_file,
            ),
            timeout_s,
        )
        self.current = trial
        if not trial.done.wait(timeout_s + 10.0):
            return False, "the link did not answer"
        return trial.ok, trial.reason

    def cancel(self, reason: str) -> None:
        """The link stops: whoever waits is told why."""
        trial = self.current
        if trial is not None:
            trial.reason = reason
            trial.done.set()

    # -- the link's side ---------------------------------------------------------------------

    @property
    def waiting(self) -> bool:
        """A trial was asked and the link has not yet begun it (end the current connection)."""
        trial = self.current
        return trial is not None and not trial.started

    def begin(self, settings: LinkSettings) -> LinkSettings:
        """The settings of the next connection: a waiting trial's, else ``settings``."""
        trial = self.current
        if trial is None or trial.started:
            return settings
        trial.started = True
        trial.previous = settings
        trial.deadline = time.monotonic() + trial.timeout_s
        log.info("mqtt_identity_trial", extra=fields(cert=trial.settings.cert_file))
        return trial.settings

    def overdue(self) -> bool:
        """A trial under way got no CONNACK in time (the caller is not connected)."""
        trial = self.current
        if trial is None or not trial.started or time.monotonic() <= trial.deadline:
            return False
        trial.reason = trial.reason or "no CONNACK before timeout"
        return True

    def refused_by(self, reason: str) -> None:
        """The broker's CONNACK refused the connection: remember why, for the trial's answer."""
        trial = self.current
        if trial is not None and trial.started:
            trial.reason = f"CONNACK: {reason}"

    def accepted(self) -> None:
        """CONNACK success: a trial under way is kept."""
        trial = self.current
        if trial is not None and trial.started:
            self.current = None
            trial.ok = True
            trial.reason = "accepted"
            trial.done.set()

    def failed(self, reason: str) -> LinkSettings | None:
        """A connection ended before CONNACK success: a trial under way is refused, and its
        previous settings (to go back to) returned; None when no trial was under way."""
        trial = self.current
        if trial is None or not trial.started or trial.done.is_set():
            return None
        assert trial.previous is not None  # noqa: S101 - narrowing: a started trial has a previous identity
        trial.ok = False
        trial.reason = trial.reason or reason
        self.current = None
        log.warning("mqtt_identity_refused", extra=fields(reason=trial.reason))
        trial.done.set()
        return trial.previous
