"""The generated Mosquitto configuration, enforced by a real Mosquitto over mutual TLS.

Ordering makes "nothing arrived" checks exact without sleeping: Mosquitto handles one client's
packets in order and delivers a publish to every subscriber before it sends the PUBACK, so once
a later message from the same sender has arrived, a forbidden earlier one would have too.
"""

from __future__ import annotations

import pytest

from provisioning.broker_config import render_acl

ROOT = "gov/v1"
NOT_AUTHORIZED = 135  # MQTT 5 reason code 0x87


def test_device_publishes_its_own_channels_and_the_hub_reads_them(net) -> None:
    hub = net.connected("hub")
    assert [rc.value for rc in hub.subscribe(f"{ROOT}/#")] == [1]
    dev = net.connected("dev-a")
    for channel in ("telemetry", "event", "health", "status", "cmd/ack", "config/reported"):
        rc = dev.publish(f"{ROOT}/dev-a/{channel}", channel.encode())
        assert not rc.is_failure, channel
        assert hub.expect() == (f"{ROOT}/dev-a/{channel}", channel.encode())


def test_device_receives_its_commands_and_desired_config_from_the_hub(net) -> None:
    dev = net.connected("dev-a")
    dev.subscribe(f"{ROOT}/dev-a/cmd")
    dev.subscribe(f"{ROOT}/dev-a/config/desired")
    hub = net.connected("hub")
    assert not hub.publish(f"{ROOT}/dev-a/cmd", b"reboot").is_failure
    assert dev.expect() == (f"{ROOT}/dev-a/cmd", b"reboot")
    assert not hub.publish(f"{ROOT}/dev-a/config/desired", b"v2", retain=True).is_failure
    assert dev.expect() == (f"{ROOT}/dev-a/config/desired", b"v2")
    hub.publish(f"{ROOT}/dev-a/config/desired", b"", retain=True)  # clear the retained config


def test_device_cannot_publish_in_another_devices_name(net) -> None:
    hub = net.connected("hub")
    hub.subscribe(f"{ROOT}/#")
    victim = net.connected("dev-b")
    victim.subscribe(f"{ROOT}/dev-b/cmd")
    rogue = net.connected("dev-a")
    # forged telemetry in dev-b's name, and a forged command to dev-b: refused with 0x87
    assert rogue.publish(f"{ROOT}/dev-b/telemetry", b"forged").value == NOT_AUTHORIZED
    assert rogue.publish(f"{ROOT}/dev-b/cmd", b"unlock").value == NOT_AUTHORIZED
    # a device may not write its own cmd or desired config either (only the hub does)
    assert rogue.publish(f"{ROOT}/dev-a/cmd", b"x").value == NOT_AUTHORIZED
    assert rogue.publish(f"{ROOT}/dev-a/config/desired", b"x").value == NOT_AUTHORIZED
    assert rogue.publish("elsewhere/topic", b"x").value == NOT_AUTHORIZED
    # barrier: a later allowed message from the same sender arrives, the forged ones never did
    rogue.publish(f"{ROOT}/dev-a/telemetry", b"allowed")
    assert hub.expect() == (f"{ROOT}/dev-a/telemetry", b"allowed")
    assert hub.pending() == []
    hub.publish(f"{ROOT}/dev-b/cmd", b"real")
    assert victim.expect() == (f"{ROOT}/dev-b/cmd", b"real")
    assert victim.pending() == []


def test_device_cannot_read_another_devices_topics(net) -> None:
    snoop = net.connected("dev-a")
    for flt in (f"{ROOT}/dev-b/cmd", f"{ROOT}/dev-b/telemetry", f"{ROOT}/#", "#"):
        snoop.subscribe(flt)
    snoop.subscribe(f"{ROOT}/dev-a/cmd")
    other = net.connected("dev-b")
    hub = net.connected("hub")
    other.publish(f"{ROOT}/dev-b/telemetry", b"private")
    hub.publish(f"{ROOT}/dev-b/cmd", b"for-b-only")
    hub.publish(f"{ROOT}/dev-a/cmd", b"for-a")  # barrier: same sender, later
    assert snoop.expect() == (f"{ROOT}/dev-a/cmd", b"for-a")
    # overlapping filters ('#', 'gov/v1/#', its own cmd) may each deliver the allowed message;
    # nothing else ever arrives
    assert set(snoop.pending()) <= {(f"{ROOT}/dev-a/cmd", b"for-a")}


