"""Duplicate and gap tracking per (device, boot id) stream.

QoS 1 may deliver a message twice; the agent's outbox replays after a crash. A message is new
if its seq is above the highest seen in its stream, or fills a gap seen earlier; anything else
is a duplicate. Gaps are counted as they open and uncounted when they fill.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_TRACKED_MISSING = 10_000


@dataclass(slots=True)
class Stream:
    max_seq: int
    received: int = 0
    gaps: int = 0
    missing: set[int] = field(default_factory=set)

    def copy(self) -> Stream:
        return Stream(self.max_seq, self.received, self.gaps, set(self.missing))


class StreamTracker:
    """In-memory state of every stream; the pipeline persists max_seq and counters."""

    def __init__(self) -> None:
        self.streams: dict[tuple[str, str], Stream] = {}
        self.dirty: set[tuple[str, str]] = set()
        self.duplicates = 0
        self.gaps_opened = 0
        self._undo: dict[tuple[str, str], Stream | None] | None = None
        self._undo_counts = (0, 0)

    def begin(self) -> None:
        """Start a batch whose effect ``rollback`` can take back (if it could not be stored)."""
        self._undo = {}
        self._undo_counts = (self.duplicates, self.gaps_opened)

    def commit(self) -> None:
        self._undo = None

    def rollback(self) -> None:
        undo, self._undo = self._undo, None
        if undo is None:
            return
        for key, before in undo.items():
            if before is None:
                del self.streams[key]
            else:
                self.streams[key] = before
        self.duplicates, self.gaps_opened = self._undo_counts

    def load(
        self,
        device_id: str,
        boot_id: str,
        max_seq: int,
        received: int,
        gaps: int,
        missing: Iterable[int] = (),
    ) -> None:
        self.streams[(device_id, boot_id)] = Stream(max_seq, received, gaps, set(missing))

    def accept(self, device_id: str, boot_id: str, seq: int) -> bool:
        """True if (device, boot, seq) is new; False if it is a duplicate."""
        key = (device_id, boot_id)
        stream = self.streams.get(key)
        undo = self._undo
        if undo is not None and key not in undo:
            undo[key] = None if stream is None else stream.copy()
        if stream is None:
            self.streams[key] = Stream(seq, 1)
            self.dirty.add(key)
            return True
        if seq > stream.max_seq:
            gap = seq - stream.max_seq - 1
            if gap:
                stream.gaps += gap
                self.gaps_opened += gap
                if len(stream.missing) + gap <= MAX_TRACKED_MISSING:
                    stream.missing.update(range(stream.max_seq + 1, seq))
            stream.max_seq = seq
        elif seq in stream.missing:
            stream.missing.discard(seq)
            stream.gaps -= 1
        else:
            self.duplicates += 1
            return False
        stream.received += 1
        self.dirty.add(key)
        return True

    def take_dirty(self) -> list[tuple[str, str, Stream]]:
        out = [(d, b, self.streams[(d, b)]) for d, b in self.dirty]
        self.dirty.clear()
        return out

    def total_gaps(self) -> int:
        return sum(s.gaps for s in self.streams.values())
