"""The wire contract: valid messages round-trip, malformed ones are refused with a reason."""

from __future__ import annotations

import json
import string

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govedge.contract import (
    Channel,
    Command,
    CommandAck,
    CommandAckData,
    CommandData,
    ConfigDesired,
    ConfigDesiredData,
    ConfigReported,
    ConfigReportedData,
    ContractError,
    Event,
    EventData,
    Health,
    HealthData,
    Status,
    StatusData,
    Telemetry,
    TopicError,
    channel_of,
    decode,
    decode_for_topic,
    encode,
    parse_topic,
    subscription,
    topic,
)
from govedge.contract.limits import DEFAULT_LIMITS
from govedge.contract.messages import DriverHealth

ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,20}\Z")
boots = st.from_regex(r"\A[A-Za-z0-9_-]{1,32}\Z")
seqs = st.integers(min_value=0, max_value=2**63 - 1)
stamps = st.floats(min_value=0, max_value=4e9, allow_nan=False)
metric_names = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.]{0,20}\Z")
names = st.text(alphabet=string.ascii_letters + "_-中文", min_size=1, max_size=20)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
scalars = st.one_of(st.none(), st.booleans(), finite, st.text(max_size=30))


def envelope() -> dict[str, st.SearchStrategy[object]]:
    return {"device_id": ids, "boot_id": boots, "seq": seqs, "ts": stamps}


messages = st.one_of(
    st.builds(
        Telemetry, data=st.dictionaries(metric_names, finite, min_size=1, max_size=8), **envelope()
    ),
    st.builds(
        Event,
        data=st.builds(
            EventData,
            kind=names,
            severity=st.sampled_from(["critical", "major", "minor", "warning", "info"]),
            message=st.text(max_size=100),
            attrs=st.dictionaries(names, scalars, max_size=5),
        ),
        **envelope(),
    ),
    st.builds(
        Health,
        data=st.builds(
            HealthData,
            drivers=st.dictionaries(
                names,
                st.builds(
                    DriverHealth,
                    state=st.sampled_from(
                        ["online", "offline", "no_device", "hardware_error", "user_error", "busy"]
                    ),
                    errors=st.integers(0, 10**6),
                ),
                max_size=5,
            ),
            counters=st.dictionaries(names, finite, max_size=5),
            uptime_s=st.floats(0, 1e9),
        ),
        **envelope(),
    ),
    st.builds(
        Status,
        data=st.builds(StatusData, online=st.booleans(), keepalive=st.integers(0, 65535)),
        **envelope(),
    ),
    st.builds(
        Command,
        data=st.builds(
            CommandData,
            id=st.from_regex(r"\A[a-z0-9-]{1,30}\Z"),
            name=names,
            args=st.dictionaries(names, scalars, max_size=4),
            expires_at=stamps,
        ),
        **envelope(),
    ),
    st.builds(
        CommandAck,
        data=st.builds(
            CommandAckData,
            id=st.from_regex(r"\A[a-z0-9-]{1,30}\Z"),
            ok=st.booleans(),
            error=st.text(max_size=50),
        ),
        **envelope(),
    ),
    st.builds(
        ConfigDesired,
        data=st.builds(
            ConfigDesiredData,
            version=st.integers(0, 10**9),
            config=st.dictionaries(names, scalars, max_size=5),
        ),
        **envelope(),
    ),
    st.builds(
        ConfigReported,
        data=st.builds(ConfigReportedData, version=st.integers(0, 10**9), ok=st.booleans()),
        **envelope(),
    ),
)


@settings(max_examples=500, deadline=None)
@given(messages)
def test_every_valid_message_round_trips(msg: object) -> None:
    payload = encode(msg)  # type: ignore[arg-type]
    assert decode(payload) == msg
    channel = channel_of(msg)  # type: ignore[arg-type]
    device_id, got_channel, again = decode_for_topic(
        topic(msg.device_id, channel),
        payload,  # type: ignore[attr-defined]
    )
    assert (device_id, got_channel, again) == (msg.device_id, channel, msg)  # type: ignore[attr-defined]


def _valid() -> dict[str, object]:
    return {
        "v": 1,
        "type": "telemetry",
        "device_id": "sensor-1",
        "boot_id": "b1",
        "seq": 7,
        "ts": 1700000000.5,
        "data": {"temperature": 21.5},
    }


