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
    """One (device, boot id) stream: the highest seq seen, how many arrived, open gaps."""

    max_seq: int
    received: int = 0
    gaps: int = 0
    missing: set[int] = field(default_factory=set)
    first: int = 0
    """The seq this hub first saw of a stream it had no record of (0: loaded from the registry).
    Seqs below it are new to this hub, once each: the alarm lane may see a watched device's
    stream first, while the bulk lane still holds the readings sent before."""
    early: set[int] = field(default_factory=set)  # seqs below ``first`` accepted since

    def copy(self) -> Stream:
        """An independent copy (the missing set too), safe to persist while the stream moves on."""
        return Stream(self.max_seq, self.received, self.gaps, set(self.missing))


class StreamTracker:
    """In-memory state of every stream; the pipeline persists max_seq and counters.

    Two ingest paths (the alarm lane and the bulk telemetry writer) accept messages at once,
    each under the pipeline's lock, and store them later. A message accepted but then not
    stored is *forgotten* (its seq counts as missing again), so the broker's redelivery is taken
    rather than dropped as a repeat; and a stream with messages accepted but not yet stored is
    left out of what is persisted, so a restart never takes a stored max_seq for data it lost.
    """

    def __init__(self) -> None:
        self.streams: dict[tuple[str, str], Stream] = {}
        self.dirty: set[tuple[str, str]] = set()
        self.duplicates = 0
        self.gaps_opened = 0
        self._pending: dict[tuple[str, str], int] = {}

    def load(
        self,
        device_id: str,
        boot_id: str,
        max_seq: int,
        received: int,
        gaps: int,
        missing: Iterable[int] = (),
    ) -> None:
        """Restore a stream from its persisted state (at startup), replacing what is held for it."""
        self.streams[(device_id, boot_id)] = Stream(max_seq, received, gaps, set(missing))

    def accept(self, device_id: str, boot_id: str, seq: int) -> bool:
        """True if (device, boot, seq) is new; False if it is a duplicate.

        A new message stays pending (its stream is not persisted) until ``stored`` or
        ``forget`` is called for it.
        """
        key = (device_id, boot_id)
        stream = self.streams.get(key)
        if stream is None:
            self.streams[key] = Stream(seq, 1, first=seq)
        elif seq > stream.max_seq:
            gap = seq - stream.max_seq - 1
            if gap:
                stream.gaps += gap
                self.gaps_opened += gap
                if len(stream.missing) + gap <= MAX_TRACKED_MISSING:
                    stream.missing.update(range(stream.max_seq + 1, seq))
            stream.max_seq = seq
            stream.received += 1
        elif seq in stream.missing:
            stream.missing.discard(seq)
            stream.gaps -= 1
            stream.received += 1
        elif (
            seq < stream.first
            and seq not in stream.early
            and len(stream.early) < MAX_TRACKED_MISSING
        ):
            stream.early.add(seq)
            stream.received += 1
        else:
            self.duplicates += 1
            return False
        self.dirty.add(key)
        self._pending[key] = self._pending.get(key, 0) + 1
        return True

    def stored(self, accepted: Iterable[tuple[str, str, int]]) -> None:
        """These accepted messages are stored: their streams may be persisted."""
        pending = self._pending
        for device_id, boot_id, _seq in accepted:
            key = (device_id, boot_id)
            left = pending.get(key, 0) - 1
            if left > 0:
                pending[key] = left
            else:
                pending.pop(key, None)

    def forget(self, accepted: Iterable[tuple[str, str, int]], duplicates: int = 0) -> None:
        """These accepted messages were not stored: take their redelivery as new."""
        for device_id, boot_id, seq in accepted:
            stream = self.streams.get((device_id, boot_id))
            if stream is None:
                continue
            stream.received -= 1
            if seq in stream.early:
                stream.early.discard(seq)
                continue
            stream.missing.add(seq)
            stream.gaps += 1
        self.stored(accepted)
        self.duplicates -= duplicates

    def take_dirty(self) -> list[tuple[str, str]]:
        """Streams changed since the last call whose accepted messages are all stored; copy
        them with ``snapshot``, a few at a time."""
        ready = [k for k in self.dirty if k not in self._pending]
        self.dirty.difference_update(ready)
        return ready

    def snapshot(self, keys: Iterable[tuple[str, str]]) -> list[tuple[str, str, Stream]]:
        """Copies of these streams to persist; one with messages accepted since ``take_dirty``
        and not yet stored is left out, and dirty again (persisted once they are stored)."""
        out = []
        for key in keys:
            if key in self._pending:
                self.dirty.add(key)
            else:
                out.append((key[0], key[1], self.streams[key].copy()))
        return out

    def total_gaps(self) -> int:
        """Open gaps over every stream (a metric); safe from any thread."""
        return sum(s.gaps for s in list(self.streams.values()))  # any thread: a snapshot
