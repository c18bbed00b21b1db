"""Assembling a complete agent (with commands, remote configs and the local API) from a file."""

from __future__ import annotations

from pathlib import Path

from edge_agent.agent import Agent, DriverFactory
from firmware_configs.schema import load_device_config


def build_agent(config_path: str | Path, *, driver_factory: DriverFactory | None = None) -> Agent:
    """Load and check the device config at ``config_path`` and compose its agent."""
    config = load_device_config(config_path)
    if driver_factory is None:
        agent = Agent(config, config_path=config_path)
    else:
        agent = Agent(config, config_path=config_path, driver_factory=driver_factory)
    _attach_extensions(agent)
    return agent


def _attach_extensions(agent: Agent) -> None:
    """Commands, remote configs and (when configured) the local device API."""
    from edge_agent.commands import CommandService
    from edge_agent.desired import DesiredConfigService

    CommandService(agent).attach()
    DesiredConfigService(agent).attach()
    if agent.config.local_api is not None:
        from edge_agent.local_api import LocalApi

        LocalApi(agent).attach()
        if any(d.kind == "gnss" for d in agent.driver_configs):  # an inspector terminal
            from edge_agent.evidence.service import EvidenceService

            EvidenceService(agent).attach()
