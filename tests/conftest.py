"""Fixtures shared by every test package: real brokers started from their binaries."""

from __future__ import annotations

import os
import signal
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

# A run started in the background of a script (``cmd &`` without job control) inherits SIGINT
# ignored, and so would every process the tests start: the tests that stop a simulator with
# Ctrl-C's signal would wait for it in vain. Handled here, the children start with it as usual.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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


def _pg_bin(name: str) -> str:
    import glob

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    return found[-1]


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private PostgreSQL cluster on a free loopback port; yields its base URL.

    As root, initdb refuses to run, so the cluster belongs to the postgres user (runuser).
    """
    import shutil
    import subprocess
    import tempfile

    from govedge.broker import free_port, wait_for_port

    # Not under pytest's temp root: that is private to root, and the cluster runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="govedge-pg-"))
    data = base / "data"
    port = free_port()
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(base, "postgres", "postgres")
        base.chmod(0o755)
    subprocess.run(
        [*prefix, _pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "govedge", "-E", "UTF8"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    proc = subprocess.Popen(
        [
            *prefix,
            _pg_bin("postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(base),
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not wait_for_port("127.0.0.1", port, 30):
        proc.kill()
        raise RuntimeError("PostgreSQL did not start")
    yield f"postgresql+psycopg://govedge@127.0.0.1:{port}"
    proc.terminate()
    proc.wait(30)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database in the session's PostgreSQL cluster."""
    import uuid

    import sqlalchemy as sa

    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(postgres_server + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for _ in range(50):
            try:
                conn.execute(sa.text(f"CREATE DATABASE {name}"))
                break
            except sa.exc.OperationalError:  # still starting up
                import time

                time.sleep(0.2)
    admin.dispose()
    return f"{postgres_server}/{name}"
