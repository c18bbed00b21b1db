"""Duplicate and gap tracking per (device, boot id) stream.

QoS 1 may deliver a message twice; the agent's outbox replays after a crash. A message is new
if its seq is above the highest seen in its stream, or fills a gap seen earlier; anything else
is a duplicate. Gaps are counted as they open and uncounted when they fill.

With several hub workers (an MQTT 5 shared subscription) each sees only a share of a stream.
The tracker is then a cache of what its worker accepted: what it persists is not its view of a
stream but a *delta*, the seqs it accepted and stored since its last save, which ``merge`` folds
into the stream's shared record (the ``streams`` row, under its lock). The record is a function
of the seqs every worker accepted, not of the order in which they saved them: its range runs
from the lowest seq received to the highest, its gaps are the seqs of that range nobody
received, and a seq that two workers accepted is a duplicate. The tracker keeps deciding from
what its worker saw itself, and takes the merged record as its own view after each save.
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
    """The lowest seq of the stream this hub knows of (0: none, or a record written before the
    hub kept it). Seqs below it are new to this hub, once each: the alarm lane may see a watched
    device's stream first, while the bulk lane still holds the readings sent before; another
    worker may have saved a later part of the stream first."""
    early: set[int] = field(default_factory=set)  # seqs below ``first`` accepted since
    fresh: set[int] = field(default_factory=set)
    """Seqs accepted since the last save (the delta; at most MAX_TRACKED_MISSING)."""
    doubled: set[int] = field(default_factory=set)
    """Those of ``fresh`` whose copy comes on the other ingest lane too (a watched device's
    reading), possibly to another worker: that copy is no duplicate."""
    repeats: int = 0
    """Duplicates dropped since the last save (counted into the shared record)."""


@dataclass(slots=True)
class Delta:
    """What one worker adds to a stream's shared record at a save."""

    seqs: list[tuple[int, int]]
    """The seqs accepted and stored, as sorted, disjoint inclusive ranges."""
    doubled: set[int] = field(default_factory=set)
    repeats: int = 0


@dataclass(slots=True)
class Record:
    """A stream's shared record (its ``streams`` row): merged from every worker's deltas.

    ``received == 0``: no seq yet (a row just inserted to be locked).
    """

    min_seq: int = 0
    max_seq: int = 0
    received: int = 0
    gaps: int = 0
    missing: set[int] = field(default_factory=set)
    duplicates: int = 0

    @property
    def exact(self) -> bool:
        """Every missing seq is listed (no gap was too wide to list)."""
        return self.gaps == len(self.missing)


def ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, disjoint inclusive ranges covering ``seqs`` (a compact delta)."""
    out: list[tuple[int, int]] = []
    for s in sorted(seqs):
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


def _open(record: Record, lo: int, hi: int) -> None:
    """Seqs lo..hi (inclusive) are missing: a gap opens."""
    if hi < lo:
        return
    n = hi - lo + 1
    record.gaps += n
    if len(record.missing) + n <= MAX_TRACKED_MISSING:
        record.missing.update(range(lo, hi + 1))


def merge(record: Record, delta: Delta) -> Record:
    """Fold a worker's delta into a stream's shared record (in place; returned).

    A seq above the record's range extends it (the seqs between open gaps), as does one below
    it (the stream started earlier than the first save said); a listed missing seq fills its
    gap; any other seq in the range was received already, by this worker or another: a
    duplicate, unless its copy was expected on the other ingest lane. The result does not
    depend on the order in which deltas are merged (short of gaps too wide to list).
    """
    record.duplicates += delta.repeats
    for a, b in delta.seqs:
        if record.received == 0:
            record.min_seq = record.max_seq = a
            record.received = 1
            a += 1
            if a > b:
                continue
        lo, hi = record.min_seq, record.max_seq
        # The part inside the range: each seq fills a gap or is a duplicate.
        for s in range(max(a, lo), min(b, hi) + 1):
            if s in record.missing:
                record.missing.discard(s)
                record.gaps -= 1
                record.received += 1
            elif s not in delta.doubled:
                record.duplicates += 1
        if b > hi:  # above it: extends the range
            start = max(a, hi + 1)
            _open(record, hi + 1, start - 1)
            record.received += b - start + 1
            record.max_seq = b
        if a < lo:  # below it
            end = min(b, lo - 1)
            _open(record, end + 1, lo - 1)
            record.received += end - a + 1
            record.min_seq = a
    return record


class StreamTracker:
    """In-memory state of every stream; the pipeline merges what it accepted into the shared
    records (see the module).

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
        self._saves: dict[tuple[str, str], int] = {}  # how many deltas of a stream were saved

    def load(
        self,
        device_id: str,
        boot_id: str,
        max_seq: int,
        received: int,
        gaps: int,
        missing: Iterable[int] = (),
        min_seq: int = 0,
    ) -> None:
        """Restore a stream from its persisted state (at startup), replacing what is held for it."""
        self.streams[(device_id, boot_id)] = Stream(
            max_seq, received, gaps, set(missing), first=min_seq
        )

    def accept(self, device_id: str, boot_id: str, seq: int) -> bool:
        """True if (device, boot, seq) is new; False if it is a duplicate.

        A new message stays pending (its stream is not persisted) until ``stored`` or
        ``forget`` is called for it.
        """
        key = (device_id, boot_id)
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = Stream(seq, 1, first=seq)
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
        if len(stream.fresh) < MAX_TRACKED_MISSING:
            stream.fresh.add(seq)
        self.dirty.add(key)
        self._pending[key] = self._pending.get(key, 0) + 1
        return True

    def expect_copy(self, device_id: str, boot_id: str, seq: int) -> None:
        """This accepted seq comes on the other ingest lane too: not a duplicate when that copy
        reaches another worker."""
        stream = self.streams.get((device_id, boot_id))
        if stream is not None and seq in stream.fresh:
            stream.doubled.add(seq)

    def count_repeats(self, keys: Iterable[tuple[str, str]]) -> None:
        """Duplicates dropped (one per key; their batch is stored): counted at the next save."""
        for key in keys:
            stream = self.streams.get(key)
            if stream is not None:
                stream.repeats += 1
                self.dirty.add(key)

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
            stream.fresh.discard(seq)
            stream.doubled.discard(seq)
            if seq in stream.early:
                stream.early.discard(seq)
                continue
            stream.missing.add(seq)
            stream.gaps += 1
        self.stored(accepted)
        self.duplicates -= duplicates

    def save_marks(self, keys: Iterable[tuple[str, str, int]]) -> dict[tuple[str, str], int]:
        """For stored messages, each stream's count of saved deltas now: the stream's next save
        holds them (``stored`` was called, ``snapshot`` has not taken them), so they are in the
        shared record once ``saved`` says so."""
        saves = self._saves
        return {(d, b): saves.get((d, b), 0) for d, b, _ in keys}

    def saved(self, marks: dict[tuple[str, str], int]) -> bool:
        """Whether every stream of ``marks`` (``save_marks``) has been saved since."""
        saves = self._saves
        return all(saves.get(key, 0) > n for key, n in marks.items())

    def mark_saved(self, keys: Iterable[tuple[str, str]]) -> None:
        """These streams' deltas (``snapshot``) are committed to their shared records."""
        saves = self._saves
        for key in keys:
            saves[key] = saves.get(key, 0) + 1

    def take_dirty(self) -> list[tuple[str, str]]:
        """Streams changed since the last call whose accepted messages are all stored; take
        their deltas with ``snapshot``, a few at a time."""
        ready = [k for k in self.dirty if k not in self._pending]
        self.dirty.difference_update(ready)
        return ready

    def snapshot(self, keys: Iterable[tuple[str, str]]) -> list[tuple[str, str, Delta]]:
        """Take these streams' deltas (the tracker forgets them: ``restore`` gives them back if
        they could not be saved); a stream with messages accepted since ``take_dirty`` and not
        yet stored is left out, and dirty again (saved once they are stored)."""
        out = []
        for key in keys:
            if key in self._pending:
                self.dirty.add(key)
                continue
            stream = self.streams[key]
            if not stream.fresh and not stream.repeats:
                continue
            out.append(
                (key[0], key[1], Delta(ranges(stream.fresh), stream.doubled, stream.repeats))
            )
            stream.fresh = set()
            stream.doubled = set()
            stream.repeats = 0
        return out

    def restore(self, deltas: Iterable[tuple[str, str, Delta]]) -> None:
        """Deltas taken by ``snapshot`` that were not saved: saved with the next ones."""
        for device_id, boot_id, delta in deltas:
            key = (device_id, boot_id)
            stream = self.streams.get(key)
            if stream is None:
                continue
            for a, b in delta.seqs:
                stream.fresh.update(range(a, b + 1))
            stream.doubled |= delta.doubled
            stream.repeats += delta.repeats
            self.dirty.add(key)

    def refresh(self, device_id: str, boot_id: str, record: Record) -> None:
        """Take a stream's merged record (just saved, under the ingest lock) as this tracker's
        view: it knows then what every worker received, and lists no other worker's seqs as
        missing. A record whose gaps were too wide to list is not taken (its unlisted seqs would
        be refused); nor is a stream with messages accepted since its delta was taken."""
        key = (device_id, boot_id)
        stream = self.streams.get(key)
        if (
            stream is None
            or key in self._pending
            or stream.fresh
            or not record.exact
            or record.received == 0
        ):
            return
        stream.max_seq = record.max_seq
        stream.received = record.received
        stream.gaps = record.gaps
        stream.missing = set(record.missing)
        stream.first = record.min_seq
        stream.early = set()

    def total_gaps(self) -> int:
        """Open gaps over every stream (this worker's view); safe from any thread."""
        return sum(s.gaps for s in list(self.streams.values()))  # any thread: a snapshot
