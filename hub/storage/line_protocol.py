"""InfluxDB line protocol for the telemetry store's one point shape, written without per-point
type dispatch.

Every point the hub writes is measurement ``telemetry``, one tag ``device_id``, float fields, and
a timestamp in nanoseconds. influxdb-client's ``Point.to_line_protocol`` serves any shape; for
this one it spent 12.5 µs per reading (four fields) choosing a formatter for each value and
timestamp, which was most of the CPU a hub worker on InfluxDB spends beyond one on SQLite. Here
the escaped series (measurement and tag) of each device and the escaped key of each metric are
kept, and a line is one join.

The output is byte for byte what ``Point`` writes: the same escapes (line protocol reference,
https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/), fields
sorted by key, whole floats without ``.0`` (still floats in line protocol), non-finite values
left out, and a reading with no finite value written as no line. tests/hub/test_line_protocol.py
checks it against influxdb-client.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from hub.storage.base import Reading

# The escapes of influxdb-client's Point (the line protocol's): measurement, keys and tag values.
_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
MAX_CACHED = 200_000
"""Series and field keys kept escaped, each; past it the cache starts again (a fleet's ids and
metrics are far fewer, so only ids that churn without end would reach it)."""


def _tag_value(value: str) -> str:
    escaped = value.translate(_KEY)
    if escaped.endswith("\\"):  # a trailing backslash would escape the separator after it
        escaped += " "
    return escaped


def _number(value: float) -> str:
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


class LineEncoder:
    """Readings (device, ts in seconds, {metric: value}) as line protocol, one tag per series."""

    def __init__(self, measurement: str, tag: str) -> None:
        self._measurement = measurement.translate(_MEASUREMENT)
        self._tag = tag.translate(_KEY)
        self._series: dict[str, str] = {}
        self._keys: dict[str, str] = {}

    def _series_of(self, tag_value: str) -> str:
        series = self._series.get(tag_value)
        if series is None:
            if len(self._series) >= MAX_CACHED:
                self._series.clear()
            escaped = _tag_value(tag_value)
            # An empty tag value is no tag at all, as influxdb-client writes it.
            series = (
                f"{self._measurement},{self._tag}={escaped} "
                if escaped
                else f"{self._measurement} "
            )
            self._series[tag_value] = series
        return series

    def _key_of(self, metric: str) -> str:
        key = self._keys.get(metric)
        if key is None:
            if len(self._keys) >= MAX_CACHED:
                self._keys.clear()
            key = self._keys[metric] = metric.translate(_KEY) + "="
        return key

    def line(self, tag_value: str, ts: float, data: Mapping[str, float]) -> str:
        """One reading's line; "" when none of its values is finite (InfluxDB takes no point
        without a field)."""
        keys = self._keys
        fields = []
        for metric, value in sorted(data.items()):
            number = float(value)
            if not math.isfinite(number):
                continue
            key = keys.get(metric) or self._key_of(metric)
            fields.append(key + _number(number))
        if not fields:
            return ""
        return f"{self._series_of(tag_value)}{','.join(fields)} {int(ts * 1e9)}"

    def encode(self, readings: Iterable[Reading]) -> bytes:
        """A write's body: every reading's line, newline-separated, UTF-8."""
        line = self.line
        lines = [text for device_id, ts, data in readings if (text := line(device_id, ts, data))]
        return "\n".join(lines).encode()
