"""The fleet CA: a root, an intermediate that issues every leaf, and the issued identities.

Layout of a CA directory (``govedge provision ca init --dir DIR``)::

    root.crt            self-signed root (its key may be moved offline after init)
    root.key            0600; not needed to issue, only to make a new intermediate
    intermediate.crt    signed by the root; issues devices, the broker and the hub
    intermediate.key    0600
    chain.pem           intermediate + root: the broker's cafile, the devices' trust anchor
    bundle-signing.key  Ed25519, 0600: signs config bundles (held by the hub)
    bundle-signing.pub  its public half, shipped to every device
    crl.pem             the current CRL (written once something is revoked)
    registry.sqlite     issued certificates, revocations and claim tokens

Every leaf's common name is its identity: the device id for a device (the broker takes it as
the MQTT user name), ``hub`` (by default) for the hub. Private keys are written 0600 and never
logged; certificates and serials are logged.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from govedge.contract.topics import TopicError, check_device_id
from govedge.logs import fields, get_logger
from provisioning.crl import (
    DEFAULT_CRL_DAYS,
    Revocation,
    build_crl,
    check_reason,
    crl_pem,
)

# The device's side of an identity lives in provisioning.device; the CA re-exports its names.
from provisioning.device.identity import PASSPHRASE_ENV as PASSPHRASE_ENV
from provisioning.device.identity import IdentityPaths as IdentityPaths
from provisioning.device.identity import common_name as common_name
from provisioning.device.identity import load_certificates as load_certificates
from provisioning.device.identity import make_csr as make_csr
from provisioning.device.identity import passphrase_from_env as passphrase_from_env
from provisioning.device.identity import pem as pem
from provisioning.errors import CAError, CSRError, ProvisioningError
from provisioning.index import CertificateIndex, CertificateRecord, serial_hex
from provisioning.keys import (
    SigningKey,
    generate_key,
    hash_for,
    load_private_key,
    public_key_pem,
    write_private_key,
    write_public,
)

log = get_logger(__name__)

ROOT_CERT = "root.crt"
ROOT_KEY = "root.key"
INTERMEDIATE_CERT = "intermediate.crt"
INTERMEDIATE_KEY = "intermediate.key"
CHAIN = "chain.pem"
BUNDLE_KEY = "bundle-signing.key"
BUNDLE_PUB = "bundle-signing.pub"
CRL_FILE = "crl.pem"
SERVICES_FILE = "services.txt"
REGISTRY = "registry.sqlite"

DEFAULT_HUB_NAME = "hub"
RESERVED_NAMES = frozenset({DEFAULT_HUB_NAME})
"""Common names a device may never carry: with one, a device would get the hub's ACL rights."""

CLOCK_SKEW = timedelta(minutes=5)
"""Certificates start this much in the past so a device whose clock lags still accepts them."""

DEVICE_DAYS = 397
SERVICE_DAYS = 397
SERVER_DAYS = 397


@dataclass(frozen=True)
class IssuedIdentity:
    """A certificate just issued, with its key when the CA generated it."""

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    key: SigningKey | None = field(default=None, repr=False)

    @property
    def common_name(self) -> str:
        """The certificate's subject common name (a device id, service or host name)."""
        return common_name(self.certificate.subject)

    @property
    def serial(self) -> str:
        """The certificate's serial in the index's form (lower-case hex)."""
        return serial_hex(self.certificate.serial_number)

    def cert_pem(self) -> bytes:
        """The certificate alone, PEM."""
        return pem(self.certificate)

    def fullchain_pem(self) -> bytes:
        """Leaf then intermediate: what a TLS server presents."""
        return pem(self.certificate) + pem(self.chain[0])

    def chain_pem(self) -> bytes:
        """The issuing chain (intermediate, then root), PEM: the trust anchor to install beside
        the certificate."""
        return b"".join(pem(c) for c in self.chain)

    def write(self, paths: IdentityPaths) -> IdentityPaths:
        """Write key (0600), certificate and chain; an identity without key writes no key."""
        if self.key is not None:
            write_private_key(paths.key, self.key)
        write_public(paths.cert, self.cert_pem())
        write_public(paths.ca, self.chain_pem())
        return paths