def _reason(payload: bytes, topic_name: str = "gov/v1/sensor-1/telemetry") -> str:
    with pytest.raises(ContractError) as info:
        decode_for_topic(topic_name, payload)
    assert str(info.value).startswith(info.value.reason)
    return info.value.reason


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=120))
def test_truncated_payloads_are_refused(cut: int) -> None:
    payload = json.dumps(_valid()).encode()
    assert _reason(payload[: max(0, len(payload) - cut)]) in ("malformed_json", "schema")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"seq": "7"}, "schema"),
        ({"seq": -1}, "schema"),
        ({"ts": "yesterday"}, "schema"),
        ({"data": {"temperature": "hot"}}, "schema"),
        ({"data": {}}, "schema"),
        ({"data": {"bad name!": 1.0}}, "schema"),
        ({"device_id": "sensor/1"}, "schema"),
        ({"type": "gossip"}, "schema"),
        ({"extra": 1}, "schema"),
        ({"v": 2}, "unsupported_version"),
        ({"v": 99, "data": "new shape"}, "unsupported_version"),
        ({"device_id": "sensor-2"}, "device_mismatch"),
    ],
)
def test_malformed_messages_are_refused_with_their_reason(
    change: dict[str, object], reason: str
) -> None:
    msg = _valid() | change
    assert _reason(json.dumps(msg).encode()) == reason


def test_non_finite_values_are_refused() -> None:
    payload = json.dumps(_valid()).encode().replace(b"21.5", b"1e999")
    assert _reason(payload) in ("non_finite", "schema")
    assert _reason(json.dumps(_valid()).encode().replace(b"21.5", b"NaN")) == "malformed_json"


def test_missing_field_is_named() -> None:
    msg = _valid()
    del msg["boot_id"]
    with pytest.raises(ContractError, match="boot_id"):
        decode(json.dumps(msg).encode())


def test_oversized_payload_is_refused_before_parsing() -> None:
    msg = _valid()
    msg["data"] = {f"m{i}": 1.0 for i in range(10)}
    payload = json.dumps(msg).encode() + b" " * DEFAULT_LIMITS.max_payload_bytes
    assert _reason(payload) == "oversized"


def test_too_many_metrics_is_refused() -> None:
    msg = _valid() | {"data": {f"m{i}": 1.0 for i in range(DEFAULT_LIMITS.max_metrics + 1)}}
    assert _reason(json.dumps(msg).encode()) == "schema"


def test_message_on_the_wrong_channel_is_refused() -> None:
    assert _reason(json.dumps(_valid()).encode(), "gov/v1/sensor-1/event") == "channel_mismatch"


@pytest.mark.parametrize(
    "topic_name",
    [
        "gov/v1/sensor-1",
        "gov/v2/sensor-1/telemetry",
        "gov/v1/sensor-1/nonsense",
        "gov/v1/+/telemetry",
    ],
)
def test_bad_topics_are_refused(topic_name: str) -> None:
    assert _reason(json.dumps(_valid()).encode(), topic_name) == "bad_topic"


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_escape_as_other_errors(payload: bytes) -> None:
    try:
        decode(payload)
    except ContractError:
        pass


def test_topics() -> None:
    assert topic("kiosk-01", Channel.CMD_ACK) == "gov/v1/kiosk-01/cmd/ack"
    assert topic("kiosk-01", "config/desired", root="city/x") == "city/x/kiosk-01/config/desired"
    assert parse_topic("gov/v1/kiosk-01/config/reported") == ("kiosk-01", Channel.CONFIG_REPORTED)
    assert subscription(Channel.TELEMETRY) == "gov/v1/+/telemetry"
    for bad in ("", "a/b", "+", "#", "x" * 65):
        with pytest.raises(TopicError):
            topic(bad, Channel.TELEMETRY)


def test_encoding_is_compact_json() -> None:
    msg = Telemetry(device_id="s", boot_id="b", seq=1, ts=1.0, data={"t": 2.0})
    assert msgspec.json.decode(encode(msg)) == {
        "type": "telemetry",
        "v": 1,
        "device_id": "s",
        "boot_id": "b",
        "seq": 1,
        "ts": 1.0,
        "data": {"t": 2.0},
    }


