"""The wire contract between devices and the hub: topics, envelope, message types and limits.

This is the one place that defines what travels over MQTT. See docs/protocol.md.
"""

from govedge.contract.codec import ContractError, decode, decode_for_topic, encode
from govedge.contract.limits import DEFAULT_LIMITS, Limits
from govedge.contract.messages import (
    PROTOCOL_VERSION,
    Command,
    CommandAck,
    CommandAckData,
    CommandData,
    ConfigDesired,
    ConfigDesiredData,
    ConfigReported,
    ConfigReportedData,
    Event,
    EventData,
    Health,
    HealthData,
    Message,
    Status,
    StatusData,
    Telemetry,
    channel_of,
)
from govedge.contract.topics import Channel, TopicError, parse_topic, subscription, topic

__all__ = [
    "DEFAULT_LIMITS",
    "PROTOCOL_VERSION",
    "Channel",
    "Command",
    "CommandAck",
    "CommandAckData",
    "CommandData",
    "ConfigDesired",
    "ConfigDesiredData",
    "ConfigReported",
    "ConfigReportedData",
    "ContractError",
    "Event",
    "EventData",
    "Health",
    "HealthData",
    "Limits",
    "Message",
    "Status",
    "StatusData",
    "Telemetry",
    "TopicError",
    "channel_of",
    "decode",
    "decode_for_topic",
    "encode",
    "parse_topic",
    "subscription",
    "topic",
]
