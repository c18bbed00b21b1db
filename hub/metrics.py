"""The hub's Prometheus metrics, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ingested = Counter(
            "govedge_hub_ingested", "Valid messages accepted, by channel", ["channel"], registry=r
        )
        self.rejected = Counter(
            "govedge_hub_rejected", "Messages refused, by reason", ["reason"], registry=r
        )
        self.duplicates = Counter("govedge_hub_duplicates", "Duplicates dropped", registry=r)
        self.gaps = Gauge("govedge_hub_gaps", "Sequence numbers missing across streams", registry=r)
        self.queue_depth = Gauge(
            "govedge_hub_queue_depth", "Messages waiting in ingest", registry=r
        )
        self.points = Counter("govedge_hub_points_written", "Telemetry points written", registry=r)
        self.write_latency = Histogram(
            "govedge_hub_write_seconds",
            "Time to process and store one ingest batch",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.online = Gauge("govedge_hub_devices_online", "Devices online", registry=r)
        self.broker_backlog = Gauge(
            "govedge_hub_broker_backlog",
            "What the broker holds (retained and queued for persistent sessions), from its $SYS",
            ["unit"],
            registry=r,
        )
        self.broker_backlog_limit = Gauge(
            "govedge_hub_broker_backlog_limit",
            "The broker's queue limit for this hub's session, from the hub config",
            ["unit"],
            registry=r,
        )
        self.commands = Counter(
            "govedge_hub_commands", "Command state changes, by state", ["state"], registry=r
        )
