"""The CA's record of every certificate it issued, and of revocations (SQLite, stdlib).

The index answers "which certificates carry this device id", "is this serial revoked" and
"what goes into the CRL". One file in the CA directory; safe for the CLI and the hub to share
(SQLite serialises writers).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from provisioning.device.identity import serial_hex as serial_hex

SCHEMA = """
CREATE TABLE IF NOT EXISTS certificates (
    serial TEXT PRIMARY KEY,
    common_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    model TEXT,
    site TEXT,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    revoked_at TEXT,
    revocation_reason TEXT,
    pem TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS certificates_cn ON certificates(common_name);
"""


def parse_serial(text: str) -> int:
    """Accept ``0x1f``, ``1F`` or OpenSSL's ``1f:a0:..`` form."""
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "")
    try:
        value = int(cleaned, 16)
    except ValueError as exc:
        from provisioning.errors import CAError

        raise CAError(f"serial {text!r} is not hexadecimal") from exc
    return value


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """One issued certificate as the index knows it."""

    serial: str
    common_name: str
    kind: str
    model: str | None
    site: str | None
    not_before: datetime
    not_after: datetime
    issued_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None
    pem: str

    @property
    def revoked(self) -> bool:
        """Whether the certificate was revoked (its revocation date is set)."""
        return self.revoked_at is not None

    def active(self, now: datetime | None = None) -> bool:
        """Not revoked and within its validity at ``now``."""
        moment = now or datetime.now(UTC)
        return not self.revoked and self.not_before <= moment < self.not_after


def _record(row: sqlite3.Row) -> CertificateRecord:
    def when(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return CertificateRecord(
        serial=row["serial"],
        common_name=row["common_name"],
        kind=row["kind"],
        model=row["model"],
        site=row["site"],
        not_before=datetime.fromisoformat(row["not_before"]),
        not_after=datetime.fromisoformat(row["not_after"]),
        issued_at=datetime.fromisoformat(row["issued_at"]),
        revoked_at=when(row["revoked_at"]),
        revocation_reason=row["revocation_reason"],
        pem=row["pem"],
    )


class CertificateIndex:
    """Issued certificates and revocations, in ``<ca dir>/registry.sqlite``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10.0)) as db:
            db.row_factory = sqlite3.Row
            with db:
                yield db

    def record(
        self,
        cert: x509.Certificate,
        kind: str,
        model: str | None = None,
        site: str | None = None,
    ) -> CertificateRecord:
        """Remember a certificate just issued."""
        from cryptography.hazmat.primitives import serialization

        cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        cn = str(cns[0].value) if cns else ""
        with self._connect() as db:
            db.execute(
                "INSERT INTO certificates (serial, common_name, kind, model, site, not_before,"
                " not_after, issued_at, pem) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    serial_hex(cert.serial_number),
                    cn,
                    kind,
                    model,
                    site,
                    _iso(cert.not_valid_before_utc),
                    _iso(cert.not_valid_after_utc),
                    _iso(datetime.now(UTC)),
                    cert.public_bytes(serialization.Encoding.PEM).decode(),
                ),
            )
        found = self.get(cert.serial_number)
        assert found is not None  # noqa: S101 - narrowing: the certificate was just inserted
        return found

    def get(self, serial: int | str) -> CertificateRecord | None:
        """The record of ``serial`` (an int, or hex in any form :func:`parse_serial` reads), or
        None when this CA never issued it; CAError for a string that is not hex."""
        key = serial_hex(serial) if isinstance(serial, int) else serial_hex(parse_serial(serial))
        with self._connect() as db:
            row = db.execute("SELECT * FROM certificates WHERE serial = ?", (key,)).fetchone()
        return _record(row) if row else None

    def by_common_name(self, common_name: str) -> list[CertificateRecord]:
        """Every certificate issued to ``common_name``, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM certificates WHERE common_name = ? ORDER BY issued_at, rowid",
                (common_name,),
            ).fetchall()
        return [_record(r) for r in rows]

    def all(self) -> list[CertificateRecord]:
        """Every certificate issued, oldest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM certificates ORDER BY issued_at, rowid").fetchall()
        return [_record(r) for r in rows]

    def revoked(self) -> list[CertificateRecord]:
        """Revoked certificates in the order of revocation (what the CRL lists)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM certificates WHERE revoked_at IS NOT NULL ORDER BY revoked_at"
            ).fetchall()
        return [_record(r) for r in rows]

    def mark_revoked(self, serial: int, reason: str, when: datetime) -> bool:
        """Mark ``serial`` revoked; False if it was already revoked (the first date stands)."""
        with self._connect() as db:
            cur = db.execute(
                "UPDATE certificates SET revoked_at = ?, revocation_reason = ?"
                " WHERE serial = ? AND revoked_at IS NULL",
                (_iso(when), reason, serial_hex(serial)),
            )
            return cur.rowcount == 1
