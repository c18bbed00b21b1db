"""Certificate revocation lists: the stolen kiosk's certificate stops working at the broker.

The CRL is signed by the intermediate, which issues every leaf (devices, broker, hub), because
Mosquitto asks OpenSSL to check the leaf's CRL only (``X509_V_FLAG_CRL_CHECK``). A CRL past its
next-update date makes OpenSSL refuse *every* client, so it is regenerated well before that
(``govedge provision revoke`` and ``broker-config`` both rewrite it) — see docs/security.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from provisioning.errors import CAError
from provisioning.keys import SigningKey, hash_for

REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "certificate_hold": x509.ReasonFlags.certificate_hold,
}
"""Revocation reasons the CLI accepts (RFC 5280 names in snake case)."""

DEFAULT_CRL_DAYS = 30


@dataclass(frozen=True, slots=True)
class Revocation:
    """One entry of the CRL."""

    serial: int
    revoked_at: datetime
    reason: str = "unspecified"


def check_reason(reason: str) -> str:
    """``reason`` if it is a known revocation reason; CAError otherwise."""
    if reason not in REASONS:
        raise CAError(f"unknown revocation reason {reason!r}: one of {', '.join(REASONS)}")
    return reason


def build_crl(
    issuer: x509.Certificate,
    issuer_key: SigningKey,
    revocations: Iterable[Revocation],
    *,
    now: datetime | None = None,
    next_update_days: int = DEFAULT_CRL_DAYS,
    number: int | None = None,
) -> x509.CertificateRevocationList:
    """A CRL signed by ``issuer`` listing ``revocations`` (an empty list is a valid CRL)."""
    moment = now or datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(moment - timedelta(minutes=5))
        .next_update(moment + timedelta(days=next_update_days))
        .add_extension(
            x509.CRLNumber(number if number is not None else int(moment.timestamp())),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    for entry in revocations:
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
        )
        if entry.reason != "unspecified":
            revoked = revoked.add_extension(
                x509.CRLReason(REASONS[check_reason(entry.reason)]), critical=False
            )
        builder = builder.add_revoked_certificate(revoked.build())
    return builder.sign(issuer_key, hash_for(issuer_key))


def crl_pem(crl: x509.CertificateRevocationList) -> bytes:
    """The revocation list in PEM."""
    return crl.public_bytes(serialization.Encoding.PEM)


def revoked_serials(pem: bytes) -> set[int]:
    """Serials listed in a PEM CRL (for checks and the operator's listing)."""
    crl = x509.load_pem_x509_crl(pem)
    return {entry.serial_number for entry in crl}