def test_device_cannot_read_the_fleets_telemetry(net) -> None:
    snoop = net.connected("dev-a")
    snoop.subscribe(f"{ROOT}/+/telemetry")
    snoop.subscribe(f"{ROOT}/dev-a/cmd")
    other = net.connected("dev-b")
    other.publish(f"{ROOT}/dev-b/telemetry", b"1")
    # dev-a's own telemetry is write-only for it as well
    snoop.publish(f"{ROOT}/dev-a/telemetry", b"2")
    net.connected("hub").publish(f"{ROOT}/dev-a/cmd", b"barrier")
    assert snoop.expect() == (f"{ROOT}/dev-a/cmd", b"barrier")
    assert snoop.pending() == []


def test_client_id_does_not_matter_only_the_certificate(net) -> None:
    """A device that calls itself dev-b in its client id is still dev-a to the ACL, and does
    not take dev-b's session over (the broker replaces client ids with certificate names)."""
    hub = net.connected("hub")
    hub.subscribe(f"{ROOT}/#")
    victim = net.connected("dev-b")
    victim.subscribe(f"{ROOT}/dev-b/cmd")
    liar = net.peer("dev-a", client_id="dev-b")
    assert liar.connect() == "ok"
    assert liar.publish(f"{ROOT}/dev-b/telemetry", b"x").value == NOT_AUTHORIZED
    liar.publish(f"{ROOT}/dev-a/telemetry", b"mine")
    assert hub.expect() == (f"{ROOT}/dev-a/telemetry", b"mine")
    assert hub.pending() == []
    hub.publish(f"{ROOT}/dev-b/cmd", b"still-here")
    assert victim.expect() == (f"{ROOT}/dev-b/cmd", b"still-here")
    assert victim.client.is_connected() and not victim._closed


def test_hub_reads_everything_and_commands_any_device(net) -> None:
    hub = net.connected("hub")
    hub.subscribe(f"{ROOT}/#")
    for device in ("dev-a", "dev-b"):
        dev = net.connected(device)
        dev.subscribe(f"{ROOT}/{device}/cmd")
        dev.publish(f"{ROOT}/{device}/health", b"ok")
        assert hub.expect() == (f"{ROOT}/{device}/health", b"ok")
        assert not hub.publish(f"{ROOT}/{device}/cmd", b"ping").is_failure
        assert hub.expect() == (f"{ROOT}/{device}/cmd", b"ping")  # the hub sees its own cmd
        assert dev.expect() == (f"{ROOT}/{device}/cmd", b"ping")
    # the hub writes only cmd and config/desired: it cannot forge a device's telemetry
    assert hub.publish(f"{ROOT}/dev-a/telemetry", b"forged").value == NOT_AUTHORIZED


def test_connection_without_certificate_is_refused(net) -> None:
    assert net.peer(None, client_id="anonymous").connect() != "ok"


def test_plain_mqtt_on_the_tls_port_is_refused(net) -> None:
    import socket

    # MQTT 3.1.1 CONNECT, clean session, keepalive 60, empty client id (MQTT 3.1.1 §3.1)
    connect = bytes([0x10, 0x0C, 0x00, 0x04]) + b"MQTT" + bytes([0x04, 0x02, 0x00, 0x3C, 0, 0])
    with socket.create_connection((net.host, net.port), timeout=5) as sock:
        sock.sendall(connect)
        answer = b""
        try:
            while chunk := sock.recv(64):
                answer += chunk
        except ConnectionResetError:
            pass
    assert not answer.startswith(b"\x20")  # never a CONNACK; the broker hangs up


def test_expired_certificate_is_refused(net) -> None:
    result = net.peer("dev-expired").connect()
    assert result != "ok"


def test_revoked_certificate_is_refused(net) -> None:
    assert net.peer("dev-revoked").connect() != "ok"
    assert net.peer("dev-a").connect() == "ok"  # the CRL does not stop the others


def test_certificate_from_another_ca_is_refused(net, tmp_path) -> None:
    from provisioning.ca import FleetCA, IdentityPaths

    rogue_ca = FleetCA.init(tmp_path / "rogue")
    paths = rogue_ca.issue_device("dev-a").write(IdentityPaths(tmp_path / "dev-a"))
    net.ids["rogue-dev-a"] = paths
    assert net.peer("rogue-dev-a").connect() != "ok"


