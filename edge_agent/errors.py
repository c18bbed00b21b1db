"""The edge agent's exception hierarchy."""

from __future__ import annotations

from govedge.errors import GovedgeError


class AgentError(GovedgeError):
    """Root of the agent's own errors."""


class StoreError(AgentError):
    """The agent's database (edge_agent.database) cannot be opened or written."""


class OutboxError(StoreError):
    """The on-disk outbox cannot be opened or written."""


class DeviceStateError(StoreError):
    """The device state (command ledger, running config) cannot be read or written."""


class CommandError(AgentError):
    """A command cannot run: unknown name, bad arguments, no device with the capability."""


class SignatureError(AgentError):
    """A desired config is unsigned or its signature does not verify against the hub's key."""
