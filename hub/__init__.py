"""The hub: MQTT ingestion, device registry, telemetry store, rules and alarms, API and consoles."""