def test_acl_text_grants_exactly_the_contract_channels() -> None:
    text = render_acl("city/v2", services=("hub", "hub-2"))
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert lines == [
        "pattern write city/v2/%u/cmd/ack",
        "pattern write city/v2/%u/config/reported",
        "pattern write city/v2/%u/event",
        "pattern write city/v2/%u/health",
        "pattern write city/v2/%u/status",
        "pattern write city/v2/%u/telemetry",
        "pattern read city/v2/%u/cmd",
        "pattern read city/v2/%u/config/desired",
        "user hub",
        "topic read city/v2/#",
        "topic write city/v2/+/cmd",
        "topic write city/v2/+/config/desired",
        "topic read $SYS/broker/store/messages/count",
        "topic read $SYS/broker/store/messages/bytes",
        "user hub-2",
        "topic read city/v2/#",
        "topic write city/v2/+/cmd",
        "topic write city/v2/+/config/desired",
        "topic read $SYS/broker/store/messages/count",
        "topic read $SYS/broker/store/messages/bytes",
    ]


def test_generated_conf_sizes_the_hubs_backlog_from_the_fleet(tmp_path) -> None:
    """max_queued_messages/bytes come from devices x rate x outage x headroom (Mosquitto's
    default of 1 000 would drop the acknowledged readings of a short hub outage)."""
    from provisioning.broker_config import Backlog, render_mosquitto_conf

    backlog = Backlog(devices=2000, rate_hz=0.5, ride_out_s=900, message_bytes=400)
    assert backlog.messages == 1_350_000  # 2000 x 0.5 x 900 x 1.5
    assert backlog.bytes == 1_350_000 * 400
    lines = render_mosquitto_conf("listener 8883\n", backlog=backlog).splitlines()
    assert "max_queued_messages 1350000" in lines
    assert f"max_queued_bytes {1_350_000 * 400}" in lines
    assert "max_inflight_messages 1000" in lines
    default = render_mosquitto_conf("listener 8883\n").splitlines()
    assert f"max_queued_messages {Backlog().messages}" in default
    assert Backlog().messages >= 100 * 1000  # the default rides out minutes, not a second


@pytest.mark.parametrize(
    "kw",
    [{"devices": 0}, {"rate_hz": 0}, {"ride_out_s": -1}, {"message_bytes": 10}, {"headroom": 0.5}],
)
def test_backlog_refuses_sizes_that_make_no_sense(kw) -> None:
    from provisioning.broker_config import Backlog
    from provisioning.errors import BrokerConfigError

    with pytest.raises(BrokerConfigError, match="backlog"):
        Backlog(**kw)


