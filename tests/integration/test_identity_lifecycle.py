"""A device's identity from enrollment to rotation, through the real hub, broker and agent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge_agent.agent import Agent
from provisioning.bundles import BundleSigner
from provisioning.ca import FleetCA, load_certificates, make_csr
from provisioning.device.client import request_certificate
from provisioning.errors import EnrollmentRefused
from provisioning.index import serial_hex
from provisioning.keys import generate_key

MODEL = "kiosk-v2"  # the model the stack's claim tokens name
Stack = Any  # tests/integration/conftest.py's Stack (conftest modules are not importable)


def serial_of(path: Any) -> str:
    return serial_hex(load_certificates(path.read_bytes())[0].serial_number)


@pytest.fixture
def modbus_sim() -> Iterator[Any]:
    """A simulated SHT20 (unit 1) on a pty RS-485 bus."""
    from sim.modbus.device import SimDevice
    from sim.modbus.server import ModbusBusSimulator

    sim = ModbusBusSimulator(
        [SimDevice(1, "sht20", {"temperature": 21.5, "humidity": 40.0})]
    ).start()
    yield sim
    sim.stop()


async def registered(stack: Stack, device_id: str) -> bool:
    status, _ = await stack.call("GET", f"/api/v1/devices/{device_id}")
    return status == 200


async def command(stack: Stack, device_id: str, name: str, **args: Any) -> dict[str, Any]:
    """Order a command through the hub's API and return its row once the device answered."""
    status, body = await stack.call(
        "POST",
        "/api/v1/commands",
        json={"name": name, "args": args, "selector": {"ids": [device_id]}},
    )
    assert status == 201, body
    (command_id,) = body["commands"]

    async def answered() -> dict[str, Any] | None:
        _, row = await stack.call("GET", f"/api/v1/commands/{command_id}")
        return row if row["state"] in ("acknowledged", "failed") else None

    row: dict[str, Any] = await stack.until(answered, 40.0)
    return row


async def test_enrolled_device_reports_through_the_hub(stack: Stack, modbus_sim: Any) -> None:
    identity = await stack.enroll("kiosk-018")
    assert (identity.key.stat().st_mode & 0o777) == 0o600
    drivers = [
        {
            "name": "climate",
            "kind": "modbus",
            "url": modbus_sim.url,
            "options": {"profile": "sht20", "unit": 1},
            "poll_interval_s": 0.05,
        }
    ]
    await stack.start_agent(stack.device_config("kiosk-018", identity, drivers=drivers))

    async def latest() -> dict[str, Any] | None:
        status, body = await stack.call("GET", "/api/v1/devices/kiosk-018/telemetry/latest")
        return body["metrics"] if status == 200 and body["metrics"] else None

    metrics = await stack.until(latest)
    assert "temperature" in metrics and "humidity" in metrics

    # the claim token was single use: a second enrollment with it is refused over HTTPS
    secret, _ = stack.enrollment.create_token(MODEL, device_id="kiosk-019")
    csr = make_csr(generate_key(), "kiosk-019")
    await request_certificate(
        stack.url, token=secret, model=MODEL, csr_pem=csr, ssl=stack.client_tls
    )
    with pytest.raises(EnrollmentRefused) as refused:
        await request_certificate(
            stack.url, token=secret, model=MODEL, csr_pem=csr, ssl=stack.client_tls
        )
    assert refused.value.reason == "token_used"


async def test_agent_applies_signed_configs_and_refuses_forged_ones(stack: Stack) -> None:
    identity = await stack.enroll("kiosk-020")
    agent: Agent = await stack.start_agent(stack.device_config("kiosk-020", identity))
    await stack.until(lambda: registered(stack, "kiosk-020"))

    async def config_state() -> dict[str, Any] | None:
        _, body = await stack.call("GET", "/api/v1/devices/kiosk-020/config")
        return body if body.get("state") in ("applied", "failed") else None

    good = {"publish": {"health_interval_s": 20.0, "replay_rate_per_s": 0}}
    status, body = await stack.call(
        "PUT", "/api/v1/devices/kiosk-020/config", json={"config": good}
    )
    assert status == 202, body
    row = await stack.until(config_state)
    assert row["state"] == "applied", row
    assert agent.publish.health_interval_s == 20.0

    # a hub holding another key (or a forger on the wire) cannot configure the device
    forger = BundleSigner(ed25519.Ed25519PrivateKey.generate())
    stack.hub.device_configs.signer = forger.config_signature
    forged = {"publish": {"health_interval_s": 5.0, "replay_rate_per_s": 0}}
    status, body = await stack.call(
        "PUT", "/api/v1/devices/kiosk-020/config", json={"config": forged}
    )
    assert status == 202, body
    row = await stack.until(config_state)
    assert row["state"] == "failed" and "signature" in row["error"], row
    assert agent.publish.health_interval_s == 20.0
    assert agent.counters["configs_rejected"] == 1


