"""Field enrollment over a real aiohttp HTTPS server on loopback, then onto the real broker."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from govedge.broker import free_port
from provisioning.ca import IdentityPaths, make_csr
from provisioning.device.client import enroll_device, renew_certificate, request_certificate
from provisioning.enrollment import EnrollmentService, add_enrollment_routes
from provisioning.errors import EnrollmentRefused
from provisioning.keys import generate_key


@dataclass
class Hub:
    url: str
    service: EnrollmentService
    client_ssl: ssl.SSLContext


@pytest.fixture
async def hub(fleet, tmp_path: Path) -> AsyncIterator[Hub]:
    """The enrollment routes mounted on an aiohttp app served over HTTPS on loopback."""
    service = EnrollmentService(fleet.ca)
    app = web.Application()
    add_enrollment_routes(app, service)
    server = fleet.ca.issue_server(["127.0.0.1"], common_name="hub-https")
    server_paths = server.write(IdentityPaths(tmp_path / "https"))
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    (tmp_path / "fullchain.pem").write_bytes(server.fullchain_pem())
    server_ssl.load_cert_chain(str(tmp_path / "fullchain.pem"), str(server_paths.key))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_ssl).start()
    client_ssl = ssl.create_default_context(cafile=str(fleet.ca.chain_path))
    yield Hub(f"https://127.0.0.1:{port}", service, client_ssl)
    await runner.cleanup()


async def _refusal(hub: Hub, **payload: str) -> tuple[int, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{hub.url}/api/v1/enroll", json=payload, ssl=hub.client_ssl) as resp,
    ):
        return resp.status, await resp.json()


async def test_device_with_a_token_enrolls_and_then_talks_to_the_broker(
    hub: Hub, net, tmp_path: Path
) -> None:
    secret, _ = hub.service.create_token("kiosk-v2", site="hall-3")
    paths = await enroll_device(
        hub.url,
        token=secret,
        model="kiosk-v2",
        device_id="enrolled-1",
        out_dir=tmp_path / "dev",
        ssl=hub.client_ssl,
    )
    assert os.stat(paths.key).st_mode & 0o777 == 0o600
    cert = x509.load_pem_x509_certificate(paths.cert.read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "enrolled-1"
    # model and site come from the token, not from the device
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == (
        "kiosk-v2"
    )
    assert cert.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)[0].value == "hall-3"
    cert.verify_directly_issued_by(net.ca.intermediate)
    assert hub.service.counters["enrolled"] == 1
    # the new identity works on the real broker, under its own id only
    net.ids["enrolled-1"] = paths
    hub_peer = net.connected("hub")
    hub_peer.subscribe("gov/v1/#")
    device = net.connected("enrolled-1")
    assert not device.publish("gov/v1/enrolled-1/telemetry", b"hello").is_failure
    assert hub_peer.expect() == ("gov/v1/enrolled-1/telemetry", b"hello")
    assert device.publish("gov/v1/dev-a/telemetry", b"x").value == 135


async def test_a_token_is_single_use(hub: Hub, tmp_path: Path) -> None:
    secret, _ = hub.service.create_token("kiosk-v2")
    await enroll_device(
        hub.url,
        token=secret,
        model="kiosk-v2",
        device_id="once-1",
        out_dir=tmp_path / "a",
        ssl=hub.client_ssl,
    )
    with pytest.raises(EnrollmentRefused) as refused:
        await enroll_device(
            hub.url,
            token=secret,
            model="kiosk-v2",
            device_id="once-2",
            out_dir=tmp_path / "b",
            ssl=hub.client_ssl,
        )
    assert refused.value.reason == "token_used"
    assert not (tmp_path / "b").exists()  # nothing written on refusal
    assert hub.service.counters["refused_token_used"] == 1
    [stored] = [t for t in hub.service.tokens.all() if t.used_by == "once-1"]
    assert stored.used_at is not None


async def test_two_devices_racing_with_one_token_get_one_certificate(hub: Hub) -> None:
    secret, _ = hub.service.create_token("kiosk-v2")
    csrs = [make_csr(generate_key(), f"race-{i}") for i in range(2)]
    results = await asyncio.gather(
        *(
            request_certificate(
                hub.url, token=secret, model="kiosk-v2", csr_pem=c, ssl=hub.client_ssl
            )
            for c in csrs
        ),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, EnrollmentRefused)]
    assert len(refused) == 1 and refused[0].reason == "token_used"
    assert len(results) - len(refused) == 1


async def test_an_expired_token_is_refused(hub: Hub) -> None:
    secret, _ = hub.service.tokens.create(
        "kiosk-v2", ttl=timedelta(minutes=10), now=datetime.now(UTC) - timedelta(hours=1)
    )
    status, body = await _refusal(
        hub, token=secret, model="kiosk-v2", csr=make_csr(generate_key(), "late-1").decode()
    )
    assert (status, body["code"]) == (403, "token_expired")
    assert hub.service.counters["refused_token_expired"] == 1


async def test_a_token_for_another_model_is_refused(hub: Hub) -> None:
    secret, _ = hub.service.create_token("sensor-flood")
    status, body = await _refusal(
        hub, token=secret, model="kiosk-v2", csr=make_csr(generate_key(), "wrong-1").decode()
    )
    assert (status, body["code"]) == (403, "wrong_model")
    # refusing did not burn the token: the right model still enrolls with it
    result = await request_certificate(
        hub.url,
        token=secret,
        model="sensor-flood",
        csr_pem=make_csr(generate_key(), "flood-1"),
        ssl=hub.client_ssl,
    )
    assert result.device_id == "flood-1"


async def test_site_and_device_bound_tokens(hub: Hub) -> None:
    secret, _ = hub.service.create_token("kiosk-v2", site="hall-1", device_id="bound-1")
    csr = make_csr(generate_key(), "bound-2").decode()
    status, body = await _refusal(hub, token=secret, model="kiosk-v2", csr=csr, site="hall-9")
    assert body["code"] == "wrong_site"
    status, body = await _refusal(hub, token=secret, model="kiosk-v2", csr=csr)
    assert (status, body["code"]) == (403, "wrong_device")


async def test_unknown_token_is_refused(hub: Hub) -> None:
    status, body = await _refusal(
        hub, token="gvt_not-a-token", model="kiosk-v2", csr=make_csr(generate_key(), "u").decode()
    )
    assert (status, body["code"]) == (403, "unknown_token")


def _tampered_csr() -> str:
    pem = make_csr(generate_key(), "tamper-1")
    der = bytearray(x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER))
    der[der.index(b"tamper-1")] ^= 0x01  # change the subject after signing
    return x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()


def _weak_csr() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - a key too weak on purpose, which enrollment must refuse
    return make_csr(key, "weak-1").decode()


@pytest.mark.parametrize(
    "csr",
    [
        "not a csr",
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        "tampered",
        "weak",
        "reserved",
        "bad-id",
    ],
)
async def test_a_bad_csr_is_refused_and_the_token_survives(hub: Hub, csr: str) -> None:
    secret, _ = hub.service.create_token("kiosk-v2")
    if csr == "tampered":
        csr = _tampered_csr()
    elif csr == "weak":
        csr = _weak_csr()
    elif csr == "reserved":
        csr = make_csr(generate_key(), "hub").decode()  # would get the hub's ACL rights
    elif csr == "bad-id":
        csr = make_csr(generate_key(), "gov/v1/#").decode()
    status, body = await _refusal(hub, token=secret, model="kiosk-v2", csr=csr)
    assert (status, body["code"]) == (400, "bad_csr")
    stored = hub.service.tokens.lookup(secret)
    assert stored is not None and stored.used_at is None


async def test_an_id_already_in_service_cannot_be_enrolled_again(hub: Hub) -> None:
    secret, _ = hub.service.create_token("kiosk")
    status, body = await _refusal(
        hub, token=secret, model="kiosk", csr=make_csr(generate_key(), "dev-a").decode()
    )
    assert (status, body["code"]) == (409, "device_exists")


async def test_malformed_requests_get_400(hub: Hub) -> None:
    async with aiohttp.ClientSession() as session:
        for data in (b"not json", b"[1, 2]", b'{"token": 5}', b"x" * 40_000):
            async with session.post(
                f"{hub.url}/api/v1/enroll", data=data, ssl=hub.client_ssl
            ) as resp:
                assert resp.status == 400
                assert (await resp.json())["code"] == "bad_request"


async def test_refusals_are_logged_without_the_token(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    secret, token = hub.service.create_token("kiosk-v2")
    caplog.set_level(logging.INFO, logger="provisioning")
    await request_certificate(
        hub.url,
        token=secret,
        model="kiosk-v2",
        csr_pem=make_csr(generate_key(), "logged-1"),
        ssl=hub.client_ssl,
    )
    status, _ = await _refusal(
        hub, token=secret, model="kiosk-v2", csr=make_csr(generate_key(), "logged-2").decode()
    )
    assert status == 403
    refusals = [r for r in caplog.records if r.getMessage() == "enrollment_refused"]
    assert refusals and refusals[0].govedge_fields["token_id"] == token.token_id
    assert refusals[0].govedge_fields["reason"] == "token_used"
    everything = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert secret not in everything
    assert secret[4:] not in everything


async def test_renewal_with_proof_of_the_current_key(hub: Hub, net, tmp_path: Path) -> None:
    current = net.add_device("renew-1")
    new_key = generate_key()
    result = await renew_certificate(
        hub.url, current=current, csr_pem=make_csr(new_key, "renew-1"), ssl=hub.client_ssl
    )
    cert = x509.load_pem_x509_certificate(result.certificate.encode())
    assert cert.public_key() == new_key.public_key()
    assert result.device_id == "renew-1"


async def test_renewal_refusals(hub: Hub, net, tmp_path: Path) -> None:
    # another device's CSR proven with my key: refused
    mine = net.add_device("renew-2")
    with pytest.raises(EnrollmentRefused) as refused:
        await renew_certificate(
            hub.url, current=mine, csr_pem=make_csr(generate_key(), "dev-b"), ssl=hub.client_ssl
        )
    assert refused.value.reason == "wrong_device"
    # a certificate presented without its key (proof by someone else's key): refused
    thief = IdentityPaths(tmp_path / "thief")
    thief.directory.mkdir()
    thief.cert.write_bytes(mine.cert.read_bytes())
    from provisioning.keys import write_private_key

    write_private_key(thief.key, generate_key())
    with pytest.raises(EnrollmentRefused) as refused:
        await renew_certificate(
            hub.url,
            current=thief,
            csr_pem=make_csr(generate_key(), "renew-2"),
            ssl=hub.client_ssl,
        )
    assert refused.value.reason == "bad_proof"
    # a revoked certificate cannot renew itself
    revoked = net.add_device("renew-3")
    net.ca.revoke_identity("renew-3")
    with pytest.raises(EnrollmentRefused) as refused:
        await renew_certificate(
            hub.url,
            current=revoked,
            csr_pem=make_csr(generate_key(), "renew-3"),
            ssl=hub.client_ssl,
        )
    assert refused.value.reason == "certificate_revoked"
    # a certificate from another CA
    from provisioning.ca import FleetCA

    rogue = FleetCA.init(tmp_path / "rogue").issue_device("renew-4")
    rogue_paths = rogue.write(IdentityPaths(tmp_path / "rogue-dev"))
    with pytest.raises(EnrollmentRefused) as refused:
        await renew_certificate(
            hub.url,
            current=rogue_paths,
            csr_pem=make_csr(generate_key(), "renew-4"),
            ssl=hub.client_ssl,
        )
    assert refused.value.reason == "unknown_certificate"


async def test_a_withdrawn_token_is_refused(hub: Hub) -> None:
    secret, token = hub.service.create_token("kiosk-v2")
    withdrawn = hub.service.tokens.revoke(token.token_id)
    assert withdrawn.used_by == "!revoked"
    status, body = await _refusal(
        hub, token=secret, model="kiosk-v2", csr=make_csr(generate_key(), "w-1").decode()
    )
    assert (status, body["code"]) == (403, "token_revoked")
    assert hub.service.counters["refused_token_revoked"] == 1
