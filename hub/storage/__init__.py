"""Telemetry stores behind one interface: SQLite (embedded default) and InfluxDB (production)."""

from hub.storage.base import Point, TelemetryStore, open_store

__all__ = ["Point", "TelemetryStore", "open_store"]
