"""The telemetry store interface, and opening a store from its URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from hub.errors import ValidationError

Aggregate = Literal["mean", "min", "max", "count", "sum", "last"]
AGGREGATES: tuple[str, ...] = ("mean", "min", "max", "count", "sum", "last")


@dataclass(frozen=True, slots=True)
class Point:
    """One measured value."""

    device_id: str
    metric: str
    ts: float
    value: float


Reading = tuple[str, float, Mapping[str, float]]
"""One telemetry message's values: (device id, ts, metric -> value)."""


class TelemetryStore(Protocol):
    """Blocking store operations; the hub calls them from worker threads."""

    def write(self, points: Sequence[Point]) -> None:
        """Store a batch. Writing the same (device, metric, ts) twice stores it once."""

    def write_readings(self, readings: Sequence[Reading]) -> None:
        """Store a batch of whole messages: the ingest path, the same rows as ``write``."""

    def query(
        self, device_id: str, metric: str | None, start: float, end: float, limit: int
    ) -> list[dict[str, Any]]:
        """Raw points in [start, end), oldest first: {ts, metric, value}."""

    def aggregate(
        self, device_id: str, metric: str, start: float, end: float, every_s: int, fn: Aggregate
    ) -> list[dict[str, Any]]:
        """One value per ``every_s`` window in [start, end): {ts (window start), value}."""

    def latest(self, device_id: str) -> dict[str, dict[str, float]]:
        """The newest value of each metric: metric -> {ts, value}."""

    def close(self) -> None:
        """Write out what is still buffered and release the files or connections; the store is
        not used after this."""


def open_store(url: str, **options: Any) -> TelemetryStore:
    """``sqlite:///path/telemetry.db`` or ``influxdb://host:port/bucket?org=&token=``."""
    if url.startswith("sqlite:///"):
        from hub.storage.sqlite_store import SQLiteTelemetryStore

        return SQLiteTelemetryStore(url[len("sqlite:///") :], **options)
    if url.startswith(("influxdb://", "influxdbs://")):
        from hub.storage.influx_store import InfluxTelemetryStore

        return InfluxTelemetryStore.from_url(url, **options)
    raise ValidationError(
        f"telemetry store URL {url!r}: use sqlite:///PATH or influxdb://HOST:PORT/BUCKET"
    )
