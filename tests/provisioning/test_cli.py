"""``govedge provision ...`` end to end through govedge.cli.main and as a real subprocess."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from govedge.cli import main
from provisioning.bundles import BundleVerifier
from provisioning.ca import FleetCA, IdentityPaths
from provisioning.cli import parse_duration
from provisioning.crl import revoked_serials
from provisioning.factory import read_batch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ca_dir(tmp_path: Path) -> Path:
    assert main(["provision", "ca", "init", "--dir", str(tmp_path / "ca")]) == 0
    return tmp_path / "ca"


def test_ca_init_writes_the_layout(ca_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = {p.name for p in ca_dir.iterdir()}
    assert {"root.crt", "root.key", "intermediate.crt", "intermediate.key", "chain.pem"} <= names
    assert {"bundle-signing.key", "bundle-signing.pub", "registry.sqlite"} <= names
    assert main(["provision", "ca", "init", "--dir", str(ca_dir)]) == 1
    assert "already holds a CA" in capsys.readouterr().err


def test_device_writes_identity_and_signed_bundle(
    ca_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "model.json"
    config.write_text(json.dumps({"poll_hz": 1, "printer": "socket://127.0.0.1:9100"}))
    out = tmp_path / "kiosk-001"
    argv = ["provision", "device", "--ca-dir", str(ca_dir), "--id", "kiosk-001"]
    argv += ["--model", "kiosk-v2", "--site", "hall-1", "--out", str(out)]
    argv += ["--broker-url", "mqtts://broker.city:8883", "--config", str(config)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "kiosk-001: serial" in printed and "PRIVATE" not in printed
    assert stat.S_IMODE(os.stat(out / "key.pem").st_mode) == 0o600
    cert = x509.load_pem_x509_certificate((out / "cert.pem").read_bytes())
    assert cert.subject.rfc4514_string() == "CN=kiosk-001,L=hall-1,OU=kiosk-v2,O=govedge fleet"
    payload = BundleVerifier.from_files(out / "bundle-signing.pub").verify_file(out / "bundle.json")
    assert payload["device_id"] == "kiosk-001" and payload["model"] == "kiosk-v2"
    assert payload["mqtt"]["url"] == "mqtts://broker.city:8883"
    assert payload["mqtt"]["topic_root"] == "gov/v1"
    assert payload["config"] == {"poll_hz": 1, "printer": "socket://127.0.0.1:9100"}
    # a second run for the same device is refused; --replace supersedes the old certificate
    assert main(argv) == 1
    assert "exists" in capsys.readouterr().err
    assert main([*argv, "--replace"]) == 0
    ca = FleetCA.open(ca_dir)
    records = ca.index.by_common_name("kiosk-001")
    assert [r.revocation_reason for r in records] == ["superseded", None]


def test_batch_shows_progress_and_keeps_the_good_rows(
    ca_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    rows = ["id,model,site,days", "# comment", "dev-01,kiosk,hall-1,"]
    rows += ["bad/id,kiosk,hall-1,", "dev-02,kiosk,,", "dev-03,kiosk,hall-2,30"]
    rows += ["dev-01,kiosk,hall-1,", "dev-04,kiosk,hall-2,zero", "hub,kiosk,hall-1,"]
    sheet = tmp_path / "devices.csv"
    sheet.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    argv = ["provision", "batch", str(sheet), "--ca-dir", str(ca_dir), "--out", str(out)]
    assert main(argv) == 1  # some rows refused
    captured = capfd.readouterr()
    progress = [ln for ln in captured.err.splitlines() if ln.startswith("[")]
    assert progress == ["[1/3] dev-01", "[2/3] dev-03", "[3/3] hub"]
    assert "line 4: bad/id" in captured.err
    assert "line 5: dev-02: model and site are required" in captured.err
    assert "line 7: dev-01: device id appears twice" in captured.err
    assert "line 8: dev-04: days 'zero'" in captured.err
    assert "line 9: hub:" in captured.err and "service identity" in captured.err
    assert "provisioned 2 device(s)" in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["dev-01", "dev-03"]
    cert = x509.load_pem_x509_certificate((out / "dev-03" / "cert.pem").read_bytes())
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 30 <= lifetime.days <= 31


def test_batch_progress_width_for_a_hundred_devices(
    ca_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "many.csv"
    sheet.write_text("id,model,site\n" + "".join(f"d-{i:03},k,s\n" for i in range(1, 101)))
    argv = ["provision", "batch", str(sheet), "--ca-dir", str(ca_dir), "--out", str(tmp_path)]
    assert main(argv) == 0
    progress = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("[")]
    assert progress[0] == "[  1/100] d-001"
    assert progress[36] == "[ 37/100] d-037"
    assert progress[-1] == "[100/100] d-100"


def test_batch_file_without_the_needed_columns(ca_dir: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "bad.csv"
    sheet.write_text("name,model\nx,y\n")
    with pytest.raises(Exception, match="lacks column"):
        read_batch(sheet)
    assert main(["provision", "batch", str(sheet), "--ca-dir", str(ca_dir)]) == 1


def test_tokens_revocation_and_broker_config(
    ca_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--ca-dir", str(ca_dir)]
    assert main(["provision", "token", "create", *base, "--model", "kiosk", "--ttl", "2h"]) == 0
    out = capsys.readouterr()
    secret = out.out.strip()
    assert secret.startswith("gvt_") and len(secret) > 30
    assert "single use" in out.err and secret not in out.err
    assert main(["provision", "token", "list", *base]) == 0
    listing = capsys.readouterr().out
    assert "kiosk" in listing and secret not in listing and secret[4:10] not in listing
    token_id = out.err.split("token id ")[1].split(":")[0]
    assert main(["provision", "token", "revoke", *base, token_id]) == 0
    assert main(["provision", "token", "list", *base]) == 0
    assert "withdrawn" in capsys.readouterr().out
    assert main(["provision", "token", "revoke", *base, token_id]) == 1
    assert main(["provision", "token", "revoke", *base, "zz"]) == 1
    assert "at least 8 hex digits" in capsys.readouterr().err

    dev = ["provision", "device", *base, "--model", "k", "--site", "s"]
    assert main([*dev, "--id", "lost-1", "--out", str(tmp_path / "lost")]) == 0
    capsys.readouterr()
    broker = tmp_path / "broker"
    cfg = ["provision", "broker-config", *base, "--out", str(broker), "--port", "18883"]
    cfg += ["--key-owner", ""]
    assert main(cfg) == 0
    conf = (broker / "mosquitto.conf").read_text()
    assert f"crlfile {broker / 'crl.pem'}" in conf.splitlines()  # from the start, empty
    assert revoked_serials((broker / "crl.pem").read_bytes()) == set()
    assert "(0 revoked)" in capsys.readouterr().out
    assert main(["provision", "revoke", *base, "--id", "lost-1", "--reason", "key_compromise"]) == 0
    out = capsys.readouterr().out
    assert "revoked lost-1" in out and "SIGHUP" in out
    assert main(cfg) == 0
    conf = (broker / "mosquitto.conf").read_text()
    for line in (
        "listener 18883 0.0.0.0",
        f"cafile {broker / 'ca.pem'}",
        f"crlfile {broker / 'crl.pem'}",
        "require_certificate true",
        "use_identity_as_username true",
        f"acl_file {broker / 'acl'}",
    ):
        assert line in conf.splitlines()
    capsys.readouterr()
    sized = [*cfg, "--fleet-size", "500", "--rate-per-device", "2", "--ride-out", "300"]
    assert main(sized) == 0
    out = capsys.readouterr().out
    assert '"broker_backlog_messages": 450000' in out  # 500 x 2 x 300 x 1.5, for the hub config
    assert "max_queued_messages 450000" in (broker / "mosquitto.conf").read_text().splitlines()
    assert main([*cfg, "--fleet-size", "0"]) == 1
    assert "backlog" in capsys.readouterr().err
    serial = int(FleetCA.open(ca_dir).index.by_common_name("lost-1")[0].serial, 16)
    assert revoked_serials((broker / "crl.pem").read_bytes()) == {serial}
    assert stat.S_IMODE(os.stat(broker / "server.key").st_mode) == 0o600

    assert main(["provision", "revoke", *base, "--id", "nobody"]) == 1
    assert main(["provision", "revoke", *base]) == 1
    assert main(["provision", "revoke", *base, "--serial", "zz"]) == 1
    assert "not hexadecimal" in capsys.readouterr().err


def test_status_hub_identity_and_bundle_commands(
    ca_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--ca-dir", str(ca_dir)]
    assert main(["provision", "hub-identity", *base, "--out", str(tmp_path / "hub")]) == 0
    assert main(["provision", "status", str(tmp_path / "hub" / "cert.pem")]) == 0
    assert "days left (ok)" in capsys.readouterr().out
    bundle = tmp_path / "b.json"
    bundle.write_text('{"kind": "x", "n": 1}')
    signed = tmp_path / "b.signed.json"
    assert main(["provision", "bundle", "sign", *base, str(bundle), "--out", str(signed)]) == 0
    pub = str(ca_dir / "bundle-signing.pub")
    assert main(["provision", "bundle", "verify", str(signed), "--public-key", pub]) == 0
    signed.write_text(signed.read_text().replace('"n": 1', '"n": 2'))
    assert main(["provision", "bundle", "verify", str(signed), "--public-key", pub]) == 1
    assert "does not match" in capsys.readouterr().err


def test_missing_ca_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["provision", "device", "--ca-dir", str(tmp_path / "none"), "--id", "a"]
    assert main([*argv, "--model", "m", "--site", "s", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("govedge: error:") and "holds no CA" in err and "Traceback" not in err


def test_durations() -> None:
    assert parse_duration("90s").total_seconds() == 90
    assert parse_duration("30").total_seconds() == 1800
    assert parse_duration("7d").days == 7
    for bad in ("soon", "-5m", "0"):
        with pytest.raises(Exception, match="duration"):
            parse_duration(bad)


def test_real_command_line_process(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "govedge", "provision", "ca", "init", "--dir", str(tmp_path / "c")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "CA ready" in run.stdout
    run = subprocess.run(
        [sys.executable, "-m", "govedge", "provision", "token", "create", "--model", "k"],
        capture_output=True,
        text=True,
        env={**env, "GOVEDGE_CA_DIR": str(tmp_path / "c")},
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("gvt_")


def test_check_tries_an_identity_against_the_broker(
    net, capsys: pytest.CaptureFixture[str]
) -> None:
    broker = f"mqtts://{net.host}:{net.port}"
    good = str(net.ids["dev-a"].directory)
    assert main(["provision", "check", "--broker", broker, "--identity", good]) == 0
    assert "accepted" in capsys.readouterr().out
    bad = str(net.ids["dev-revoked"].directory)
    assert main(["provision", "check", "--broker", broker, "--identity", bad]) == 1
    assert "refused" in capsys.readouterr().out


def test_enroll_command_on_a_device(net, tmp_path: Path) -> None:
    """The device-side command against the hub's routes served from another thread."""
    import asyncio
    import threading

    from aiohttp import web

    from govedge.broker import free_port
    from provisioning.enrollment import EnrollmentService, add_enrollment_routes

    service = EnrollmentService(net.ca)
    secret, _ = service.create_token("kiosk-v3", device_id="cli-enrolled")
    port = free_port()
    ready, stop = threading.Event(), threading.Event()

    def serve() -> None:
        async def run() -> None:
            app = web.Application()
            add_enrollment_routes(app, service)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.02)
            await runner.cleanup()

        asyncio.run(run())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        assert ready.wait(10)
        argv = ["provision", "enroll", "--url", f"http://127.0.0.1:{port}", "--token", secret]
        argv += ["--model", "kiosk-v3", "--id", "cli-enrolled", "--out", str(tmp_path / "id")]
        assert main(argv) == 0
        assert main(argv) == 1  # the token is spent
    finally:
        stop.set()
        thread.join(10)
    net.ids["cli-enrolled"] = IdentityPaths(tmp_path / "id")
    assert net.peer("cli-enrolled").connect() == "ok"
