"""Prometheus metrics of the agent, read from its live state at each scrape (own registry)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from typing_extensions import override

from govedge.health import HealthState

if TYPE_CHECKING:
    from edge_agent.agent import Agent


class AgentCollector(Collector):
    """Messages produced, acknowledged, queued, dropped; reconnects; driver states."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    @override
    def collect(self) -> Iterator[Metric]:
        a = self.agent
        ob, link = a.outbox, a.link.counters
        yield CounterMetricFamily(
            "govedge_agent_messages_produced", "Messages committed to the outbox", ob.produced
        )
        yield CounterMetricFamily(
            "govedge_agent_messages_acknowledged",
            "Messages acknowledged by the broker",
            ob.acknowledged,
        )
        yield GaugeMetricFamily(
            "govedge_agent_messages_queued", "Messages in the outbox", ob.queued
        )
        yield GaugeMetricFamily(
            "govedge_agent_outbox_bytes", "Payload bytes in the outbox", ob.queued_bytes
        )
        yield CounterMetricFamily(
            "govedge_agent_messages_dropped",
            "Messages dropped oldest-first (outbox full or too old), since the outbox was made",
            ob.dropped,
        )
        yield CounterMetricFamily(
            "govedge_agent_messages_rejected", "Messages the broker refused", link.rejected
        )
        yield CounterMetricFamily(
            "govedge_agent_reconnects", "Reconnections to the broker", link.reconnects
        )
        yield GaugeMetricFamily(
            "govedge_agent_connected", "1 while connected to the broker", int(a.link.connected)
        )
        states = GaugeMetricFamily(
            "govedge_agent_driver_state",
            "1 for the state each driver is in",
            labels=["driver", "state"],
        )
        errors = CounterMetricFamily(
            "govedge_agent_driver_errors", "Driver errors", labels=["driver"]
        )
        for name, sup in a.supervisors.items():
            for state in HealthState:
                states.add_metric([name, state.value], 1.0 if sup.state == state else 0.0)
            errors.add_metric([name], sup.errors)
        yield states
        yield errors
        commands = CounterMetricFamily(
            "govedge_agent_events", "Agent event counters", labels=["kind"]
        )
        for key, value in a.counters.items():
            commands.add_metric([key], value)
        yield commands


def make_registry(agent: Agent) -> CollectorRegistry:
    """A Prometheus registry exporting the agent's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(agent))
    return registry
