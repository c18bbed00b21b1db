"""Fixtures shared by every test package: real brokers started from their binaries."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from govedge.broker import MosquittoBroker, raise_nofile_limit  # noqa: E402

raise_nofile_limit(65536)


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """One Mosquitto for the session; tests use their own device ids to stay apart."""
    broker = MosquittoBroker(workdir=tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.close()


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[Callable[..., MosquittoBroker]]:
    """Start private Mosquitto instances (for tests that kill or restart the broker)."""
    started: list[MosquittoBroker] = []

    def make(extra_config: str = "", port: int = 0, start: bool = True) -> MosquittoBroker:
        broker = MosquittoBroker(
            port=port, extra_config=extra_config, workdir=tmp_path / f"mosquitto{len(started)}"
        )
        broker.workdir.mkdir(parents=True, exist_ok=True)
        if start:
            broker.start()
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.close()
