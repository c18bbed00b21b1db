"""ID-card reader: the time of a whole card read over a pty against the simulator, beside the
raw frame round trip (SAM status request and answer) measured in the same run; and the stream
parser's throughput on base-info answers, beside the bare XOR checksum of the same bytes.

    python -m bench.idcard_read
"""

from __future__ import annotations

import time

from bench.common import BenchResult
from drivers.idcard import commands as cmds
from drivers.idcard.codec import FrameParser, checksum, encode_response
from drivers.idcard.reader import SamSerialReader
from sim.idcard.deck import build_deck
from sim.idcard.server import IdCardSimulator

ROUND_TRIPS = 300
READS = 60
PARSE_FRAMES = 2000


def _mean_ms(func: object, count: int) -> float:
    assert callable(func)
    func()  # warm up
    started = time.perf_counter()
    for _ in range(count):
        func()
    return (time.perf_counter() - started) / count * 1000


def _read_latency() -> BenchResult:
    with IdCardSimulator("valid") as sim, SamSerialReader(sim.url, timeout=2.0) as reader:
        round_trip = _mean_ms(lambda: reader.transact(cmds.SAM_STATUS), ROUND_TRIPS)
        read = _mean_ms(reader.read_card, READS)
    return BenchResult(
        name="idcard read_card over pty (find, select, read base info, decode photo)",
        figure=read,
        unit="ms",
        baseline=round_trip,
        baseline_label="one SAM-status frame round trip",
        higher_is_better=False,
        goal="< 10 ms of host overhead; a real SAM_V at 115200 bd needs ~0.5-1 s per read",
        notes="a read is 3 round trips, one with a 1295-byte answer, plus text and photo decoding",
    )


def _parser_throughput() -> BenchResult:
    card = build_deck()["valid"]
    frame = encode_response(0x90, card.base_info(with_fingerprint=False))
    stream = frame * PARSE_FRAMES
    chunks = [stream[i : i + 256] for i in range(0, len(stream), 256)]

    def parse() -> None:
        parser = FrameParser()
        found = 0
        for chunk in chunks:
            found += len(parser.feed(chunk))
        assert found == PARSE_FRAMES

    def xor_only() -> None:
        for _ in range(PARSE_FRAMES):
            checksum(frame[5:-1])

    megabytes = len(stream) / 1e6
    parse_s = _mean_ms(parse, 3) / 1000
    xor_s = _mean_ms(xor_only, 3) / 1000
    return BenchResult(
        name="idcard stream parser, base-info answers in 256-byte chunks",
        figure=megabytes / parse_s,
        unit="MB/s",
        baseline=megabytes / xor_s,
        baseline_label="XOR checksum of the same frames, no framing",
        higher_is_better=True,
        goal="> 1 MB/s (a 115200 bd line carries 0.0115 MB/s)",
    )


def run() -> list[BenchResult]:
    """Run the ID-card read-latency and frame-parser benchmarks."""
    return [_read_latency(), _parser_throughput()]


if __name__ == "__main__":
    for result in run():
        print(result.line())
