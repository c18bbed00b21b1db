"""A device's identity on its own side: where its key, certificate and CA chain live, the CSR
it sends, and the small certificate helpers it needs. Nothing here issues a certificate: the CA
(provisioning.ca) builds on this module, never the other way round."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from provisioning.errors import CAError
from provisioning.keys import SigningKey, hash_for

PASSPHRASE_ENV = "GOVEDGE_CA_PASSPHRASE"  # noqa: S105 - the name of an environment variable, not a secret


def passphrase_from_env() -> bytes | None:
    """The CA keys' passphrase from ``GOVEDGE_CA_PASSPHRASE``, if set."""
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


def pem(cert: x509.Certificate) -> bytes:
    """The certificate in PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM file, in order; a clear error if there is none."""
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CAError(f"not a PEM certificate: {exc}") from exc
    return certs


def common_name(name: x509.Name) -> str:
    """The common name in ``name``, or "" when there is none."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


@dataclass(frozen=True, slots=True)
class IdentityPaths:
    """Where one identity's files live: key, certificate and the CA chain (trust anchor)."""

    directory: Path
    key_name: str = "key.pem"
    cert_name: str = "cert.pem"
    ca_name: str = "ca.pem"

    @property
    def key(self) -> Path:
        """The private key file (written with mode 0600)."""
        return self.directory / self.key_name

    @property
    def cert(self) -> Path:
        """The certificate file (PEM)."""
        return self.directory / self.cert_name

    @property
    def ca(self) -> Path:
        """The CA chain file: the trust anchor for the peer's certificate."""
        return self.directory / self.ca_name


def serial_hex(serial: int) -> str:
    """The form serials take in the index, the CLI and logs: lowercase hex, no prefix."""
    return f"{serial:x}"


def make_csr(key: SigningKey, device_id: str) -> bytes:
    """A PEM CSR whose subject is ``CN=device_id`` (what devices send to enroll or rotate)."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)])
    )
    csr = builder.sign(key, hash_for(key))
    return csr.public_bytes(serialization.Encoding.PEM)
