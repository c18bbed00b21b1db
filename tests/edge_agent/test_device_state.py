"""The device state beside the outbox: the command ledger, the running config, and a database
written by an agent of the older layout (everything in the outbox's tables) opened in place."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from edge_agent.commands import CommandService
from edge_agent.database import AgentDatabase
from edge_agent.desired import DesiredConfigService
from edge_agent.device_state import DeviceState
from edge_agent.errors import DeviceStateError, OutboxError
from edge_agent.outbox import Outbox, Pending
from firmware_configs.schema import parse_device_config
from tests.edge_agent.conftest import device_config


def _item(topic: str = "t", body: bytes = b"x") -> Pending:
    return Pending(topic, lambda seq: b"%d:" % seq + body)


def _open(path: Path) -> tuple[AgentDatabase, Outbox, DeviceState]:
    db = AgentDatabase(path)
    outbox = Outbox(db)
    return db, outbox, DeviceState(db, outbox)


def test_commands_are_claimed_once_and_finished_with_their_ack(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    db, box, state = _open(path)
    assert state.claim_command("c1", "boot")
    assert not state.claim_command("c1", "boot")
    assert state.command_state("c1") == "running"
    seq = state.finish_command("c1", _item("ack"))
    assert state.command_state("c1") == "done"
    assert box.fetch(0, 10)[-1].payload == b"%d:x" % seq
    assert box.queued == 1 and box.seq == seq
    db.close()
    db, _, reopened = _open(path)
    assert not reopened.claim_command("c1", "another boot")
    db.close()


def test_the_ack_and_the_ledgers_done_commit_together_or_not_at_all(tmp_path: Path) -> None:
    db, box, state = _open(tmp_path / "o.sqlite3")
    state.claim_command("c1", "boot")
    # The ledger's write fails after the ack was inserted: the ack must go too.
    db.conn.execute(
        "CREATE TRIGGER refuse BEFORE UPDATE ON commands BEGIN SELECT RAISE(ABORT, 'full'); END"
    )
    with pytest.raises(OutboxError, match="full"):
        state.finish_command("c1", _item("ack"))
    assert state.command_state("c1") == "running"
    assert box.queued == 0 and box.seq == 0 and box.fetch(0, 10) == []
    db.conn.execute("DROP TRIGGER refuse")
    assert state.finish_command("c1", _item("ack")) == 1
    assert state.command_state("c1") == "done" and box.queued == 1
    db.close()


def test_the_running_config_is_kept_apart_from_the_outbox(tmp_path: Path) -> None:
    db, box, state = _open(tmp_path / "o.sqlite3")
    assert state.config_version == 0 and state.running_config == ""
    state.keep_config(7, '{"drivers": []}')
    state.drop_config()
    assert state.config_version == 7 and state.running_config == ""
    state.keep_config(8, '{"drivers": []}')
    assert box.get_meta("config_version") == ""  # not in the outbox's counters
    db.close()
    db, _, again = _open(tmp_path / "o.sqlite3")
    assert again.config_version == 8 and again.running_config == '{"drivers": []}'
    db.close()


def test_the_state_must_share_the_outboxs_database(tmp_path: Path) -> None:
    db = AgentDatabase(tmp_path / "a.sqlite3")
    other = Outbox(tmp_path / "b.sqlite3")
    with pytest.raises(DeviceStateError, match="share one database"):
        DeviceState(db, other)
    db.close()
    other.close()


OLD_SCHEMA = """
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE commands (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    at REAL NOT NULL
);
"""
"""The layout written by agents up to this change: one Outbox class held all three tables and
kept the running config in ``meta``."""

RUNTIME = {"drivers": [], "publish": {"telemetry": False}}


def _old_layout(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(OLD_SCHEMA)
    now = time.time()
    db.executemany(
        "INSERT INTO outbox(topic, payload, retain, created) VALUES (?, ?, 0, ?)",
        [("gov/v1/old-1/telemetry", b"unsent %d" % n, now) for n in (41, 42, 43)],
    )
    db.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?)",
        [
            ("seq", "43"),
            ("dropped", "5"),
            ("config_version", "3"),
            ("config_runtime", json.dumps(RUNTIME, sort_keys=True)),
        ],
    )
    db.execute("INSERT INTO commands VALUES ('cmd-1', 'done', 'old-boot', ?)", (now,))
    db.commit()
    db.close()


def test_an_agent_updated_in_place_keeps_its_unsent_messages_ledger_and_config(
    tmp_path: Path,
) -> None:
    config = parse_device_config(
        json.dumps(
            device_config(
                "old-1",
                "mqtt://127.0.0.1:1",
                tmp_path / "state",
                config_signing={"allow_unsigned": True},
            )
        ).encode(),
        "test",
    )
    _old_layout(tmp_path / "state" / "outbox.sqlite3")
    agent = Agent(config)
    CommandService(agent)  # not started: only what the agent opened is looked at
    desired = DesiredConfigService(agent)
    try:
        box = agent.outbox
        assert box.queued == 3 and box.seq == 43 and box.dropped == 5
        assert [r.payload for r in box.fetch(0, 10)] == [b"unsent 41", b"unsent 42", b"unsent 43"]
        assert agent.device_state.command_state("cmd-1") == "done"
        assert not agent.device_state.claim_command("cmd-1", agent.boot_id)  # runs once, ever
        assert desired.version == 3
        assert json.loads(agent.device_state.running_config) == RUNTIME
        assert box.get_meta("config_version") == ""  # moved out of the outbox's table
        box.append([_item()])
        assert box.seq == 44
    finally:
        agent.database.close()
    # Opened again (moved once; nothing lost on the second open).
    db, box, state = _open(tmp_path / "state" / "outbox.sqlite3")
    assert state.config_version == 3 and box.queued == 4
    db.close()