async def test_hub_orders_a_rotation_and_the_agent_proves_it(stack: Stack) -> None:
    identity = await stack.enroll("kiosk-021")
    config = stack.device_config("kiosk-021", identity)
    agent = await stack.start_agent(config)
    await stack.until(lambda: registered(stack, "kiosk-021"))
    old = serial_of(identity.cert)
    connects = agent.link.counters.connects

    row = await command(stack, "kiosk-021", "rotate_certificate")
    assert row["state"] == "acknowledged", row
    result = row["result"]
    assert result["rotated"] is True and result["old_serial"] == old
    new = result["serial"]
    assert new != old and serial_of(identity.cert) == new
    assert serial_of(identity.directory / "cert.pem.old") == old
    assert not list(identity.directory.glob("*.new"))
    assert agent.link.counters.connects > connects  # the link reconnected with the candidate
    assert agent.link.settings.cert_file == str(identity.cert)

    # the fleet's health now shows the new certificate for this device
    status, body = await stack.call("GET", "/api/v1/fleet/certificates")
    assert status == 200
    (mine,) = [i for i in body["items"] if i["device_id"] == "kiosk-021"]
    assert mine["serial"] == new

    # a fresh start uses the committed files: the new identity is what the broker accepts
    await stack.stop_agents()
    again = await stack.start_agent(config)
    assert (await command(stack, "kiosk-021", "ping"))["state"] == "acknowledged"
    assert again.link.counters.connect_failures == 0


async def test_rotation_the_broker_refuses_is_rolled_back(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity = await stack.enroll("kiosk-022")
    agent = await stack.start_agent(stack.device_config("kiosk-022", identity))
    await stack.until(lambda: registered(stack, "kiosk-022"))
    old = serial_of(identity.cert)
    key_before = identity.key.read_bytes()

    # a misconfigured hub: its renew issues from a CA the broker does not trust
    rogue = FleetCA.init(stack.base / "rogue-ca")
    monkeypatch.setattr(stack.enrollment.ca, "sign_device_csr", rogue.sign_device_csr)
    row = await command(stack, "kiosk-022", "rotate_certificate")
    assert row["state"] == "failed", row
    assert f"still on certificate {old}" in row["error"]
    assert "broker refused" in row["error"]
    assert serial_of(identity.cert) == old and identity.key.read_bytes() == key_before
    assert not list(identity.directory.glob("*.new"))
    assert agent.link.settings.cert_file == str(identity.cert)

    # the old identity keeps working
    monkeypatch.undo()
    assert (await command(stack, "kiosk-022", "ping"))["state"] == "acknowledged"
    assert agent.link.connected


async def test_fleet_certificate_health(stack: Stack) -> None:
    await stack.enroll("kiosk-030")
    await stack.enroll("kiosk-031")
    status, body = await stack.call("GET", "/api/v1/fleet/certificates")
    assert status == 200, body
    items = {i["device_id"]: i for i in body["items"]}
    assert set(items) == {"kiosk-030", "kiosk-031"}  # devices only: not the hub, not the broker
    for item in items.values():
        assert 300 < item["days_left"] <= 400 and item["state"] == "ok"
    assert body["summary"]["ok"] == 2

    status, body = await stack.call("GET", "/api/v1/fleet/certificates?warn_days=400")
    assert {i["state"] for i in body["items"]} == {"expiring"}
    assert body["summary"]["expiring"] == 2

    async with stack.session.get(
        stack.url + "/api/v1/fleet/certificates", ssl=stack.client_tls
    ) as resp:
        assert resp.status == 401
    _, spec = await stack.call("GET", "/api/v1/openapi.json")
    assert "/api/v1/fleet/certificates" in spec["paths"]


async def test_rotation_needs_a_hub_to_renew_with(stack: Stack) -> None:
    identity = await stack.enroll("kiosk-023")
    agent = await stack.start_agent(stack.device_config("kiosk-023", identity, identity={}))
    await stack.until(lambda: registered(stack, "kiosk-023"))
    row = await command(stack, "kiosk-023", "rotate_certificate")
    assert row["state"] == "failed" and "identity.hub_url is not set" in row["error"], row
    assert not list(identity.directory.glob("*.new")) and agent.link.connected
