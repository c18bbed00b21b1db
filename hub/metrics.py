"""The hub's Prometheus metrics, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class HubMetrics:
    """The hub's Prometheus metrics, on a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ingested = Counter(
            "govedge_hub_ingested", "Valid messages accepted, by channel", ["channel"], registry=r
        )
        self.rejected = Counter(
            "govedge_hub_rejected", "Messages refused, by reason", ["reason"], registry=r
        )
        self.duplicates = Counter(
            "govedge_hub_duplicates", "Duplicates dropped by this worker", registry=r
        )
        self.gaps = Gauge(
            "govedge_hub_gaps",
            "Sequence numbers missing across streams (every worker's, from the streams table)",
            registry=r,
        )
        self.stream_duplicates = Gauge(
            "govedge_hub_streams_duplicates",
            "Messages received twice across streams, by one worker or two (from the streams table)",
            registry=r,
        )
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
        # Overload: each ingest lane's backlog in the hub, how far behind it stores, and what it
        # left waiting in the broker (the broker's own queue is reported from its $SYS topics).
        self.inbox = Gauge(
            "govedge_hub_lane_inbox", "Messages waiting in a lane's inbox", ["lane"], registry=r
        )
        self.unacked = Gauge(
            "govedge_hub_lane_unacked",
            "Messages a lane took from the broker and has not acknowledged (not yet stored)",
            ["lane"],
            registry=r,
        )
        self.lag = Gauge(
            "govedge_hub_lane_lag_seconds",
            "Age (device time) of the oldest message in a lane's last stored batch",
            ["lane"],
            registry=r,
        )
        self.paused = Gauge(
            "govedge_hub_lane_paused_seconds",
            "Seconds a lane stopped reading because its inbox was full (data deferred in the "
            "broker)",
            ["lane"],
            registry=r,
        )
        self.store_failures = Counter(
            "govedge_hub_lane_store_failures",
            "Attempts to store a batch that failed and were retried, by lane",
            ["lane"],
            registry=r,
        )
        self.lane_watched = Gauge(
            "govedge_hub_alarm_lane_devices",
            "Devices whose telemetry the alarm lane receives (-1: every device)",
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
