"""The fleet CA: certificate profiles, key files, import, passphrases and the CRL."""

from __future__ import annotations

import logging
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioning.ca import (
    FleetCA,
    IdentityPaths,
    load_csr,
    make_csr,
)
from provisioning.crl import revoked_serials
from provisioning.errors import CAError, CSRError, ProvisioningError
from provisioning.index import parse_serial
from provisioning.keys import generate_key, load_private_key, write_private_key

PRIVATE_FILES = ("root.key", "intermediate.key", "bundle-signing.key")


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_device_certificate_profile(fresh_ca: FleetCA) -> None:
    issued = fresh_ca.issue_device("kiosk-042", model="kiosk-v2", site="hall-7", days=90)
    cert = issued.certificate
    assert _cn(cert) == "kiosk-042"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == (
        "kiosk-v2"
    )
    assert cert.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)[0].value == "hall-7"
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    ext = cert.extensions
    assert ext.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = ext.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert list(ext.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    ext.get_extension_for_class(x509.AuthorityKeyIdentifier)
    ext.get_extension_for_class(x509.SubjectKeyIdentifier)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert timedelta(days=90) <= lifetime <= timedelta(days=90, minutes=6)
    assert cert.not_valid_before_utc < datetime.now(UTC)  # tolerates a lagging device clock
    assert cert.serial_number > 0 and cert.serial_number.bit_length() <= 159
    cert.verify_directly_issued_by(fresh_ca.intermediate)
    fresh_ca.intermediate.verify_directly_issued_by(fresh_ca.root)
    assert issued.chain == (fresh_ca.intermediate, fresh_ca.root)
    assert fresh_ca.index.get(cert.serial_number).common_name == "kiosk-042"


def test_serials_are_unique(fresh_ca: FleetCA) -> None:
    serials = {fresh_ca.issue_device(f"d{i}").certificate.serial_number for i in range(20)}
    assert len(serials) == 20


def test_server_and_hub_profiles(fresh_ca: FleetCA) -> None:
    server = fresh_ca.issue_server(["localhost", "127.0.0.1", "broker.city.example"]).certificate
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "broker.city.example"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    hub = fresh_ca.issue_service("hub").certificate
    assert _cn(hub) == "hub"
    eku = hub.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_device_may_not_take_a_service_name_nor_a_bad_id(fresh_ca: FleetCA) -> None:
    with pytest.raises(CAError, match="service"):
        fresh_ca.issue_device("hub")
    fresh_ca.issue_service("hub-east")
    with pytest.raises(CAError, match="service"):
        fresh_ca.issue_device("hub-east")
    fresh_ca.issue_device("kiosk-1")
    with pytest.raises(CAError, match="names a device"):
        fresh_ca.issue_service("kiosk-1")
    for bad in ("", "a/b", "+", "#", "x" * 65, "with space"):
        with pytest.raises(CAError):
            fresh_ca.issue_device(bad)


def test_leaf_never_outlives_the_intermediate(tmp_path: Path) -> None:
    ca = FleetCA.init(tmp_path / "ca", intermediate_days=30)
    cert = ca.issue_device("long", days=3650).certificate
    assert cert.not_valid_after_utc == ca.intermediate.not_valid_after_utc


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_private_keys_are_0600_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        ca = FleetCA.init(tmp_path / "ca")
        paths = ca.issue_device("perm-1").write(IdentityPaths(tmp_path / "dev"))
    finally:
        os.umask(old)
    for name in PRIVATE_FILES:
        assert stat.S_IMODE(os.stat(tmp_path / "ca" / name).st_mode) == 0o600, name
    assert stat.S_IMODE(os.stat(paths.key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "ca").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(paths.cert).st_mode) == 0o644
    assert not [p for p in (tmp_path / "dev").iterdir() if p.name.endswith(".tmp")]


def test_rewriting_a_world_readable_key_file_makes_it_0600(tmp_path: Path) -> None:
    target = tmp_path / "key.pem"
    target.write_text("old")
    os.chmod(target, 0o666)  # noqa: S103 - the test makes the key world-readable on purpose
    write_private_key(target, generate_key())
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    load_private_key(target)


def test_private_keys_never_reach_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ca = FleetCA.init(tmp_path / "ca")
    issued = ca.issue_device("quiet-1")
    ca.issue_service()
    ca.revoke(issued.certificate.serial_number)
    text = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "device_certificate_issued" in text and issued.serial in text
    assert "PRIVATE KEY" not in text
    for name in PRIVATE_FILES:
        body = (tmp_path / "ca" / name).read_text().splitlines()[1]
        assert body not in text


def test_import_a_root_and_make_an_intermediate(tmp_path: Path) -> None:
    offline = FleetCA.init(tmp_path / "offline")
    root_key = load_private_key(tmp_path / "offline" / "root.key")
    ca = FleetCA.init(tmp_path / "ca", root=(offline.root, root_key))
    assert ca.root == offline.root and ca.intermediate != offline.intermediate
    ca.intermediate.verify_directly_issued_by(offline.root)
    ca.issue_device("imp-1").certificate.verify_directly_issued_by(ca.intermediate)


def test_import_root_and_intermediate_without_the_root_key(tmp_path: Path) -> None:
    offline = FleetCA.init(tmp_path / "offline")
    inter_key = load_private_key(tmp_path / "offline" / "intermediate.key")
    ca = FleetCA.init(
        tmp_path / "ca", root=(offline.root, None), intermediate=(offline.intermediate, inter_key)
    )
    assert not (tmp_path / "ca" / "root.key").exists()
    reopened = FleetCA.open(tmp_path / "ca")
    reopened.issue_device("imp-2").certificate.verify_directly_issued_by(offline.intermediate)
    assert ca.chain_pem() == offline.chain_pem()


def test_import_refusals(tmp_path: Path) -> None:
    first = FleetCA.init(tmp_path / "a")
    other = FleetCA.init(tmp_path / "b")
    a_root_key = load_private_key(tmp_path / "a" / "root.key")
    b_inter_key = load_private_key(tmp_path / "b" / "intermediate.key")
    with pytest.raises(CAError, match="not issued by"):
        FleetCA.init(
            tmp_path / "c", root=(first.root, None), intermediate=(other.intermediate, b_inter_key)
        )
    with pytest.raises(CAError, match="does not match"):
        FleetCA.init(
            tmp_path / "d", root=(first.root, None), intermediate=(first.intermediate, b_inter_key)
        )
    leaf = first.issue_device("leaf").certificate
    with pytest.raises(CAError, match="not a CA"):
        FleetCA.init(tmp_path / "e", root=(leaf, a_root_key))
    with pytest.raises(CAError, match="needs an intermediate"):
        FleetCA.init(tmp_path / "f", root=(first.root, None))


def test_init_refuses_to_overwrite_and_open_needs_a_ca(tmp_path: Path) -> None:
    FleetCA.init(tmp_path / "ca")
    with pytest.raises(CAError, match="already holds"):
        FleetCA.init(tmp_path / "ca")
    FleetCA.init(tmp_path / "ca", force=True)
    with pytest.raises(CAError, match="holds no CA"):
        FleetCA.open(tmp_path / "nothing")


def test_passphrase_protected_ca_keys(tmp_path: Path) -> None:
    FleetCA.init(tmp_path / "ca", passphrase=b"correct horse")
    assert b"ENCRYPTED" in (tmp_path / "ca" / "intermediate.key").read_bytes()
    with pytest.raises(CAError, match="GOVEDGE_CA_PASSPHRASE"):
        FleetCA.open(tmp_path / "ca")
    with pytest.raises(CAError):
        FleetCA.open(tmp_path / "ca", b"wrong")
    FleetCA.open(tmp_path / "ca", b"correct horse").issue_device("enc-1")


def test_csr_checks(fresh_ca: FleetCA) -> None:
    key = generate_key()
    csr = make_csr(key, "csr-1")
    assert load_csr(csr).subject.rfc4514_string() == "CN=csr-1"
    cert = fresh_ca.sign_device_csr(csr, expected_id="csr-1", model="m", site="s")
    assert cert.public_key() == key.public_key()
    with pytest.raises(CSRError, match="not 'csr-2'"):
        fresh_ca.sign_device_csr(make_csr(generate_key(), "csr-1"), expected_id="csr-2")
    with pytest.raises(CSRError, match="16 KiB"):
        load_csr(b"A" * 20_000)
    with pytest.raises(CSRError):
        load_csr(b"garbage")
    with pytest.raises(CSRError, match="curve"):
        load_csr(make_csr(ec.generate_private_key(ec.SECP256K1()), "k1"))


def test_revocation_and_crl(fresh_ca: FleetCA) -> None:
    assert not fresh_ca.has_revocations()
    first = fresh_ca.issue_device("lost-1")
    second = fresh_ca.issue_device("lost-1")
    keep = fresh_ca.issue_device("kept-1")
    records = fresh_ca.revoke_identity("lost-1", "key_compromise")
    assert {r.serial for r in records} == {first.serial, second.serial}
    pem = fresh_ca.crl_path.read_bytes()
    assert revoked_serials(pem) == {
        first.certificate.serial_number,
        second.certificate.serial_number,
    }
    crl = x509.load_pem_x509_crl(pem)
    assert crl.is_signature_valid(fresh_ca.intermediate.public_key())
    assert crl.issuer == fresh_ca.intermediate.subject
    assert timedelta(days=29) < crl.next_update_utc - datetime.now(UTC) <= timedelta(days=30)
    entry = crl.get_revoked_certificate_by_serial_number(first.certificate.serial_number)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    assert crl.get_revoked_certificate_by_serial_number(keep.certificate.serial_number) is None
    # revoking again keeps the first date; unknown serials and reasons are refused
    when = fresh_ca.index.get(first.serial).revoked_at
    assert fresh_ca.revoke(first.certificate.serial_number).revoked_at == when
    with pytest.raises(CAError, match="no certificate"):
        fresh_ca.revoke(12345)
    with pytest.raises(CAError, match="reason"):
        fresh_ca.revoke(keep.certificate.serial_number, "bored")
    with pytest.raises(CAError, match="no unrevoked"):
        fresh_ca.revoke_identity("lost-1")
    assert fresh_ca.active_certificates("lost-1") == []
    assert len(fresh_ca.active_certificates("kept-1")) == 1


def test_serial_forms() -> None:
    assert parse_serial("0x1F") == parse_serial("1f") == parse_serial("1F") == 31
    assert parse_serial("01:a0") == 0x1A0
    with pytest.raises(CAError):
        parse_serial("xyz")


def test_unknown_key_type() -> None:
    with pytest.raises(ProvisioningError, match="unknown key type"):
        generate_key("dsa")
