"""After a rotation the old certificate is revoked by the hub once the device proved its new
identity, after the hub's grace period; a confirmation not signed by the new key is refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from hub.enrollment import SUPERSEDED_REVOKER
from provisioning.ca import load_certificates
from provisioning.device.client import proof_signature
from provisioning.device.rotation import CONFIRM_PATH, confirm_message
from provisioning.index import serial_hex
from provisioning.keys import load_private_key
from tests.integration.test_identity_lifecycle import command, registered, serial_of

Stack = Any
GRACE_S = 2.0


async def test_old_certificate_revoked_after_the_grace_once_the_new_one_is_proven(
    stack: Stack,
) -> None:
    stack.hub.config = msgspec.structs.replace(stack.hub.config, rotation_revoke_grace_s=GRACE_S)
    identity = await stack.enroll("kiosk-031")
    config = stack.device_config("kiosk-031", identity)
    await stack.start_agent(config)
    await stack.until(lambda: registered(stack, "kiosk-031"))
    old = serial_of(identity.cert)
    ordered_at = datetime.now(UTC)

    row = await command(stack, "kiosk-031", "rotate_certificate")
    assert row["state"] == "acknowledged", row
    assert row["result"]["confirmed"] is True
    new = row["result"]["serial"]

    def revoked(serial: str) -> bool:
        record = stack.ca.index.get(int(serial, 16))
        return record is not None and record.revoked

    async def old_revoked() -> bool:
        return revoked(old)

    await stack.until(old_revoked, 30.0)
    record = stack.ca.index.get(int(old, 16))
    assert record is not None and record.revocation_reason == "superseded"
    assert record.revoked_at is not None
    assert (record.revoked_at - ordered_at).total_seconds() >= GRACE_S  # not before the grace
    assert not revoked(new)
    assert int(old, 16) in {r.serial_number for r in stack.ca.crl()}
    # the device goes on with its new identity
    assert (await command(stack, "kiosk-031", "ping"))["state"] == "acknowledged"


async def test_a_confirmation_not_signed_by_the_new_key_is_refused(stack: Stack) -> None:
    identity = await stack.enroll("kiosk-032")
    cert = load_certificates(identity.cert.read_bytes())[0]
    serial = serial_hex(cert.serial_number)
    other = await stack.enroll("kiosk-033")
    forged = proof_signature(load_private_key(other.key), confirm_message(serial))
    async with stack.session.post(
        stack.url + CONFIRM_PATH,
        json={"certificate": identity.cert.read_text(), "proof": forged},
        ssl=stack.client_tls,
    ) as resp:
        assert resp.status == 403
        assert (await resp.json())["code"] == "bad_proof"
    async with stack.session.post(
        stack.url + CONFIRM_PATH, json={"certificate": 3}, ssl=stack.client_tls
    ) as resp:
        assert resp.status == 400
    assert stack.hub.extensions[SUPERSEDED_REVOKER].schedule.pending() == {}
    started = time.time()
    assert stack.hub.extensions[SUPERSEDED_REVOKER].sweep(started + 10) == []
