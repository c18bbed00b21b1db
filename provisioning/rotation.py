"""Certificate expiry and rotation, the fleet's side.

* Fleet health: :func:`certificate_health` for one certificate, :func:`fleet_expiry` over
  everything the CA issued (the hub shows days left per device).
* After a rotation: :func:`superseded_by` and :class:`RevocationSchedule` revoke a device's old
  certificates once it confirmed its new one.

The device's side (:class:`~provisioning.device.rotation.Rotation`, ``rotate_identity[_async]``,
``recover``, ``confirm_rotation``) is provisioning.device.rotation.

The proof should be the agent's own reconnect: close the MQTT link, open it with the candidate
paths, return whether CONNACK said success (on False, reconnect with the old paths after the
rollback). ``provisioning.mqtt_proof.connect_proof`` is a stand-alone proof for tools and for
agents with clean sessions; it replaces the identity's live session on the broker.

Files, for an identity ``key.pem``/``cert.pem``/``ca.pem`` in one directory: the candidate is
``key.pem.new``/``cert.pem.new`` (and ``ca.pem.new`` when the chain changed). The switch renames
the certificate, then the key; ``recover`` (call it when the agent starts) completes or
undoes a switch cut short by a power loss, by matching the certificate to a key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from cryptography import x509

from govedge.logs import get_logger
from provisioning.ca import common_name
from provisioning.device.rotation import _cert, days_left
from provisioning.errors import RotationError
from provisioning.index import CertificateRecord, serial_hex
from provisioning.keys import (
    write_file,
)

log = get_logger(__name__)

DEFAULT_WARN_DAYS = 30

CertState = Literal["ok", "expiring", "expired", "not_yet_valid"]


@dataclass(frozen=True, slots=True)
class CertificateHealth:
    """What fleet health shows for one certificate."""

    common_name: str
    serial: str
    not_after: datetime
    days_left: float
    state: CertState


def _state(not_before: datetime, not_after: datetime, now: datetime, warn_days: float) -> CertState:
    if now < not_before:
        return "not_yet_valid"
    if now >= not_after:
        return "expired"
    if (not_after - now).total_seconds() / 86400.0 <= warn_days:
        return "expiring"
    return "ok"


def certificate_health(
    cert: x509.Certificate | bytes | str | Path,
    *,
    warn_days: float = DEFAULT_WARN_DAYS,
    now: datetime | None = None,
) -> CertificateHealth:
    """Days left and a state (ok / expiring within ``warn_days`` / expired) for a certificate."""
    c = _cert(cert)
    moment = now or datetime.now(UTC)
    return CertificateHealth(
        common_name=common_name(c.subject),
        serial=serial_hex(c.serial_number),
        not_after=c.not_valid_after_utc,
        days_left=days_left(c, moment),
        state=_state(c.not_valid_before_utc, c.not_valid_after_utc, moment, warn_days),
    )


def fleet_expiry(
    records: Iterable[CertificateRecord],
    *,
    warn_days: float = DEFAULT_WARN_DAYS,
    now: datetime | None = None,
) -> list[CertificateHealth]:
    """Newest unrevoked certificate of each device (``ca.index.all()``), soonest expiry first."""
    moment = now or datetime.now(UTC)
    newest: dict[str, CertificateRecord] = {}
    for record in records:
        if record.kind != "device" or record.revoked:
            continue
        seen = newest.get(record.common_name)
        if seen is None or record.not_after > seen.not_after:
            newest[record.common_name] = record
    out = [
        CertificateHealth(
            common_name=r.common_name,
            serial=r.serial,
            not_after=r.not_after,
            days_left=(r.not_after - moment).total_seconds() / 86400.0,
            state=_state(r.not_before, r.not_after, moment, warn_days),
        )
        for r in newest.values()
    ]
    return sorted(out, key=lambda h: h.days_left)


def superseded_by(records: Iterable[CertificateRecord], new: CertificateRecord) -> list[str]:
    """Serials of the device's other unrevoked certificates issued before ``new``."""
    return [
        r.serial
        for r in records
        if r.kind == "device"
        and r.common_name == new.common_name
        and not r.revoked
        and r.serial != new.serial
        and r.issued_at <= new.issued_at
    ]


class RevocationSchedule:
    """Certificates to revoke at a due time, kept in a JSON file so that a restart of the hub
    does not forget them (an old certificate left valid would fail open)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, float]:
        import json

        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise RotationError(f"revocation schedule {self.path} is unreadable: {exc}") from exc
        return {str(k): float(v) for k, v in dict(data).items()}

    def _save(self, due: dict[str, float]) -> None:
        import json

        write_file(self.path, json.dumps(due, sort_keys=True).encode(), 0o600)

    def add(self, serials: Iterable[str], due_at: float) -> None:
        """Schedule ``serials`` for revocation at ``due_at`` (epoch seconds); a serial already
        scheduled keeps the earlier time. Written to the file at once."""
        due = self._load()
        for serial in serials:
            due[serial] = min(due.get(serial, due_at), due_at)
        self._save(due)

    def due(self, now: float) -> list[str]:
        """The scheduled serials due at ``now`` (epoch seconds), sorted; they stay scheduled
        until :meth:`done`."""
        return sorted(s for s, at in self._load().items() if at <= now)

    def pending(self) -> dict[str, float]:
        """Every scheduled serial with its due time (epoch seconds)."""
        return self._load()

    def done(self, serial: str) -> None:
        """Drop ``serial`` from the schedule once it is revoked; an unknown serial is ignored."""
        due = self._load()
        if due.pop(serial, None) is not None:
            self._save(due)
