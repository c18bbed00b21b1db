"""Certificate rotation on a device: proven on the real broker before the switch, else undone."""

from __future__ import annotations

import os
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from govedge.broker import free_port
from provisioning.ca import FleetCA, IdentityPaths, load_csr
from provisioning.device.client import proof_signature, renew_certificate
from provisioning.device.rotation import (
    Rotation,
    days_left,
    recover,
    rotate_identity,
    rotate_identity_async,
)
from provisioning.enrollment import EnrollmentService, add_enrollment_routes
from provisioning.errors import EnrollmentRefused, RotationError
from provisioning.keys import load_private_key
from provisioning.mqtt_proof import connect_proof, try_connect
from provisioning.rotation import certificate_health, fleet_expiry


def _files(paths: IdentityPaths) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(paths.directory.iterdir())}


def _renew_via(service: EnrollmentService, paths: IdentityPaths):
    """The device's obtain step, calling the hub's renewal with proof of the current key."""

    def obtain(csr: bytes) -> tuple[bytes, bytes]:
        proof = proof_signature(load_private_key(paths.key), csr)
        result = service.renew(csr, paths.cert.read_bytes(), proof)
        return result.certificate.encode(), result.chain.encode()

    return obtain


def test_rotation_switches_after_the_broker_accepts_the_new_certificate(net) -> None:
    paths = net.add_device("rot-ok")
    old = _files(paths)
    result = rotate_identity(
        paths, _renew_via(EnrollmentService(net.ca), paths), connect_proof(net.host, net.port)
    )
    assert result.ok and result.device_id == "rot-ok"
    assert result.new_serial and result.new_serial != result.old_serial
    assert certificate_health(paths.cert).serial == result.new_serial
    assert paths.key.read_bytes() != old["key.pem"]
    assert os.stat(paths.key).st_mode & 0o777 == 0o600
    # the previous identity is kept beside the new one, still 0600
    previous = IdentityPaths(paths.directory, "key.pem.old", "cert.pem.old", "ca.pem.old")
    assert previous.key.read_bytes() == old["key.pem"]
    assert previous.cert.read_bytes() == old["cert.pem"]
    assert os.stat(previous.key).st_mode & 0o777 == 0o600
    assert not any(p.name.endswith(".new") for p in paths.directory.iterdir())
    assert try_connect(net.host, net.port, paths).ok
    assert recover(paths) == "ok"


def test_rotation_rolls_back_when_the_broker_refuses_the_new_certificate(
    net, tmp_path: Path
) -> None:
    """The "new" certificate comes from a CA the broker does not trust: the proof fails."""
    paths = net.add_device("rot-back")
    before = _files(paths)
    rogue = FleetCA.init(tmp_path / "rogue")
    proofs: list[bool] = []

    def obtain(csr: bytes) -> bytes:
        from provisioning.ca import pem

        return pem(rogue.sign_device_csr(csr))

    def prove(candidate: IdentityPaths) -> bool:
        assert candidate.key.name == "key.pem.new" and candidate.cert.exists()
        proofs.append(try_connect(net.host, net.port, candidate).ok)
        return proofs[-1]

    result = rotate_identity(paths, obtain, prove)
    assert proofs == [False]
    assert not result.ok and result.reason == "broker refused the new certificate"
    assert _files(paths) == before  # byte for byte, no candidate left behind
    assert try_connect(net.host, net.port, paths).ok  # the old identity still works


def test_rotation_keeps_the_old_identity_when_the_hub_refuses(net) -> None:
    paths = net.add_device("rot-refused")
    before = _files(paths)

    def obtain(csr: bytes) -> bytes:
        raise EnrollmentRefused("certificate_revoked", "current certificate is revoked")

    result = rotate_identity(paths, obtain, lambda _p: True)
    assert not result.ok and "revoked" in result.reason
    assert _files(paths) == before


def test_rotation_refuses_a_certificate_for_another_key(net) -> None:
    paths = net.add_device("rot-wrongkey")
    before = _files(paths)
    other = net.ca.issue_device("rot-wrongkey-2")
    result = rotate_identity(paths, lambda _csr: other.cert_pem(), lambda _p: True)
    assert not result.ok and "not for the new key" in result.reason
    assert _files(paths) == before


