"""The newest-wins frame queue between the capture thread and readers."""

from __future__ import annotations

import threading

import numpy as np

from drivers.camera.frames import Frame, LatestFrameQueue


def frame(i: int) -> Frame:
    return Frame(np.full((4, 4, 3), i + 1, np.uint8), float(i), i)


def test_newest_frame_wins_and_dropped_frames_are_zeroed() -> None:
    q = LatestFrameQueue(1)
    frames = [frame(i) for i in range(5)]
    for f in frames:
        q.put(f)
    got = q.get(0)
    assert got is frames[4]
    assert q.dropped == 4
    assert all(not f.image.any() for f in frames[:4])
    assert got.image.all()


def test_bounded_queue_keeps_the_newest_n_in_order() -> None:
    q = LatestFrameQueue(3)
    for i in range(6):
        q.put(frame(i))
    assert [q.get(0).index for _ in range(3)] == [3, 4, 5]  # type: ignore[union-attr]
    assert q.get(0) is None
    assert q.dropped == 3


def test_put_wait_is_lossless_and_close_drain_keeps_pending_frames() -> None:
    q = LatestFrameQueue(1)
    got: list[int] = []

    def reader() -> None:
        while (f := q.get(2.0)) is not None:
            got.append(f.index)

    t = threading.Thread(target=reader)
    t.start()
    for i in range(20):
        assert q.put_wait(frame(i), timeout=2.0)
    q.close(drain=True)
    t.join(5)
    assert got == list(range(20))
    assert q.dropped == 0


def test_close_without_drain_wipes_pending_and_wakes_readers() -> None:
    q = LatestFrameQueue(2)
    f = frame(7)
    q.put(f)
    q.close()
    assert q.get(1.0) is None
    assert not f.image.any()
    assert q.put_wait(frame(8), timeout=0.1) is False


async def test_aget_waits_off_the_event_loop() -> None:
    q = LatestFrameQueue(1)
    threading.Timer(0.05, q.put, args=(frame(3),)).start()
    got = await q.aget(2.0)
    assert got is not None and got.index == 3
