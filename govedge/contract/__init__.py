"""The wire contract between devices and the hub: topics, envelope, message types and limits.

This is the one place that defines what travels over MQTT. See docs/protocol.md.
"""

from govedge.contract.codec import (
    ContractError,
    check,
    decode,
    decode_for_topic,
    encode,
    metric_problem,
)
from govedge.contract.limits import DEFAULT_LIMITS, Limits
from govedge.contract.messages import (
    PROTOCOL_VERSION,
    SEVERITIES,
    Command,
    CommandAck,
    CommandAckData,
    CommandData,
    ConfigDesired,
    ConfigDesiredData,
    ConfigReported,
    ConfigReportedData,
    Envelope,
    Event,
    EventData,
    Health,
    HealthData,
    Message,
    Severity,
    Status,
    StatusData,
    Telemetry,
    channel_of,
)
from govedge.contract.names import CommandName, EventKind
from govedge.contract.stamp import EnvelopeStamper, new_boot_id
from govedge.contract.topics import (
    DEVICE_CHANNELS,
    Channel,
    TopicError,
    parse_topic,
    subscription,
    topic,
)

__all__ = [
    "DEFAULT_LIMITS",
    "DEVICE_CHANNELS",
    "PROTOCOL_VERSION",
    "SEVERITIES",
    "Channel",
    "Command",
    "CommandAck",
    "CommandAckData",
    "CommandData",
    "CommandName",
    "ConfigDesired",
    "ConfigDesiredData",
    "ConfigReported",
    "ConfigReportedData",
    "ContractError",
    "Envelope",
    "EnvelopeStamper",
    "Event",
    "EventData",
    "EventKind",
    "Health",
    "HealthData",
    "Limits",
    "Message",
    "Severity",
    "Status",
    "StatusData",
    "Telemetry",
    "TopicError",
    "channel_of",
    "check",
    "decode",
    "decode_for_topic",
    "encode",
    "metric_problem",
    "new_boot_id",
    "parse_topic",
    "subscription",
    "topic",
]
