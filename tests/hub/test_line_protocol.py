"""The telemetry store's line protocol against influxdb-client's own ``Point`` (the third-party
encoder), byte for byte, and against the line protocol reference's escapes."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest
from influxdb_client import Point, WritePrecision

from hub.storage.line_protocol import MAX_CACHED, LineEncoder


def _reference(device_id: str, ts: float, data: Mapping[str, float]) -> str:
    point = Point("telemetry").tag("device_id", device_id)  # type: ignore[no-untyped-call]
    for metric, value in data.items():
        point.field(metric, float(value))
    return str(point.time(int(ts * 1e9), WritePrecision.NS).to_line_protocol())


CASES: list[tuple[str, float, dict[str, float]]] = [
    ("kiosk-001", 1_733_500_000.125, {"temperature": 21.5, "humidity": 40.25}),
    ("sensor-7", 1_733_500_000.0, {"pm25": 12.0, "noise_db": 48.5, "aqi": 3}),
    ("odd id,with=chars and space", 1.5, {"a b": 1.0, "c,d": 2.5, "e=f": -3.25}),
    ("trailing\\", 2.0, {"x": 1e20, "y": 1e-7, "z": -0.0}),
    ("tabs\tand\nnewlines\r", 3.0, {"line\nbreak": 123456789.123}),
    ("nan-and-inf", 4.0, {"ok": 1.0, "nan": math.nan, "inf": math.inf, "minf": -math.inf}),
    ("unicode-设备", 5.0, {"温度": 22.5}),
    ("", 6.0, {"untagged": 7.0}),
]


@pytest.mark.parametrize(("device_id", "ts", "data"), CASES)
def test_each_line_is_what_influxdb_client_writes(
    device_id: str, ts: float, data: dict[str, float]
) -> None:
    assert LineEncoder("telemetry", "device_id").line(device_id, ts, data) == _reference(
        device_id, ts, data
    )


def test_the_escapes_are_the_references() -> None:
    line = LineEncoder("telemetry", "device_id").line("a b,c=d", 1.0, {"k=1 x": 2.0})
    assert line == r"telemetry,device_id=a\ b\,c\=d k\=1\ x=2 1000000000"


def test_a_reading_without_a_finite_value_is_no_line() -> None:
    encoder = LineEncoder("telemetry", "device_id")
    assert encoder.line("d", 1.0, {"a": math.nan, "b": math.inf}) == ""
    assert _reference("d", 1.0, {"a": math.nan}) == ""
    body = encoder.encode([("d", 1.0, {"a": math.nan}), ("d", 2.0, {"a": 1.5})])
    assert body == b"telemetry,device_id=d a=1.5 2000000000"
    assert encoder.encode([("d", 1.0, {"a": math.nan})]) == b""


def test_a_batch_is_the_lines_joined() -> None:
    encoder = LineEncoder("telemetry", "device_id")
    body = encoder.encode(CASES)
    expected = "\n".join(r for r in (_reference(*c) for c in CASES) if r)
    assert body == expected.encode()


def test_the_caches_start_again_when_full_and_stay_right() -> None:
    encoder = LineEncoder("telemetry", "device_id")
    for i in range(MAX_CACHED + 5):
        line = encoder.line(f"d{i}", 1.0, {"m": 1.0})
        assert line.startswith(f"telemetry,device_id=d{i} ")
    assert encoder.line("d3", 1.0, {"m": 1.0}) == _reference("d3", 1.0, {"m": 1.0})
