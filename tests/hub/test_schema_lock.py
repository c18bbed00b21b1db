"""Hub workers started at the same moment on an empty database: each creates the schema
(hub/schema_lock.py serialises them), and none fails on a table another is creating."""

from __future__ import annotations

import multiprocessing as mp
import uuid
from pathlib import Path
from typing import Any

import pytest

from govedge.broker import free_port

CTX = mp.get_context("spawn")
WORKERS = 3


def _build(database_url: str, tmp: str, go: Any, results: Any) -> None:
    from hub.app import create_app
    from hub.settings import HubConfig

    config = HubConfig(
        database_url=database_url,
        telemetry_url=f"sqlite:///{tmp}/telemetry-{uuid.uuid4().hex[:6]}.db",
        client_id=f"hub-{uuid.uuid4().hex[:6]}",
        shared_group="start",
        http_port=free_port(),
    )
    go.wait(60)  # every process imported, then all build at once
    try:
        create_app(config, start_mqtt=False)
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - every worker's outcome is reported to the test
        results.put(f"{type(exc).__name__}: {str(exc)[:200]}")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_workers_started_together_on_an_empty_database_all_start(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    go, results = CTX.Event(), CTX.Queue()
    procs = [
        CTX.Process(target=_build, args=(url, str(tmp_path), go, results), daemon=True)
        for _ in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    go.set()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(30)
    assert outcomes == ["ok"] * WORKERS
