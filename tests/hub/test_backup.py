"""``govedge hub backup`` taken while the hub issues proofs and registers devices, restored into
new locations (SQLite and PostgreSQL): the restored hub serves the same devices, the alarm and
the ledger, and ``govedge ledger verify`` holds. A damaged backup is refused before anything is
written, and an existing database is overwritten only with --force."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

from govedge.cli import main
from hub.alarms.api import ALARM_ENGINE
from hub.services.api import SERVICES
from hub.services.ids import _ID_CHECK, _ID_WEIGHTS
from hub.services.proofs import ProofRequest, Subject
from hub.services.tables import ledger
from hub.settings import HubConfig, ServicesConfig


def id_number(first17: str) -> str:
    """A valid resident ID number (GB 11643 check character) from its first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return first17 + _ID_CHECK[total % 11]


NAME = "王芳"
NUMBER = id_number("31011519850615124")


def _write(config: HubConfig, path: Path) -> Path:
    path.write_bytes(msgspec.json.encode(config))
    return path


def _second_database(registry_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if registry_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored' / 'registry.db'}"
    server = request.getfixturevalue("postgres_server")
    name = "r_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{server}/{name}"


def _issue(services: Any, batch: str, n: int) -> None:
    reqs = [
        ProofRequest(f"{batch}-{i}", "residence_proof", Subject(NUMBER, NAME), "hall-1")
        for i in range(n)
    ]
    services.proofs.issue_many(reqs, "kiosk-hall1-01")


def _ledger_count(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(ledger)).scalar() or 0)


async def test_backup_under_load_restores_devices_alarms_and_ledger(
    hub_config: Callable[..., HubConfig],
    start_hub: Callable[..., Any],
    registry_url: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = tmp_path / "proof-keys"
    config = hub_config(services=ServicesConfig(proof_keys_dir=str(keys), checkpoint_every=25))
    rh = await start_hub(config)
    hub = rh.hub
    services = hub.extensions[SERVICES]
    for i in range(20):
        await asyncio.to_thread(hub.registry.register, f"cab-{i:04d}", site="district-1")
    engine = hub.extensions[ALARM_ENGINE]
    await asyncio.to_thread(
        engine.system_alarm, "cab-0003", "cabinet-overheat", "warning", 61.5, "cabinet at 61.5 °C"
    )
    await asyncio.to_thread(_issue, services, "before", 100)
    before_devices = {d.id for d in (await asyncio.to_thread(hub.registry.search, limit=1000))[0]}
    before_entries = _ledger_count(hub.engine)

    stop = threading.Event()

    def load() -> None:  # the hub keeps issuing proofs and registering devices meanwhile
        n = 0
        while not stop.is_set() and n < 400:
            _issue(services, f"load-{n}", 10)
            hub.registry.register(f"load-{n:04d}", site="district-2")
            n += 1

    worker = threading.Thread(target=load)
    worker.start()
    out = tmp_path / "backup"
    cfg = _write(config, tmp_path / "hub.json")
    try:
        code = await asyncio.to_thread(
            main, ["hub", "--config", str(cfg), "backup", "--out", str(out)]
        )
    finally:
        stop.set()
        worker.join(60)
    assert code == 0, capsys.readouterr().err
    after_devices = {d.id for d in (await asyncio.to_thread(hub.registry.search, limit=5000))[0]}
    await rh.runner.cleanup()  # the old hub is gone

    restored = hub_config(
        database_url=_second_database(registry_url, tmp_path, request),
        telemetry_url=f"sqlite:///{tmp_path / 'restored' / 'telemetry.db'}",
        services=ServicesConfig(proof_keys_dir=str(tmp_path / "restored" / "proof-keys")),
    )
    rcfg = _write(restored, tmp_path / "restored.json")
    assert main(["hub", "--config", str(rcfg), "restore", "--from", str(out)]) == 0
    assert main(["ledger", "verify", "--config", str(rcfg)]) == 0
    assert "ledger holds" in capsys.readouterr().out

    rh2 = await start_hub(restored)
    items = (await rh2.get("/api/v1/devices", limit=1000))["items"]
    ids = {d["id"] for d in items}
    assert len(after_devices) > len(before_devices)  # the hub was busy while the backup ran
    assert before_devices <= ids <= after_devices
    alarms = (await rh2.get("/api/v1/alarms", state="active"))["items"]
    assert any(a["rule_id"] == "cabinet-overheat" and a["device_id"] == "cab-0003" for a in alarms)
    assert _ledger_count(rh2.hub.engine) >= before_entries
    status, report = await rh2.call("GET", "/api/v1/services/ledger/verify")
    assert status == 200 and report["ok"], report
    # The restored hub keeps extending the same chain with the same keys.
    await asyncio.to_thread(_issue, rh2.hub.extensions[SERVICES], "after-restore", 5)
    assert main(["ledger", "verify", "--config", str(rcfg)]) == 0


async def test_a_damaged_backup_or_an_existing_database_is_refused(
    hub_config: Callable[..., HubConfig],
    start_hub: Callable[..., Any],
    tmp_path: Path,
    registry_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = tmp_path / "proof-keys"
    config = hub_config(services=ServicesConfig(proof_keys_dir=str(keys)))
    rh = await start_hub(config)
    await asyncio.to_thread(rh.hub.registry.register, "cab-0001")
    await asyncio.to_thread(_issue, rh.hub.extensions[SERVICES], "x", 3)
    cfg = _write(config, tmp_path / "hub.json")
    out = tmp_path / "backup"
    assert (
        await asyncio.to_thread(main, ["hub", "--config", str(cfg), "backup", "--out", str(out)])
        == 0
    )
    await rh.runner.cleanup()
    # Restoring over the live database is refused without --force.
    assert main(["hub", "--config", str(cfg), "restore", "--from", str(out)]) == 1
    assert "restore over it with --force" in capsys.readouterr().err
    # One damaged byte in a key file: refused, nothing written.
    target = tmp_path / "other"
    other = hub_config(
        database_url=f"sqlite:///{target / 'registry.db'}",
        telemetry_url=f"sqlite:///{target / 'telemetry.db'}",
        services=ServicesConfig(proof_keys_dir=str(target / "keys")),
    )
    ocfg = _write(other, tmp_path / "other.json")
    trust = out / "keys" / "proof-keys" / "trust.json"
    trust.write_bytes(trust.read_bytes().replace(b"kid", b"kiD", 1))
    assert main(["hub", "--config", str(ocfg), "restore", "--from", str(out)]) == 1
    assert "trust.json is missing or damaged" in capsys.readouterr().err
    assert not (target / "registry.db").exists()
