"""Encoding and decoding of wire messages; the only entry point for bytes from MQTT."""

from __future__ import annotations

import math

import msgspec

from govedge.contract.limits import DEFAULT_LIMITS, METRIC_NAME_RE, Limits
from govedge.contract.messages import PROTOCOL_VERSION, Message, Telemetry, channel_of
from govedge.contract.topics import DEFAULT_ROOT, Channel, TopicError, parse_topic
from govedge.errors import GovedgeError


class ContractError(GovedgeError):
    """A message breaks the wire contract.

    ``reason`` is a short stable code for counters and logs (``oversized``, ``malformed_json``,
    ``schema``, ``unsupported_version``, ``bad_topic``, ``device_mismatch``, ``channel_mismatch``,
    ``non_finite``); the message says exactly what is wrong.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class _Head(msgspec.Struct):
    v: object = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Message)
_head_decoder = msgspec.json.Decoder(_Head)


def encode(msg: Message) -> bytes:
    """Serialise a message to its JSON bytes."""
    return _encoder.encode(msg)


def _explain_invalid(payload: bytes, exc: msgspec.ValidationError) -> ContractError:
    # Name an unknown version before the structural error that it probably causes.
    try:
        head = _head_decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        head = _Head()
    if head.v is not None and head.v != PROTOCOL_VERSION:
        return ContractError(
            "unsupported_version", f"version {head.v!r}, this side speaks {PROTOCOL_VERSION}"
        )
    return ContractError("schema", str(exc))


def decode(payload: bytes, limits: Limits = DEFAULT_LIMITS) -> Message:
    """Decode one message or raise ContractError with the reason."""
    if len(payload) > limits.max_payload_bytes:
        raise ContractError(
            "oversized", f"payload is {len(payload)} bytes, the limit is {limits.max_payload_bytes}"
        )
    try:
        msg: Message = _decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise _explain_invalid(payload, exc) from None
    except msgspec.DecodeError as exc:
        raise ContractError("malformed_json", str(exc)) from None
    if msg.v != PROTOCOL_VERSION:
        raise ContractError(
            "unsupported_version", f"version {msg.v!r}, this side speaks {PROTOCOL_VERSION}"
        )
    if isinstance(msg, Telemetry):
        for name, value in msg.data.items():
            if not math.isfinite(value):
                raise ContractError("non_finite", f"telemetry value {name!r} is {value}")
    return msg


def check(msg: Message, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Hold a message about to be sent to every rule a receiver applies; return its bytes.

    The rule set is :func:`decode`'s, the one the hub ingests with: a sender that checks here
    refuses exactly what the hub would, before it is queued (a message built in process is not
    validated by its constructor). Raises ContractError with the receiver's reason.
    """
    payload = encode(msg)
    decode(payload, limits)
    return payload


def metric_problem(name: str, value: object) -> str:
    """Why one telemetry quantity would break the contract, or "" if it is fine.

    For a sender that drops the bad quantities of a reading and sends the rest; the rules are
    the schema's (MetricName) and :func:`decode`'s (finite values)."""
    if not METRIC_NAME_RE.match(name):
        return f"invalid quantity name {name!r}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name!r} is not a number"
    if not math.isfinite(value):
        return f"telemetry value {name!r} is {value}"
    return ""


def decode_for_topic(
    topic_name: str,
    payload: bytes,
    root: str = DEFAULT_ROOT,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[str, Channel, Message]:
    """Decode a message received on ``topic_name`` and check it belongs there.

    The device id in the payload must equal the one in the topic (the broker's ACL vouches
    only for the topic), and the message type must fit the channel.
    """
    try:
        device_id, channel = parse_topic(topic_name, root)
    except TopicError as exc:
        raise ContractError("bad_topic", str(exc)) from None
    msg = decode(payload, limits)
    if msg.device_id != device_id:
        raise ContractError(
            "device_mismatch",
            f"payload names device {msg.device_id!r} on the topic of {device_id!r}",
        )
    expected = channel_of(msg)
    if expected != channel:
        raise ContractError(
            "channel_mismatch", f"a {expected.value} message on the {channel.value} channel"
        )
    return device_id, channel, msg