def _name(
    cn: str, organization: str, unit: str | None = None, site: str | None = None
) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    if site:
        attrs.append(x509.NameAttribute(NameOID.LOCALITY_NAME, site))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _leaf_key_usage(public_key: object) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def check_public_key(public_key: object) -> None:
    """Refuse keys too weak or of a kind the broker's TLS stack may not take."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in ("secp256r1", "secp384r1"):
            raise CSRError(f"elliptic curve {public_key.curve.name} is not accepted (P-256/P-384)")
        return
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise CSRError(f"RSA key of {public_key.key_size} bits is too short (2048 minimum)")
        return
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return
    raise CSRError("public key type not accepted (ECDSA P-256/P-384, RSA 2048+, Ed25519)")


def load_csr(data: bytes | str) -> x509.CertificateSigningRequest:
    """Parse and check a PEM CSR: well formed, self-signature valid, acceptable key."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > 16 * 1024:
        raise CSRError("certificate signing request is larger than 16 KiB")
    try:
        csr = x509.load_pem_x509_csr(raw)
    except ValueError as exc:
        raise CSRError("certificate signing request is not a valid PEM CSR") from exc
    try:
        valid = csr.is_signature_valid
    except Exception as exc:  # unsupported algorithms raise here
        raise CSRError(f"certificate signing request signature cannot be checked: {exc}") from exc
    if not valid:
        raise CSRError("certificate signing request signature is invalid")
    check_public_key(csr.public_key())
    return csr


