"""The ingest lock: the alarm lane's urgent taker goes ahead of the bulk lane's."""

from __future__ import annotations

import threading

from hub.ingest.prioritylock import PriorityLock


def test_an_urgent_taker_goes_ahead_of_an_ordinary_one_waiting_before_it() -> None:
    lock = PriorityLock()
    order: list[str] = []
    lock.__enter__()  # the bulk lane holds it (one chunk)
    ordinary_waiting = threading.Event()

    def ordinary() -> None:
        ordinary_waiting.set()
        with lock:
            order.append("bulk")

    def urgent() -> None:
        with lock.urgent():
            order.append("alarm")

    bulk = threading.Thread(target=ordinary)
    bulk.start()
    assert ordinary_waiting.wait(10)
    alarm = threading.Thread(target=urgent)
    alarm.start()
    while not lock.wanted:  # the alarm lane has announced itself
        threading.Event().wait(0.001)
    lock.__exit__(None, None, None)  # the chunk ends
    alarm.join(10)
    bulk.join(10)
    assert order == ["alarm", "bulk"]
    assert not lock.wanted


def test_ordinary_takers_go_in_turn_when_nothing_is_urgent() -> None:
    lock = PriorityLock()
    total = 0

    def add() -> None:
        nonlocal total
        for _ in range(1000):
            with lock:
                total += 1

    threads = [threading.Thread(target=add) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert total == 4000


def test_ordinary_work_steps_aside_while_an_urgent_taker_waits_or_holds() -> None:
    lock = PriorityLock()
    assert lock.wait_clear(0.0)  # nothing urgent: no wait at all
    started = threading.Event()
    release = threading.Event()

    def urgent() -> None:
        with lock.urgent():
            started.set()
            release.wait(10)

    alarm = threading.Thread(target=urgent)
    alarm.start()
    assert started.wait(10)
    assert not lock.wait_clear(0.05)  # bounded: gives up while the urgent taker holds on
    stepped_aside = threading.Event()
    resumed = threading.Event()

    def bulk_reader() -> None:
        stepped_aside.set()
        if lock.wait_clear(10):
            resumed.set()

    reader = threading.Thread(target=bulk_reader)
    reader.start()
    assert stepped_aside.wait(10)
    assert not resumed.wait(0.1)  # still held: the reader waits
    release.set()
    alarm.join(10)
    assert resumed.wait(10)  # resumes as soon as the urgent taker lets go
    reader.join(10)


def test_announced_urgent_work_makes_ordinary_work_step_aside_but_never_blocks_the_lock() -> None:
    """Messages in the alarm lane's inbox: the bulk lane steps aside (``wait_clear``) until they
    are decided; the lock itself stays free to take, since the alarm lane's own writer may take
    it as an ordinary taker before it comes to them."""
    lock = PriorityLock()
    lock.announce(2)
    assert lock.wanted
    assert not lock.wait_clear(0.05)
    taken = threading.Event()

    def ordinary() -> None:
        with lock:
            taken.set()

    writer = threading.Thread(target=ordinary)
    writer.start()
    assert taken.wait(10)
    writer.join(10)
    lock.done()
    assert not lock.wait_clear(0.01)  # one still to come
    lock.done()
    assert lock.wait_clear(0.0)
    assert not lock.wanted