def test_the_contract_owns_channels_severities_and_driver_states() -> None:
    """One declaration each: the hub's lanes and rules derive theirs from the contract's, and a
    driver's state decodes to govedge.health's enum (no second Literal beside it)."""
    from govedge.contract import DEVICE_CHANNELS, SEVERITIES, Channel, Health, decode
    from govedge.health import HealthState
    from hub.alarms.rules import SEVERITIES as RULE_SEVERITIES
    from hub.ingest.link import ALARM_CHANNELS, SUBSCRIBED

    assert set(SUBSCRIBED) == set(DEVICE_CHANNELS) and Channel.TELEMETRY not in ALARM_CHANNELS
    assert tuple(reversed(SEVERITIES)) == RULE_SEVERITIES and SEVERITIES[0] == "critical"
    wire = {
        "type": "health",
        "device_id": "dev-1",
        "boot_id": "b" * 16,
        "seq": 1,
        "ts": 1.0,
        "data": {"drivers": {"printer": {"state": "user_error"}}, "uptime_s": 1.0},
    }
    msg = decode(msgspec.json.encode(wire))
    assert isinstance(msg, Health)
    assert msg.data.drivers["printer"].state is HealthState.USER_ERROR
    wire["data"]["drivers"]["printer"]["state"] = "sleepy"
    with pytest.raises(ContractError, match="state"):
        decode(msgspec.json.encode(wire))


def test_the_stamper_fills_identity_once_for_every_sender() -> None:
    from govedge.contract import EnvelopeStamper

    clock = iter([100.0, 101.0])
    device = EnvelopeStamper("dev-1", "boot1", last_seq=41, clock=lambda: next(clock))
    first = device.stamp(Telemetry, {"t": 1.0})
    second = device.stamp(Event, EventData(kind="card_inserted"))
    assert (first.device_id, first.boot_id, first.seq, first.ts) == ("dev-1", "boot1", 42, 100.0)
    assert (second.seq, second.ts, channel_of(second)) == (43, 101.0, Channel.EVENT)
    # A seq and a time given by the caller (the agent's outbox, at commit) are kept.
    again = device.stamp(Telemetry, {"t": 1.0}, seq=7, ts=5.0)
    assert (again.seq, again.ts) == (7, 5.0)
    assert decode(encode(again)) == again
    # A sender to many devices (the hub) names each target, its seqs from its own counter.
    seqs = iter([9, 10])
    hub = EnvelopeStamper(None, "hubboot", next_seq=lambda: next(seqs))
    cmd = hub.stamp(Command, CommandData(id="c", name="ping", expires_at=2.0), to="dev-2")
    assert (cmd.device_id, cmd.boot_id, cmd.seq) == ("dev-2", "hubboot", 9)
    with pytest.raises(ValueError, match="to="):
        hub.stamp(Command, CommandData(id="c", name="ping", expires_at=2.0))
    assert len({EnvelopeStamper("d").boot_id for _ in range(3)}) == 3  # fresh boot ids


def test_check_refuses_before_sending_what_decode_refuses_on_receipt() -> None:
    """One rule set: a message built in process is not validated by its constructor; check()
    holds it to decode's rules and names the same reason the hub would count."""
    from govedge.contract import check

    ok = Event(device_id="d", boot_id="b", seq=1, ts=1.0, data=EventData(kind="k"))
    assert decode(check(ok)) == ok
    long_kind = Event(device_id="d", boot_id="b", seq=1, ts=1.0, data=EventData(kind="k" * 65))
    with pytest.raises(ContractError) as built:
        check(long_kind)
    with pytest.raises(ContractError) as received:
        decode(encode(long_kind))
    assert built.value.reason == received.value.reason == "schema"
    nan = Telemetry(device_id="d", boot_id="b", seq=1, ts=1.0, data={"t": float("nan")})
    with pytest.raises(ContractError) as built:
        check(nan)
    with pytest.raises(ContractError) as received:
        decode(encode(nan))  # JSON has no NaN: it travels as null
    assert built.value.reason == received.value.reason


def test_metric_problem_names_what_the_schema_and_decode_refuse() -> None:
    from govedge.contract import metric_problem

    assert metric_problem("temperature", 21.5) == ""
    assert "name" in metric_problem("9lives", 1.0)
    assert "name" in metric_problem("a" * 65, 1.0)
    assert "number" in metric_problem("t", "1.0")
    assert "inf" in metric_problem("t", float("inf"))
    for name in ("9lives", "a b", "a" * 65):
        bad = Telemetry(device_id="d", boot_id="b", seq=1, ts=1.0, data={name: 1.0})
        with pytest.raises(ContractError):
            decode(encode(bad))