def test_rotation_interrupted_during_the_proof_is_undone(net) -> None:
    paths = net.add_device("rot-interrupt")
    before = _files(paths)

    def prove(_p: IdentityPaths) -> bool:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotate_identity(paths, _renew_via(EnrollmentService(net.ca), paths), prove)
    assert _files(paths) == before


async def test_async_rotation_over_https_and_mqtt(net, tmp_path: Path) -> None:
    """What the agent does on a 'rotate' command: renew over HTTPS, prove over MQTT/TLS."""
    service = EnrollmentService(net.ca)
    app = web.Application()
    add_enrollment_routes(app, service)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        paths = net.add_device("rot-async")
        prove = connect_proof(net.host, net.port)

        async def obtain(csr: bytes) -> tuple[bytes, bytes]:
            result = await renew_certificate(f"http://127.0.0.1:{port}", current=paths, csr_pem=csr)
            return result.certificate.encode(), result.chain.encode()

        async def aprove(candidate: IdentityPaths) -> bool:
            import asyncio

            return await asyncio.to_thread(prove, candidate)

        result = await rotate_identity_async(paths, obtain, aprove)
    finally:
        await runner.cleanup()
    assert result.ok
    assert service.counters["renewed"] == 1
    assert try_connect(net.host, net.port, paths).ok


def test_recover_completes_a_switch_cut_short(net) -> None:
    paths = net.add_device("rot-crash")
    rotation = Rotation(paths)
    csr = rotation.begin()
    cert = net.ca.sign_device_csr(load_csr(csr))
    from provisioning.ca import pem

    candidate = rotation.install(pem(cert))
    # power lost after the certificate was switched but before the key was
    os.replace(candidate.cert, paths.cert)
    assert recover(paths) == "completed"
    assert try_connect(net.host, net.port, paths).ok
    assert not candidate.key.exists()


def test_recover_removes_an_unfinished_candidate(net) -> None:
    paths = net.add_device("rot-leftover")
    before = _files(paths)
    Rotation(paths).begin()  # crashed while waiting for the hub
    assert recover(paths) == "ok"
    assert _files(paths) == before


def test_recover_refuses_an_identity_whose_certificate_fits_no_key(
    fresh_ca: FleetCA, tmp_path: Path
) -> None:
    paths = fresh_ca.issue_device("orphan").write(IdentityPaths(tmp_path / "orphan"))
    paths.cert.write_bytes(fresh_ca.issue_device("orphan-2").cert_pem())
    with pytest.raises(RotationError):
        recover(paths)


def test_rotation_needs_a_current_certificate(tmp_path: Path) -> None:
    with pytest.raises(RotationError):
        Rotation(IdentityPaths(tmp_path))


def test_days_left_and_states(fresh_ca: FleetCA) -> None:
    now = datetime.now(UTC)
    soon = fresh_ca.issue_device("soon", not_after=now + timedelta(days=10))
    later = fresh_ca.issue_device("later", days=200)
    gone = fresh_ca.issue_device(
        "gone", not_before=now - timedelta(days=20), not_after=now - timedelta(days=2)
    )
    assert 9.9 < days_left(soon.certificate, now) <= 10.0
    assert days_left(gone.cert_pem(), now) < -1.9
    assert certificate_health(soon.certificate, now=now).state == "expiring"
    assert certificate_health(later.certificate, now=now).state == "ok"
    assert certificate_health(gone.certificate, now=now).state == "expired"
    fresh_ca.revoke_identity("later")
    report = fleet_expiry(fresh_ca.index.all(), now=now)
    assert [(h.common_name, h.state) for h in report] == [("gone", "expired"), ("soon", "expiring")]


def test_renewed_device_shows_its_newest_certificate(fresh_ca: FleetCA) -> None:
    first = fresh_ca.issue_device("twice", days=5)
    second = fresh_ca.issue_device("twice", days=300)
    [health] = fleet_expiry(fresh_ca.index.all())
    assert health.serial == second.serial != first.serial
    assert health.state == "ok"


def test_tls_context_loads_identity(fresh_ca: FleetCA, tmp_path: Path) -> None:
    from provisioning.mqtt_proof import tls_context

    paths = fresh_ca.issue_device("ctx").write(IdentityPaths(tmp_path))
    context = tls_context(paths)
    assert context.verify_mode == ssl.CERT_REQUIRED
