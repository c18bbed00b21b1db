"""The updater's exceptions (under the agent's AgentError)."""

from __future__ import annotations

from edge_agent.errors import AgentError


class UpdateError(AgentError):
    """An update could not proceed; the running release is untouched."""
