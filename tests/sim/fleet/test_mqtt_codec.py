"""MQTT 3.1.1 packets against byte vectors written from the OASIS MQTT 3.1.1 specification."""

from __future__ import annotations

import pytest

from sim.fleet import mqtt_codec as mq


def test_connect_without_will() -> None:
    # 3.1: fixed header 0x10, remaining length 13; "MQTT", level 4, flags 0x02 (clean session),
    # keepalive 60; payload: client id "c".
    assert mq.connect("c", 60) == bytes.fromhex("100d00044d5154540402003c000163")


def test_connect_with_retained_qos1_will() -> None:
    # flags: clean 0x02 | will 0x04 | will QoS 1 (0x08) | will retain 0x20 = 0x2e
    packet = mq.connect("d", 30, will_topic="t", will_payload=b"x")
    assert packet == bytes.fromhex("101300044d515454042e001e000164000174000178")


def test_publish_qos1_and_qos0() -> None:
    # 3.3: 0x32 = PUBLISH, QoS 1; topic "a/b", packet id 10, payload "hi"
    assert mq.publish("a/b", b"hi", qos=1, packet_id=10) == bytes.fromhex("32090003612f62000a6869")
    # 0x31 = PUBLISH, QoS 0, retain; no packet id
    assert mq.publish("a", b"", retain=True) == bytes.fromhex("3103000161")
    assert mq.set_dup(bytes.fromhex("3203")) == bytes.fromhex("3a03")


def test_fixed_packets() -> None:
    assert mq.puback(10) == bytes.fromhex("4002000a")
    assert bytes.fromhex("c000") == mq.PINGREQ_PACKET
    assert bytes.fromhex("e000") == mq.DISCONNECT_PACKET


def test_remaining_length_of_321_is_two_bytes() -> None:
    # 2.2.3: 321 encodes as 0xC1 0x02
    packet = mq.publish("t", b"\0" * (321 - 3))
    assert packet[:3] == bytes.fromhex("30c102")
    assert len(packet) == 3 + 321


def test_reader_splits_a_stream_fed_byte_by_byte() -> None:
    stream = bytes.fromhex("20020000") + bytes.fromhex("4002000a") + mq.publish("t", b"y" * 200)
    reader = mq.PacketReader()
    packets = [p for i in range(len(stream)) for p in reader.feed(stream[i : i + 1])]
    assert [p.kind for p in packets] == [mq.CONNACK, mq.PUBACK, mq.PUBLISH]
    assert packets[0].connack_code == 0
    assert packets[1].packet_id == 10
    assert packets[2].body.endswith(b"y" * 200)


def test_reader_refuses_a_five_byte_length() -> None:
    with pytest.raises(mq.MqttProtocolError):
        mq.PacketReader().feed(bytes.fromhex("30ffffffff7f"))


def test_subscribe_and_a_received_publish() -> None:
    # 3.8: 0x82 = SUBSCRIBE (reserved flags 0010); packet id 7; filter "a/b" at QoS 1
    assert mq.subscribe(7, [("a/b", 1)]) == bytes.fromhex("820800070003612f6201")
    # a QoS 1 PUBLISH from the broker: topic, QoS, packet id and payload come back out
    (pkt,) = mq.PacketReader().feed(mq.publish("a/b", b"hi", qos=1, packet_id=10))
    assert pkt.message() == ("a/b", 1, 10, b"hi")
    (pkt,) = mq.PacketReader().feed(mq.publish("c", b"x"))
    assert pkt.message() == ("c", 0, 0, b"x")
    (short,) = mq.PacketReader().feed(bytes.fromhex("320400056162"))  # topic longer than body
    with pytest.raises(mq.MqttProtocolError):
        short.message()