class FleetCA:
    """A CA directory opened for issuing. Use :meth:`init` once, then :meth:`open`."""

    def __init__(
        self,
        directory: Path,
        root: x509.Certificate,
        intermediate: x509.Certificate,
        intermediate_key: SigningKey,
        organization: str,
    ) -> None:
        self.directory = directory
        self.root = root
        self.intermediate = intermediate
        self._key = intermediate_key
        self.organization = organization
        self.index = CertificateIndex(directory / REGISTRY)

    # ---- creation and loading -------------------------------------------------------------

    @classmethod
    def init(
        cls,
        directory: str | Path,
        *,
        organization: str = "govedge fleet",
        key_type: str = "ec-p256",
        root_days: int = 7300,
        intermediate_days: int = 3650,
        root: tuple[x509.Certificate, SigningKey | None] | None = None,
        intermediate: tuple[x509.Certificate, SigningKey] | None = None,
        passphrase: bytes | None = None,
        force: bool = False,
    ) -> FleetCA:
        """Create a CA directory, generating or importing the root and the intermediate.

        ``root`` imports an existing root (its key may be None when an ``intermediate`` is
        imported too: the root key then never touches this machine).
        """
        where = Path(directory)
        if (where / INTERMEDIATE_CERT).exists() and not force:
            raise CAError(f"{where} already holds a CA (use --force to replace it)")
        where.mkdir(parents=True, exist_ok=True)
        os.chmod(where, 0o700)
        now = datetime.now(UTC)

        if root is None:
            root_key: SigningKey | None = generate_key(key_type)
            assert root_key is not None  # noqa: S101 - narrowing: generate_key returns a key
            root_name = _name(f"{organization} root CA", organization)
            root_cert = (
                x509.CertificateBuilder()
                .subject_name(root_name)
                .issuer_name(root_name)
                .public_key(root_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - CLOCK_SKEW)
                .not_valid_after(now + timedelta(days=root_days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                .add_extension(_ca_key_usage(), critical=True)
                .add_extension(
                    x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()),
                    critical=False,
                )
                .sign(root_key, hash_for(root_key))
            )
        else:
            root_cert, root_key = root
            _check_ca_cert(root_cert, "root")

        if intermediate is None:
            if root_key is None:
                raise CAError("importing a root without its key needs an intermediate too")
            inter_key: SigningKey = generate_key(key_type)
            inter_cert = (
                x509.CertificateBuilder()
                .subject_name(_name(f"{organization} issuing CA", organization))
                .issuer_name(root_cert.subject)
                .public_key(inter_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - CLOCK_SKEW)
                .not_valid_after(
                    min(now + timedelta(days=intermediate_days), root_cert.not_valid_after_utc)
                )
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_ca_key_usage(), critical=True)
                .add_extension(
                    x509.SubjectKeyIdentifier.from_public_key(inter_key.public_key()),
                    critical=False,
                )
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(root_cert.public_key()),  # type: ignore[arg-type]
                    critical=False,
                )
                .sign(root_key, hash_for(root_key))
            )
        else:
            inter_cert, inter_key = intermediate
            _check_ca_cert(inter_cert, "intermediate")
            try:
                inter_cert.verify_directly_issued_by(root_cert)
            except Exception as exc:  # wrong issuer or key type: one message for both
                raise CAError("the intermediate was not issued by the given root") from exc
            if inter_cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ) != inter_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ):
                raise CAError("the intermediate key does not match the intermediate certificate")

        write_public(where / ROOT_CERT, pem(root_cert))
        if root_key is not None:
            write_private_key(where / ROOT_KEY, root_key, passphrase)
        write_public(where / INTERMEDIATE_CERT, pem(inter_cert))
        write_private_key(where / INTERMEDIATE_KEY, inter_key, passphrase)
        write_public(where / CHAIN, pem(inter_cert) + pem(root_cert))
        if not (where / BUNDLE_KEY).exists() or force:
            bundle_key = ed25519.Ed25519PrivateKey.generate()
            write_private_key(where / BUNDLE_KEY, bundle_key, passphrase)
            write_public(where / BUNDLE_PUB, public_key_pem(bundle_key))
        ca = cls(where, root_cert, inter_cert, inter_key, organization)
        ca.write_crl()  # an empty CRL from the start: the broker always names one
        log.info(
            "ca_initialised",
            extra=fields(
                directory=str(where),
                root_serial=serial_hex(root_cert.serial_number),
                intermediate_serial=serial_hex(inter_cert.serial_number),
                imported=root is not None,
            ),
        )
        return ca

    @classmethod
    def open(cls, directory: str | Path, passphrase: bytes | None = None) -> FleetCA:
        """Open an existing CA directory for issuing (needs the intermediate's key only)."""
        where = Path(directory)
        if not (where / INTERMEDIATE_CERT).exists():
            raise CAError(f"{where} holds no CA: run 'govedge provision ca init --dir {where}'")
        root_cert = load_certificates((where / ROOT_CERT).read_bytes())[0]
        inter_cert = load_certificates((where / INTERMEDIATE_CERT).read_bytes())[0]
        try:
            inter_key = load_private_key(where / INTERMEDIATE_KEY, passphrase)
        except ProvisioningError as exc:
            raise CAError(str(exc)) from exc
        org_attrs = inter_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        organization = str(org_attrs[0].value) if org_attrs else "govedge fleet"
        return cls(where, root_cert, inter_cert, inter_key, organization)

    # ---- files ----------------------------------------------------------------------------

    @property
    def chain_path(self) -> Path:
        """``chain.pem``: intermediate then root, the CA file devices and brokers trust."""
        return self.directory / CHAIN

    @property
    def crl_path(self) -> Path:
        """``crl.pem``: the current revocation list, which the broker reads."""
        return self.directory / CRL_FILE

    @property
    def bundle_key_path(self) -> Path:
        """The hub's Ed25519 bundle-signing private key (configs, bundles)."""
        return self.directory / BUNDLE_KEY

    @property
    def bundle_public_path(self) -> Path:
        """The bundle-signing public key, which devices are given to check signatures."""
        return self.directory / BUNDLE_PUB

    def chain(self) -> tuple[x509.Certificate, ...]:
        """The certificates above an issued one: intermediate, then root."""
        return (self.intermediate, self.root)

    def chain_pem(self) -> bytes:
        """The contents of :attr:`chain_path`, made from the loaded certificates."""
        return pem(self.intermediate) + pem(self.root)

    # ---- issuing --------------------------------------------------------------------------

    def _validity(
        self, days: int, not_before: datetime | None, not_after: datetime | None
    ) -> tuple[datetime, datetime]:
        now = datetime.now(UTC)
        start = not_before or (now - CLOCK_SKEW)
        end = not_after or (now + timedelta(days=days))
        if end <= start:
            raise CAError("a certificate must end after it starts")
        # a leaf outliving its issuer would fail verification on the day the issuer expires
        return start, min(end, self.intermediate.not_valid_after_utc)

    def _sign(
        self,
        subject: x509.Name,
        public_key: object,
        *,
        usage: Sequence[x509.ObjectIdentifier],
        days: int,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        san: Sequence[x509.GeneralName] = (),
    ) -> x509.Certificate:
        check_public_key(public_key)
        start, end = self._validity(days, not_before, not_after)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.intermediate.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_leaf_key_usage(public_key), critical=True)
            .add_extension(x509.ExtendedKeyUsage(list(usage)), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(public_key),  # type: ignore[arg-type]
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(san)), critical=False)
        return builder.sign(self._key, hash_for(self._key))

    def check_device_name(self, device_id: str) -> str:
        """Return ``device_id`` if a device may carry it, else raise CAError."""
        try:
            check_device_id(device_id)
        except TopicError as exc:
            raise CAError(str(exc)) from exc
        if (
            device_id in RESERVED_NAMES
            or device_id in self.granted_services()
            or any(r.kind == "service" for r in self.index.by_common_name(device_id))
        ):
            raise CAError(f"{device_id!r} is a service identity's name; a device cannot use it")
        return device_id

    def sign_device_key(
        self,
        device_id: str,
        public_key: object,
        *,
        model: str | None = None,
        site: str | None = None,
        days: int = DEVICE_DAYS,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> x509.Certificate:
        """A device certificate (CN = device id, clientAuth) for ``public_key``; recorded."""
        self.check_device_name(device_id)
        cert = self._sign(
            _name(device_id, self.organization, model, site),
            public_key,
            usage=[ExtendedKeyUsageOID.CLIENT_AUTH],
            days=days,
            not_before=not_before,
            not_after=not_after,
        )
        self.index.record(cert, "device", model, site)
        log.info(
            "device_certificate_issued",
            extra=fields(
                device_id=device_id,
                serial=serial_hex(cert.serial_number),
                not_after=cert.not_valid_after_utc.isoformat(),
                model=model,
            ),
        )
        return cert

    def issue_device(
        self,
        device_id: str,
        *,
        model: str | None = None,
        site: str | None = None,
        days: int = DEVICE_DAYS,
        key_type: str = "ec-p256",
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> IssuedIdentity:
        """Generate a key and certificate for a device (factory provisioning)."""
        self.check_device_name(device_id)
        key = generate_key(key_type)
        cert = self.sign_device_key(
            device_id,
            key.public_key(),
            model=model,
            site=site,
            days=days,
            not_before=not_before,
            not_after=not_after,
        )
        return IssuedIdentity(cert, self.chain(), key)

    def sign_device_csr(
        self,
        csr: x509.CertificateSigningRequest | bytes | str,
        *,
        expected_id: str | None = None,
        model: str | None = None,
        site: str | None = None,
        days: int = DEVICE_DAYS,
    ) -> x509.Certificate:
        """Sign a device's CSR. Only the CSR's key and common name are taken from it."""
        request = csr if isinstance(csr, x509.CertificateSigningRequest) else load_csr(csr)
        cns = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if len(cns) != 1:
            raise CSRError("certificate signing request must carry exactly one common name")
        device_id = str(cns[0].value)
        if expected_id is not None and device_id != expected_id:
            raise CSRError(f"certificate signing request is for {device_id!r}, not {expected_id!r}")
        try:
            self.check_device_name(device_id)
        except CAError as exc:
            raise CSRError(str(exc)) from exc
        return self.sign_device_key(
            device_id, request.public_key(), model=model, site=site, days=days
        )

    def issue_service(
        self, name: str = DEFAULT_HUB_NAME, *, days: int = SERVICE_DAYS, key_type: str = "ec-p256"
    ) -> IssuedIdentity:
        """A client identity for a fleet service (the hub): CN ``name``, clientAuth."""
        try:
            check_device_id(name)
        except TopicError as exc:
            raise CAError(str(exc)) from exc
        if any(r.kind == "device" for r in self.index.by_common_name(name)):
            raise CAError(f"{name!r} already names a device; pick another service name")
        key = generate_key(key_type)
        cert = self._sign(
            _name(name, self.organization, "service"),
            key.public_key(),
            usage=[ExtendedKeyUsageOID.CLIENT_AUTH],
            days=days,
        )
        self.index.record(cert, "service")
        log.info(
            "service_certificate_issued",
            extra=fields(name=name, serial=serial_hex(cert.serial_number)),
        )
        return IssuedIdentity(cert, self.chain(), key)

    def issue_server(
        self,
        names: Sequence[str] = ("localhost", "127.0.0.1"),
        *,
        common_name: str = "govedge-broker",
        days: int = SERVER_DAYS,
        key_type: str = "ec-p256",
    ) -> IssuedIdentity:
        """A TLS server certificate (serverAuth) for the broker or the hub's HTTPS."""
        san: list[x509.GeneralName] = []
        for name in names:
            try:
                san.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                san.append(x509.DNSName(name))
        if not san:
            raise CAError("a server certificate needs at least one host name or address")
        key = generate_key(key_type)
        cert = self._sign(
            _name(common_name, self.organization, "server"),
            key.public_key(),
            usage=[ExtendedKeyUsageOID.SERVER_AUTH],
            days=days,
            san=san,
        )
        self.index.record(cert, "server")
        log.info(
            "server_certificate_issued",
            extra=fields(names=list(names), serial=serial_hex(cert.serial_number)),
        )
        return IssuedIdentity(cert, self.chain(), key)

    # ---- looking up, revoking -------------------------------------------------------------

    def active_certificates(self, common_name: str) -> list[CertificateRecord]:
        """Certificates issued to ``common_name`` that are valid now and not revoked (more than
        one while a rotation overlaps), oldest first."""
        now = datetime.now(UTC)
        return [r for r in self.index.by_common_name(common_name) if r.active(now)]

    def revoke(self, serial: int, reason: str = "unspecified") -> CertificateRecord:
        """Revoke one certificate and rewrite ``crl.pem``."""
        check_reason(reason)
        record = self.index.get(serial)
        if record is None:
            raise CAError(f"no certificate with serial {serial_hex(serial)} was issued by this CA")
        if self.index.mark_revoked(serial, reason, datetime.now(UTC)):
            log.warning(
                "certificate_revoked",
                extra=fields(serial=record.serial, common_name=record.common_name, reason=reason),
            )
        self.write_crl()
        found = self.index.get(serial)
        assert found is not None  # noqa: S101 - narrowing: the serial was just written to the index
        return found

    def revoke_identity(self, name: str, reason: str = "unspecified") -> list[CertificateRecord]:
        """Revoke every unrevoked certificate carrying common name ``name``."""
        records = [r for r in self.index.by_common_name(name) if not r.revoked]
        if not records:
            raise CAError(f"no unrevoked certificate carries the name {name!r}")
        return [self.revoke(int(r.serial, 16), reason) for r in records]

    def crl(self, next_update_days: int = DEFAULT_CRL_DAYS) -> x509.CertificateRevocationList:
        """A CRL of every revocation in the index, signed by the intermediate, valid for
        ``next_update_days``; :meth:`write_crl` writes it."""
        entries = [
            Revocation(int(r.serial, 16), r.revoked_at, r.revocation_reason or "unspecified")
            for r in self.index.revoked()
            if r.revoked_at is not None
        ]
        return build_crl(self.intermediate, self._key, entries, next_update_days=next_update_days)

    def write_crl(self, next_update_days: int = DEFAULT_CRL_DAYS) -> Path:
        """Write the current CRL to ``<ca dir>/crl.pem`` and return its path."""
        return write_public(self.crl_path, crl_pem(self.crl(next_update_days)))

    def has_revocations(self) -> bool:
        """Whether this CA ever revoked a certificate."""
        return bool(self.index.revoked())

    @property
    def services_path(self) -> Path:
        """The file of the service names granted the hub's rights (one a line)."""
        return self.directory / SERVICES_FILE

    def granted_services(self) -> frozenset[str]:
        """Service names a broker configuration has granted the hub's rights to."""
        try:
            text = self.services_path.read_text()
        except FileNotFoundError:
            return frozenset()
        return frozenset(line.strip() for line in text.splitlines() if line.strip())

    def grant_services(self, names: Sequence[str]) -> None:
        """Record ``names`` as service identities before a broker grants them the hub's rights.

        A name that a device certificate carries is refused, and a recorded name can never be
        issued to a device later: device ids and service identities never overlap.
        """
        for name in names:
            try:
                check_device_id(name)
            except TopicError as exc:
                raise CAError(f"service {name!r}: {exc}") from exc
            if any(r.kind == "device" for r in self.index.by_common_name(name)):
                raise CAError(
                    f"{name!r} is a device's id: a service identity with that name would give "
                    "the device the hub's rights; pick another service name"
                )
        names = sorted(self.granted_services() | set(names))
        write_public(self.services_path, ("\n".join(names) + "\n").encode())

    def verify_issued(self, cert: x509.Certificate) -> None:
        """Raise CAError unless ``cert`` was signed by this CA's intermediate."""
        try:
            cert.verify_directly_issued_by(self.intermediate)
        except Exception as exc:
            raise CAError("certificate was not issued by this fleet CA") from exc


def _check_ca_cert(cert: x509.Certificate, what: str) -> None:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound as exc:
        raise CAError(f"the {what} certificate has no basic constraints") from exc
    if not constraints.ca:
        raise CAError(f"the {what} certificate is not a CA certificate")
