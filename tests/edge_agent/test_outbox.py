"""The durable outbox on its own: seq, order, acknowledgement, bounds, kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from edge_agent.outbox import Outbox, Pending


def _item(topic: str = "t", body: bytes = b"x") -> Pending:
    return Pending(topic, lambda seq: b"%d:" % seq + body)


def test_seq_advances_with_each_commit_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    assert box.append([_item(), _item()]) == [1, 2]
    assert box.append([_item()]) == [3]
    box.close()
    again = Outbox(path)
    assert again.seq == 3 and again.queued == 3
    assert again.append([_item()]) == [4]
    rows = again.fetch(0, 10)
    assert [r.payload for r in rows] == [b"1:x", b"2:x", b"3:x", b"4:x"]
    assert again.get_meta("seq") == "4"
    again.close()


def test_fetch_pages_in_order_and_ack_removes(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    box.append([_item() for _ in range(10)])
    first = box.fetch(0, 4)
    second = box.fetch(first[-1].id, 4)
    assert [r.payload[:2] for r in first + second] == [b"%d:" % i for i in range(1, 9)]
    assert box.ack([r.id for r in first]) == 4
    assert box.ack([r.id for r in first]) == 0  # acknowledging twice changes nothing
    assert box.queued == 6 and box.acknowledged == 4
    assert box.fetch(0, 100)[0].payload[:2] == b"5:"
    box.close()


def test_drop_oldest_by_count_is_counted_and_persisted(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path, max_messages=10)
    box.append([_item() for _ in range(25)])
    assert box.queued == 10 and box.dropped == 15
    assert box.fetch(0, 1)[0].payload == b"16:x"
    box.close()
    assert Outbox(path, max_messages=10).dropped == 15


def test_drop_oldest_by_bytes(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_bytes=10_000)
    box.append([_item(body=b"y" * 1000) for _ in range(30)])
    assert box.queued_bytes <= 10_000
    assert box.queued + box.dropped == 30
    assert box.fetch(0, 1)[0].payload.startswith(b"%d:" % (box.dropped + 1))
    box.close()


def test_expire_drops_messages_past_max_age(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_age_s=60)
    box.append([_item() for _ in range(5)])
    assert box.expire(now=time.time()) == 0
    assert box.expire(now=time.time() + 61) == 5
    assert box.queued == 0 and box.dropped == 5 and box.queued_bytes == 0
    box.close()


WRITER = """
import sys
from edge_agent.outbox import Outbox, Pending
box = Outbox(sys.argv[1])
while True:
    seqs = box.append([Pending("t", lambda s: b"%d" % s) for _ in range(int(sys.argv[2]))])
    print(seqs[-1], flush=True)
"""


def test_kill_9_loses_nothing_that_was_committed(tmp_path: Path) -> None:
    """A writer commits batches and prints the last seq of each; after kill -9 every printed
    seq is on disk and the sequence has no hole."""
    path = tmp_path / "o.sqlite3"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "7"], stdout=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    confirmed = 0
    for _ in range(200):
        confirmed = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait(5)
    box = Outbox(path)
    assert box.seq >= confirmed
    payloads = [int(r.payload) for r in box.fetch(0, box.queued + 1)]
    assert payloads == list(range(1, box.seq + 1))
    box.close()
