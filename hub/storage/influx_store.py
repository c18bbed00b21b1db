"""The production telemetry store: InfluxDB through influxdb-client.

Writes go through influxdb-client's synchronous write API (/api/v2/write), which InfluxDB 2 and 3
serve natively and InfluxDB 1.8+ serves through its compatibility API (bucket "db/rp"). The hub
batches itself and acknowledges a message only once its batch is stored, so a write returns only
after InfluxDB took it, and raises when it did not: a batching writer that flushed later would
have let the hub acknowledge points it could still lose (InfluxDB stopped, retries run out).
Reads use InfluxQL on /query, which InfluxDB 1.x, 2.x (with a DBRP mapping) and 3.x all serve.
Each point is measurement ``telemetry``, tag ``device_id``, one field per metric, written as line
protocol by hub/storage/line_protocol.py (the client's generic ``Point`` cost more CPU per reading
than the rest of ingestion did).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import urllib3
from influxdb_client import InfluxDBClient
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.write_api import SYNCHRONOUS
from typing_extensions import override

from hub.errors import StorageError, ValidationError
from hub.storage.base import AGGREGATES, Aggregate, Point, Reading, TelemetryStore
from hub.storage.line_protocol import LineEncoder

MEASUREMENT = "telemetry"
_FN = {"mean": "MEAN", "min": "MIN", "max": "MAX", "count": "COUNT", "sum": "SUM", "last": "LAST"}


def _ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxTelemetryStore(TelemetryStore):
    """Telemetry in InfluxDB: batched writes, InfluxQL reads."""

    def __init__(
        self,
        base_url: str,
        bucket: str,
        org: str = "-",
        token: str = "",
        database: str = "",
        retention_policy: str = "",
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.bucket = bucket
        self.org = org
        self.token = token
        db, _, rp = bucket.partition("/")
        self.database = database or db
        self.retention_policy = retention_policy or rp
        self._client = InfluxDBClient(
            url=self.base_url, token=token, org=org, timeout=int(timeout_s * 1000)
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)
        self._http = urllib3.PoolManager(num_pools=2, maxsize=4)
        self._lines = LineEncoder(MEASUREMENT, "device_id")

    @classmethod
    def from_url(cls, url: str, **options: Any) -> InfluxTelemetryStore:
        """``influxdb://host:8086/bucket?org=ORG&token=TOKEN`` (influxdbs:// for HTTPS)."""
        parts = urlsplit(url)
        bucket = parts.path.lstrip("/")
        if not bucket or not parts.hostname:
            raise ValidationError(f"InfluxDB URL {url!r} needs a host and a bucket")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        scheme = "https" if parts.scheme == "influxdbs" else "http"
        base = f"{scheme}://{parts.hostname}:{parts.port or 8086}"
        return cls(
            base,
            bucket,
            org=query.get("org", "-"),
            token=query.get("token", ""),
            database=query.get("db", ""),
            retention_policy=query.get("rp", ""),
            **options,
        )

    def _send(self, body: bytes) -> None:
        if not body:  # no finite value in the batch: nothing InfluxDB would take
            return
        try:
            # influxdb-client's default precision (nanoseconds) is the lines' own.
            self._write.write(bucket=self.bucket, org=self.org, record=body)
        except (InfluxDBError, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"InfluxDB write failed: {str(exc)[:300]}") from None

    @override
    def write(self, points: Sequence[Point]) -> None:
        self._send(self._lines.encode((p.device_id, p.ts, {p.metric: p.value}) for p in points))

    @override
    def write_readings(self, readings: Sequence[Reading]) -> None:
        self._send(self._lines.encode(readings))

    def flush(self) -> None:
        """Nothing to do: every write is stored when it returns (kept for callers)."""

    def influxql(self, query: str) -> list[dict[str, Any]]:
        """Run one InfluxQL query; return its series (name, columns, values)."""
        params = {"db": self.database, "q": query, "epoch": "ms"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        try:
            resp = self._http.request(
                "GET", f"{self.base_url}/query?{urlencode(params)}", headers=headers, timeout=30
            )
        except urllib3.exceptions.HTTPError as exc:
            raise StorageError(f"InfluxDB query failed: {exc}") from None
        if resp.status != 200:
            raise StorageError(f"InfluxDB query failed ({resp.status}): {resp.data[:200]!r}")
        body = json.loads(resp.data)
        series: list[dict[str, Any]] = []
        for result in body.get("results", []):
            if "error" in result:
                raise StorageError(f"InfluxDB query failed: {result['error']}")
            series.extend(result.get("series", []))
        return series

    def _where(self, device_id: str, start: float, end: float) -> str:
        return (
            f"device_id = {_literal(device_id)} AND time >= {int(start * 1e9)} "
            f"AND time < {int(end * 1e9)}"
        )

    @override
    def query(
        self, device_id: str, metric: str | None, start: float, end: float, limit: int
    ) -> list[dict[str, Any]]:
        fields = _ident(metric) if metric else "*"
        out: list[dict[str, Any]] = []
        q = (
            f"SELECT {fields} FROM {MEASUREMENT} "  # noqa: S608 - quoted by _ident, _literal
            f"WHERE {self._where(device_id, start, end)} "
            f"ORDER BY time ASC LIMIT {int(limit)}"
        )
        for s in self.influxql(q):
            cols = s["columns"]
            for row in s["values"]:
                ts = row[0] / 1000.0
                for name, value in zip(cols[1:], row[1:], strict=True):
                    if value is not None and name != "device_id":
                        out.append({"ts": ts, "metric": name, "value": value})
        return out[:limit]

    @override
    def aggregate(
        self, device_id: str, metric: str, start: float, end: float, every_s: int, fn: Aggregate
    ) -> list[dict[str, Any]]:
        if fn not in AGGREGATES:
            raise ValidationError(f"unknown aggregate {fn!r}")
        q = (
            f"SELECT {_FN[fn]}({_ident(metric)}) "  # noqa: S608 - quoted by _ident, _literal
            f"FROM {MEASUREMENT} "
            f"WHERE {self._where(device_id, start, end)} GROUP BY time({int(every_s)}s) fill(none)"
        )
        return [
            {"ts": row[0] / 1000.0, "value": row[1]}
            for s in self.influxql(q)
            for row in s["values"]
            if row[1] is not None
        ]

    @override
    def latest(self, device_id: str) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        keys = self.influxql(f"SHOW FIELD KEYS FROM {MEASUREMENT}")
        names = [row[0] for s in keys for row in s["values"]]
        for name in names:
            q = (
                f"SELECT LAST({_ident(name)}) "  # noqa: S608 - quoted by _ident, _literal
                f"FROM {MEASUREMENT} "
                f"WHERE device_id = {_literal(device_id)}"
            )
            for s in self.influxql(q):
                for row in s["values"]:
                    if row[1] is not None:
                        out[name] = {"ts": row[0] / 1000.0, "value": row[1]}
        return out

    @override
    def close(self) -> None:
        # influxdb-client leaves both close() methods unannotated.
        self._write.close()  # type: ignore[no-untyped-call]
        self._client.close()  # type: ignore[no-untyped-call]
        self._http.clear()
