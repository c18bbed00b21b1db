"""The link over TLS with a client certificate, against a Mosquitto that requires one."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge_agent.runtime import build_agent
from govedge.broker import free_port


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


async def test_tls_with_client_certificate(
    mosquitto_factory, make_config, scripted, fake, run_until, tmp_path: Path
):
    ca_key, server_key, device_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _cert("test CA", ca_key, "test CA", ca_key, ca=True)
    _write(tmp_path / "ca", ca, ca_key)
    _write(
        tmp_path / "server",
        _cert("127.0.0.1", server_key, "test CA", ca_key, server=True),
        server_key,
    )
    _write(tmp_path / "device", _cert("tls-1", device_key, "test CA", ca_key), device_key)
    port = free_port()
    broker = mosquitto_factory(
        extra_config=(
            f"listener {port} 127.0.0.1\nallow_anonymous true\n"
            f"cafile {tmp_path / 'ca.pem'}\ncertfile {tmp_path / 'server.pem'}\n"
            f"keyfile {tmp_path / 'server.key'}\nrequire_certificate true\n"
            "use_identity_as_username true\n"
        ),
        port=port,
    )
    _, factory = scripted
    path = make_config(
        "tls-1",
        f"mqtts://127.0.0.1:{broker.port}",
        [fake("a", 0.05)],
        broker={
            "keepalive_s": 5,
            "tls": {
                "ca_file": str(tmp_path / "ca.pem"),
                "cert_file": str(tmp_path / "device.pem"),
                "key_file": str(tmp_path / "device.key"),
            },
        },
    )
    agent = build_agent(path, driver_factory=factory)

    assert await run_until(agent, lambda: agent.outbox.acknowledged >= 5, 10)
    assert agent.link.counters.connects == 1 and agent.link.counters.rejected == 0


async def test_tls_without_client_certificate_is_refused_and_retried(
    mosquitto_factory, make_config, scripted, fake, run_until, tmp_path: Path
):
    ca_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    _write(tmp_path / "ca", _cert("test CA", ca_key, "test CA", ca_key, ca=True), ca_key)
    _write(
        tmp_path / "server",
        _cert("127.0.0.1", server_key, "test CA", ca_key, server=True),
        server_key,
    )
    port = free_port()
    mosquitto_factory(
        extra_config=(
            f"listener {port} 127.0.0.1\nallow_anonymous true\n"
            f"cafile {tmp_path / 'ca.pem'}\ncertfile {tmp_path / 'server.pem'}\n"
            f"keyfile {tmp_path / 'server.key'}\nrequire_certificate true\n"
        ),
        port=port,
    )
    _, factory = scripted
    path = make_config(
        "tls-2",
        f"mqtts://127.0.0.1:{port}",
        [fake("a", 0.05)],
        broker={"tls": {"ca_file": str(tmp_path / "ca.pem")}},
    )
    agent = build_agent(path, driver_factory=factory)
    assert await run_until(agent, lambda: agent.link.counters.connect_failures >= 2, 10)
    assert agent.link.counters.connects == 0
    assert agent.outbox.queued > 0  # everything waits on disk
