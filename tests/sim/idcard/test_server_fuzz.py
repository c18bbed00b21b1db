"""The simulator's request handling never crashes on random bytes: every frame it can extract
gets an answer frame, whatever the command."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.idcard.codec import MIN_COMMAND_LENGTH, Command, FrameParser, Response
from sim.idcard.server import IdCardSimulator

SIM = IdCardSimulator("valid")


@settings(
    max_examples=10_000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.binary(max_size=200))
def test_random_requests_get_answers(data: bytes) -> None:
    # Random bytes, then the same bytes framed as a command body: both paths of the simulator.
    framed = b"\xaa\xaa\xaa\x96\x69" + (len(data[:50]) + 1).to_bytes(2, "big") + data[:50]
    check = 0
    for byte in framed[5:]:
        check ^= byte
    parser = FrameParser(min_length=MIN_COMMAND_LENGTH)
    for body in parser.feed(data + framed + bytes([check])):
        answer = SIM._answer(Command.decode(body))
        (reply,) = FrameParser().feed(answer)
        assert Response.decode(reply).sw3 in {0x90, 0x9F, 0x91, 0x80, 0x81, 0x41, 0x21}
