"""The stream tracker's deltas and their merge into a stream's shared record
(hub/ingest/dedup.py): the record must come out the same whatever the order of the saves."""

from __future__ import annotations

import itertools
import random

from hub.ingest.dedup import MAX_TRACKED_MISSING, Delta, Record, StreamTracker, merge, ranges


def _delta(*seqs: int, repeats: int = 0, doubled: tuple[int, ...] = ()) -> Delta:
    return Delta(ranges(seqs), set(doubled), repeats)


def _merged(*deltas: Delta) -> Record:
    record = Record()
    for delta in deltas:
        merge(record, delta)
    return record


def _fields(r: Record) -> tuple[int, int, int, int, list[int], int]:
    return (r.min_seq, r.max_seq, r.received, r.gaps, sorted(r.missing), r.duplicates)


def test_ranges_are_sorted_disjoint_runs() -> None:
    assert ranges([]) == []
    assert ranges([5, 1, 2, 3, 9, 7, 8]) == [(1, 3), (5, 5), (7, 9)]


def test_alternate_seqs_of_two_workers_merge_into_one_stream_with_its_real_gap_only() -> None:
    # Worker 1 took the odd seqs, worker 2 the even ones; seq 4 reached both (a QoS 1 copy);
    # seq 8 reached nobody.
    one = _delta(1, 3, 4, 5, 7, 9)
    two = _delta(2, 4, 6, 10)
    for order in ((one, two), (two, one)):
        assert _fields(_merged(*order)) == (1, 10, 9, 1, [8], 1)


def test_the_merged_record_does_not_depend_on_the_order_of_the_saves() -> None:
    rng = random.Random(21)
    seqs = [s for s in range(1, 200) if rng.random() > 0.05]  # a few real gaps
    copies = rng.sample(seqs, 7)
    shares: list[list[int]] = [[], [], []]
    for s in seqs + copies:
        shares[rng.randrange(3)].append(s)
    # Each worker saves its share in two or three deltas, at any time.
    deltas = []
    for share in shares:
        share = sorted(set(share))  # one worker dedups its own copies
        cut = rng.randrange(len(share))
        deltas += [_delta(*share[:cut]), _delta(*share[cut:])]
    deltas = [d for d in deltas if d.seqs]
    copies_across = sum(len(set(s)) for s in shares) - len(set(seqs))
    missing = sorted(set(range(min(seqs), max(seqs) + 1)) - set(seqs))
    expected = (min(seqs), max(seqs), len(seqs), len(missing), missing, copies_across)
    for order in itertools.islice(itertools.permutations(deltas), 0, None, 37):
        assert _fields(_merged(*order)) == expected


def test_repeats_and_the_other_lanes_copy() -> None:
    record = _merged(_delta(1, 2, 3, repeats=2))
    assert record.duplicates == 2  # dropped by the worker itself
    merge(record, _delta(2, doubled=(2,)))  # a watched reading's other copy, at another worker
    assert record.duplicates == 2
    merge(record, _delta(3))
    assert record.duplicates == 3
    assert record.received == 3


def test_a_gap_too_wide_to_list_is_counted_not_listed() -> None:
    record = _merged(_delta(1), _delta(MAX_TRACKED_MISSING + 3))
    assert record.gaps == MAX_TRACKED_MISSING + 1
    assert not record.missing
    assert not record.exact


def test_the_tracker_hands_out_what_it_accepted_since_its_last_save() -> None:
    t = StreamTracker()
    key = ("d", "b")
    for seq in (1, 2, 3, 5, 3):
        t.accept("d", "b", seq)
    t.count_repeats([key])  # the batch with the repeated 3 is stored
    t.stored([("d", "b", s) for s in (1, 2, 3, 5)])
    assert t.take_dirty() == [key]
    [(_, _, delta)] = t.snapshot([key])
    assert (delta.seqs, delta.repeats) == ([(1, 3), (5, 5)], 1)
    assert t.snapshot([key]) == []  # taken: nothing new since

    t.accept("d", "b", 6)
    t.accept("d", "b", 7)
    t.stored([("d", "b", 6)])
    t.forget([("d", "b", 7)])  # not stored: its redelivery is new, and it is not in the delta
    [(_, _, delta)] = t.snapshot(t.take_dirty())
    assert delta.seqs == [(6, 6)]
    t.restore([("d", "b", delta)])  # the save failed: handed out again
    [(_, _, again)] = t.snapshot(t.take_dirty())
    assert again.seqs == [(6, 6)]


def test_a_stream_with_messages_not_yet_stored_is_not_handed_out() -> None:
    t = StreamTracker()
    t.accept("d", "b", 1)
    assert t.take_dirty() == []
    t.stored([("d", "b", 1)])
    assert [d.seqs for _, _, d in t.snapshot(t.take_dirty())] == [[(1, 1)]]


def test_the_merged_record_becomes_the_trackers_view() -> None:
    # Worker 1 took 1, 3, 5: alone, it lists 2 and 4 as missing. Merged with worker 2's 2 and
    # 4, the record has no gap: a copy of 2 is then a repeat, and 6 is new.
    t = StreamTracker()
    for seq in (1, 3, 5):
        t.accept("d", "b", seq)
    t.stored([("d", "b", s) for s in (1, 3, 5)])
    assert t.streams[("d", "b")].gaps == 2
    [(_, _, delta)] = t.snapshot(t.take_dirty())
    record = _merged(_delta(2, 4), delta)
    t.refresh("d", "b", record)
    stream = t.streams[("d", "b")]
    assert (stream.max_seq, stream.received, stream.gaps, stream.missing) == (5, 5, 0, set())
    assert not t.accept("d", "b", 2)
    assert t.accept("d", "b", 6)


def test_a_record_with_unlisted_gaps_is_not_taken() -> None:
    t = StreamTracker()
    t.accept("d", "b", 1)
    t.stored([("d", "b", 1)])
    t.snapshot(t.take_dirty())
    t.refresh("d", "b", _merged(_delta(1), _delta(MAX_TRACKED_MISSING + 3)))
    assert t.streams[("d", "b")].max_seq == 1  # its unlisted seqs would have been refused


def test_a_loaded_record_takes_seqs_below_its_range_once() -> None:
    # Another worker saved 5..9 first; this worker, restarted, is given 2 again by the broker.
    t = StreamTracker()
    t.load("d", "b", 9, 5, 0, (), min_seq=5)
    assert t.accept("d", "b", 2)
    assert not t.accept("d", "b", 2)
    assert not t.accept("d", "b", 7)
