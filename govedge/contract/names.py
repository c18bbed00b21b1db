"""The names the contract's messages carry: command names (cmd) and event kinds (event).

Declared once here; the agent's handlers, the hub's release rollout and the kiosks use these.
An event's ``kind`` on the wire stays an open name (a simulated scenario may raise its own); the
kinds below are those the product itself emits and acts on.
"""

from __future__ import annotations

from enum import StrEnum


class CommandName(StrEnum):
    """The commands an agent runs (cmd -> cmd/ack); see docs/agent.md ("Commands")."""

    PING = "ping"
    SELF_TEST = "self_test"
    RELOAD_CONFIG = "reload_config"
    RESTART_DRIVER = "restart_driver"
    PRINT_TEST_RECEIPT = "print_test_receipt"
    READ_CARD = "read_card"
    ROTATE_CERTIFICATE = "rotate_certificate"
    UPDATE = "update"  # only under the update launcher (edge_agent.update)


class EventKind(StrEnum):
    """Event kinds the agent emits."""

    CARD_INSERTED = "card_inserted"
    CARD_REMOVED = "card_removed"
    OUTBOX_DROPPED = "outbox_dropped"
    UPDATE_SUCCEEDED = "update_succeeded"
    UPDATE_FAILED = "update_failed"
    UPDATE_ROLLED_BACK = "update_rolled_back"
