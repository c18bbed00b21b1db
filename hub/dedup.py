"""Duplicate and gap tracking per (device, boot id) stream.

QoS 1 may deliver a message twice; the agent's outbox replays after a crash. A message is new
if its seq is above the highest seen in its stream, or fills a gap seen earlier; anything else
is a duplicate. Gaps are counted as they open and uncounted when they fill.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_TRACKED_MISSING = 10_000


@dataclass(slots=True)
class Stream:
    max_seq: int
    received: int = 0
    gaps: int = 0
    missing: set[int] = field(default_factory=set)


class StreamTracker:
    """In-memory state of every stream; the pipeline persists max_seq and counters."""

    def __init__(self) -> None:
        self.streams: dict[tuple[str, str], Stream] = {}
        self.dirty: set[tuple[str, str]] = set()
        self.duplicates = 0
        self.gaps_opened = 0

    def load(self, device_id: str, boot_id: str, max_seq: int, received: int, gaps: int) -> None:
        self.streams[(device_id, boot_id)] = Stream(max_seq, received, gaps)

    def accept(self, device_id: str, boot_id: str, seq: int) -> bool:
        """True if (device, boot, seq) is new; False if it is a duplicate."""
        key = (device_id, boot_id)
        stream = self.streams.get(key)
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
