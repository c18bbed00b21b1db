"""config/desired -> validate -> apply -> config/reported; a bad config is refused and the old one
keeps running; with the hub's key configured, only correctly signed configs apply."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge_agent.runtime import build_agent
from govedge.contract import ConfigReported, Telemetry
from provisioning.bundles import BundleSigner


def _reports(col: Any) -> list[Any]:
    return [m.data for m in col.of_type(ConfigReported)]


async def _started(agent: Any) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    for _ in range(500):  # at most 10 s
        if agent.link.connected:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    return stop, task


async def test_desired_config_applies_and_a_bad_one_keeps_the_old(
    mqtt_broker, make_config, collector_factory, scripted, fake, hub
):
    device = "cfg-1"
    col = collector_factory(mqtt_broker.host, mqtt_broker.port, f"gov/v1/{device}/#")
    _, factory = scripted
    path = make_config(
        device,
        mqtt_broker.url,
        [fake("old", 0.05, metric_prefix="old.")],
        config_signing={"allow_unsigned": True},
    )
    agent = build_agent(path, driver_factory=factory)
    stop, task = await _started(agent)
    try:
        new = {"drivers": [fake("new", 0.05, metric_prefix="new.")], "publish": {}}
        hub.desired(device, 1, new)
        assert await col.until(lambda: any(r.version == 1 for r in _reports(col)))
        assert _reports(col)[-1].ok
        assert set(agent.supervisors) == {"new"}
        assert await col.until(lambda: any("new.count" in m.data for m in col.of_type(Telemetry)))

        bad = {"drivers": [dict(fake("worse"), colour="red")]}
        hub.desired(device, 2, bad)
        assert await col.until(lambda: any(r.version == 2 for r in _reports(col)))
        report = _reports(col)[-1]
        assert not report.ok
        assert "$.drivers[0]" in report.error and "colour" in report.error
        assert set(agent.supervisors) == {"new"}  # the old config keeps running
        seen = len(col.of_type(Telemetry))
        assert await col.until(lambda: len(col.of_type(Telemetry)) > seen + 2)
        assert agent.counters["configs_rejected"] == 1
    finally:
        stop.set()
        await task

    # The applied config survives a restart (before the broker says anything).
    hub.desired(device, 1, new)  # the retained desired is v1 again
    again = build_agent(path, driver_factory=factory)
    stop, task = await _started(again)
    try:
        assert set(again.supervisors) == {"new"}
    finally:
        stop.set()
        await task


async def test_signed_configs_only_when_a_hub_key_is_configured(
    mqtt_broker, make_config, collector_factory, scripted, fake, hub, tmp_path: Path
):
    hub_key = ed25519.Ed25519PrivateKey.generate()
    pub = tmp_path / "hub-config.pub"
    pub.write_bytes(
        hub_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    signer = BundleSigner(hub_key)
    forger = BundleSigner(ed25519.Ed25519PrivateKey.generate())
    device = "cfg-signed"
    col = collector_factory(mqtt_broker.host, mqtt_broker.port, f"gov/v1/{device}/config/#")
    _, factory = scripted
    path = make_config(
        device,
        mqtt_broker.url,
        [fake("a", 0.1)],
        config_signing={"public_key_file": str(pub)},
    )
    agent = build_agent(path, driver_factory=factory)
    stop, task = await _started(agent)
    config = {"drivers": [fake("b", 0.1)]}
    try:
        hub.desired(device, 1, config)  # unsigned
        assert await col.until(lambda: any(r.version == 1 for r in _reports(col)))
        hub.desired(device, 2, config, forger.config_signature(2, config))  # another key
        assert await col.until(lambda: any(r.version == 2 for r in _reports(col)))
        hub.desired(device, 3, config, signer.config_signature(2, config))  # replayed version
        assert await col.until(lambda: any(r.version == 3 for r in _reports(col)))
        assert set(agent.supervisors) == {"a"}
        hub.desired(device, 4, config, signer.config_signature(4, config))
        assert await col.until(lambda: any(r.version == 4 for r in _reports(col)))
    finally:
        stop.set()
        await task
    by_version = {r.version: r for r in _reports(col)}
    assert not by_version[1].ok and "unsigned" in by_version[1].error
    assert not by_version[2].ok and "unknown key" in by_version[2].error
    assert not by_version[3].ok and "signature" in by_version[3].error
    assert by_version[4].ok
    assert set(agent.supervisors) == {"b"}


async def test_reload_config_command_rereads_the_file(
    mqtt_broker, make_config, collector_factory, scripted, fake, hub
):
    import json

    from govedge.contract import CommandAck

    device = "cfg-reload"
    col = collector_factory(mqtt_broker.host, mqtt_broker.port, f"gov/v1/{device}/cmd/ack")
    _, factory = scripted
    path = make_config(device, mqtt_broker.url, [fake("a", 0.1)])
    agent = build_agent(path, driver_factory=factory)
    stop, task = await _started(agent)
    try:
        config = json.loads(path.read_text())
        config["drivers"].append(fake("b", 0.1, metric_prefix="b."))
        path.write_text(json.dumps(config))
        hub.command(device, "reload-1", "reload_config")
        config["drivers"][0]["colour"] = "red"
        assert await col.until(lambda: bool(col.of_type(CommandAck)))
        path.write_text(json.dumps(config))
        hub.command(device, "reload-2", "reload_config")
        assert await col.until(lambda: len(col.of_type(CommandAck)) == 2)
    finally:
        stop.set()
        await task
    first, second = (m.data for m in col.of_type(CommandAck))
    assert first.ok and first.result["drivers"] == 2
    assert not second.ok and "$.drivers[0]" in second.error
    assert set(agent.supervisors) == {"a", "b"}


async def test_unsigned_configs_are_refused_without_a_key_unless_allowed(
    mqtt_broker, make_config, collector_factory, scripted, fake, hub, caplog
):
    """The default fails closed: no hub key means nothing can be checked, so nothing applies."""
    device = "cfg-nokey"
    col = collector_factory(mqtt_broker.host, mqtt_broker.port, f"gov/v1/{device}/#")
    _, factory = scripted
    path = make_config(device, mqtt_broker.url, [fake("old", 0.05)])
    agent = build_agent(path, driver_factory=factory)
    stop, task = await _started(agent)
    try:
        hub.desired(device, 1, {"drivers": [fake("new", 0.05)], "publish": {}})
        assert await col.until(lambda: any(r.version == 1 for r in _reports(col)))
        report = _reports(col)[-1]
        assert not report.ok and "public_key_file" in report.error
        assert set(agent.supervisors) == {"old"}
        assert agent.counters["configs_rejected"] == 1
    finally:
        stop.set()
        await task
    assert any(r.getMessage() == "configs_refused_no_key" for r in caplog.records)

    # Allowed for development: applied, and said loudly at start.
    dev = "cfg-devkey"
    path = make_config(
        dev, mqtt_broker.url, [fake("old", 0.05)], config_signing={"allow_unsigned": True}
    )
    caplog.clear()
    agent = build_agent(path, driver_factory=factory)
    stop, task = await _started(agent)
    try:
        warned = [r for r in caplog.records if r.getMessage() == "unsigned_configs_allowed"]
        assert warned and warned[0].levelname == "WARNING"
        col2 = collector_factory(mqtt_broker.host, mqtt_broker.port, f"gov/v1/{dev}/#")
        hub.desired(dev, 1, {"drivers": [fake("new", 0.05)], "publish": {}})
        assert await col2.until(lambda: any(r.version == 1 and r.ok for r in _reports(col2)))
        assert set(agent.supervisors) == {"new"}
    finally:
        stop.set()
        await task