def _handshake_accepted(net, name: str) -> bool:
    """One raw TLS + MQTT CONNECT attempt: True on CONNACK 'success', False on any refusal."""
    import socket
    import ssl

    paths = net.ids[name]
    context = ssl.create_default_context(cafile=str(net.ca.chain_path))
    context.load_cert_chain(str(paths.cert), str(paths.key))
    connect = bytes([0x10, 0x0C, 0x00, 0x04]) + b"MQTT" + bytes([0x04, 0x02, 0x00, 0x3C, 0, 0])
    try:
        with (
            socket.create_connection((net.host, net.port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=net.host) as sock,
        ):
            sock.sendall(connect)
            return sock.recv(4) == bytes([0x20, 0x02, 0x00, 0x00])
    except (OSError, ssl.SSLError):
        return False


def test_revocation_reaches_a_running_broker_on_sighup(net) -> None:
    """Revoke, regenerate the broker config, SIGHUP: the device's next connection is refused.
    A session already open survives the reload; a broker restart ends it for good."""
    import signal
    import time

    from provisioning.broker_config import write_broker_config

    # a second revoked identity tells when the reload happened (probing with dev-rot2 itself
    # would replace its live session: one certificate, one client id)
    net.add_device("dev-probe")
    assert _handshake_accepted(net, "dev-probe")
    device = net.connected("dev-rot2")
    net.ca.revoke_identity("dev-rot2", "key_compromise")
    net.ca.revoke_identity("dev-probe", "key_compromise")
    write_broker_config(net.ca, net.files.directory, port=net.port, bind="127.0.0.1")
    assert net.broker.proc is not None
    net.broker.proc.send_signal(signal.SIGHUP)
    for _ in range(100):  # the broker rereads its TLS files asynchronously to the signal
        if not _handshake_accepted(net, "dev-probe"):
            break
        time.sleep(0.05)
    assert not _handshake_accepted(net, "dev-rot2")
    assert _handshake_accepted(net, "dev-a")
    assert device.client.is_connected() and not device._closed
    net.broker.restart()
    with device._cond:
        assert device._cond.wait_for(lambda: device._closed, 5.0)
    assert not _handshake_accepted(net, "dev-rot2")
    assert _handshake_accepted(net, "dev-a")


def test_a_device_cannot_leave_a_last_will_in_another_devices_name(net) -> None:
    """A forged 'offline' status for another device is dropped; its own last will is not."""
    import socket

    hub = net.connected("hub")
    hub.subscribe(f"{ROOT}/#")
    own = net.peer("dev-a")
    own.client.will_set(f"{ROOT}/dev-a/status", b"gone", qos=1)
    assert own.connect() == "ok"
    own.client.socket().shutdown(socket.SHUT_RDWR)  # connection lost without DISCONNECT
    assert hub.expect() == (f"{ROOT}/dev-a/status", b"gone")

    forger = net.peer("dev-a")
    forger.client.will_set(f"{ROOT}/dev-b/status", b"offline", qos=1, retain=True)
    assert forger.connect() == "ok"
    forger.client.socket().shutdown(socket.SHUT_RDWR)
    # the broker has handled that loss long before a new TLS connection completes
    later = net.connected("dev-a")
    later.publish(f"{ROOT}/dev-a/telemetry", b"after")
    assert hub.expect() == (f"{ROOT}/dev-a/telemetry", b"after")
    assert hub.pending() == []
    # nothing was retained under dev-b's status: a new subscription would receive it first
    # (a second hub client is not possible: one certificate, one client id)
    hub.subscribe(f"{ROOT}/dev-b/status")
    hub.publish(f"{ROOT}/dev-a/cmd", b"barrier")
    assert hub.expect() == (f"{ROOT}/dev-a/cmd", b"barrier")
    assert hub.pending() == []


def test_first_and_later_revocations_reach_a_running_broker_on_sighup(tmp_path) -> None:
    """A fleet with nothing revoked yet: the config names an (empty) CRL from the start, so the
    first revocation, broker-config and SIGHUP refuse the device; and so does the next one."""
    import signal
    import time

    from govedge.broker import MosquittoBroker, free_port
    from provisioning.broker_config import write_broker_config
    from provisioning.ca import FleetCA

    from .conftest import Fleet

    ca = FleetCA.init(tmp_path / "ca")
    port = free_port()
    files = write_broker_config(ca, tmp_path / "broker", port=port, bind="127.0.0.1")
    assert "crlfile" in files.listener
    broker = MosquittoBroker(port=port, extra_config=files.listener, workdir=tmp_path / "mosq")
    broker.workdir.mkdir()
    broker.start()
    fleet = Fleet(ca, broker, files, tmp_path / "ids", {}, [])
    try:
        for name in ("dev-1", "dev-2", "dev-ok"):
            fleet.add_device(name)
            assert _handshake_accepted(fleet, name)
        for name in ("dev-1", "dev-2"):  # the first revocation, then a later one
            ca.revoke_identity(name, "key_compromise")
            write_broker_config(ca, files.directory, port=port, bind="127.0.0.1")
            assert broker.proc is not None
            broker.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            while _handshake_accepted(fleet, name) and time.monotonic() < deadline:
                time.sleep(0.05)  # the broker rereads its TLS files asynchronously
            assert not _handshake_accepted(fleet, name), f"{name} still accepted after SIGHUP"
            assert _handshake_accepted(fleet, "dev-ok")
        assert broker.proc is not None and broker.proc.poll() is None
    finally:
        broker.close()


def test_a_service_identity_never_takes_a_device_id(tmp_path) -> None:
    """broker-config refuses a service named like a device; a granted service name is never
    issued to a device later."""
    from provisioning.broker_config import write_broker_config
    from provisioning.ca import FleetCA
    from provisioning.errors import BrokerConfigError, CAError

    ca = FleetCA.init(tmp_path / "ca")
    ca.issue_device("dev-b", model="kiosk", site="hall-1")
    with pytest.raises(BrokerConfigError, match="'dev-b' is a device's id"):
        write_broker_config(ca, tmp_path / "b", port=18883, services=("hub", "dev-b"))
    assert not (tmp_path / "b" / "acl").exists()
    write_broker_config(ca, tmp_path / "b", port=18883, services=("hub", "hub-2"))
    with pytest.raises(CAError, match="service identity"):
        ca.issue_device("hub-2", model="kiosk", site="hall-1")
    with pytest.raises(CAError, match="already names a device"):
        ca.issue_service("dev-b")
