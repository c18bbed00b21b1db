"""Driver supervision: failures move a driver through the health states, with backoff, and never
stop the agent or the other drivers; health is published on change."""

from __future__ import annotations

from drivers.errors import DeviceTimeout, FrameError, NoDeviceError, UserActionError
from edge_agent.backoff import Backoff
from edge_agent.runtime import build_agent
from govedge.contract import Health, Telemetry


def test_backoff_doubles_to_its_cap_with_full_jitter() -> None:
    plain = Backoff(0.5, 4.0, jitter=False)
    assert [plain.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    plain.reset()
    assert plain.next() == 0.5
    jittered = Backoff(0.5, 4.0)
    for _ in range(50):
        ceiling = jittered.ceiling()
        assert 0.0 <= jittered.next() <= ceiling


async def test_failing_driver_changes_state_and_recovers_while_others_publish(
    mqtt_broker, make_config, collector_factory, scripted, fake, run_until
):
    drivers, factory = scripted
    device = "sup-1"
    col = collector_factory(mqtt_broker.host, mqtt_broker.port, f"gov/v1/{device}/#")
    path = make_config(
        device,
        mqtt_broker.url,
        [fake("flaky", 0.15, backoff_max_s=0.2), fake("steady", 0.05, metric_prefix="s.")],
    )
    agent = build_agent(path, driver_factory=factory)
    flaky = drivers["flaky"]
    flaky.open_errors = [NoDeviceError("no device at fake://flaky")]
    flaky.script = [
        {"count": 1.0},
        FrameError("bad CRC"),  # stays open, stays online
        UserActionError("no card"),  # stays open, user_error
        DeviceTimeout("no answer"),  # closes, reopens after backoff
        RuntimeError("a bug in the driver"),  # unexpected: hardware_error, reopened
    ]

    def done() -> bool:
        states = [
            m.data.drivers["flaky"].state for m in col.of_type(Health) if "flaky" in m.data.drivers
        ]
        return (
            flaky.polls >= 8
            and "online" in states
            and len(col.of_type(Telemetry)) > 5
            and states[-1] == "online"
        )

    assert await run_until(agent, done, 10)
    health = [m.data.drivers["flaky"].state for m in col.of_type(Health)]
    # Every state the driver went through was published on change.
    for state in ("no_device", "user_error", "offline", "hardware_error", "online"):
        assert state in health, (state, health)
    assert flaky.opens >= 3 and flaky.closes >= 2
    steady = [m for m in col.of_type(Telemetry) if "s.count" in m.data]
    assert len(steady) >= 3  # the other driver was never disturbed
    assert agent.supervisors["flaky"].errors == 5


async def test_outbox_drops_are_reported_in_health_and_as_an_event(make_config, scripted, fake):
    from govedge.contract import Event, Health, decode

    _, factory = scripted
    path = make_config("sup-drop", "mqtt://127.0.0.1:1", [fake("a")], outbox={"max_messages": 10})
    agent = build_agent(path, driver_factory=factory)
    await agent.produce([agent.messages.telemetry({"x": float(i)}) for i in range(30)])
    assert agent.outbox.dropped == 20
    await agent.publish_health()
    rows = [decode(r.payload) for r in agent.outbox.fetch(0, 100)]
    events = [m for m in rows if isinstance(m, Event)]
    health = [m for m in rows if isinstance(m, Health)]
    agent.database.close()
    assert len(events) == 1
    assert events[0].data.kind == "outbox_dropped" and events[0].data.attrs["dropped"] == 20.0
    assert health[-1].data.counters["dropped"] == 20.0


async def test_a_reading_past_max_metrics_is_truncated_counted_and_logged(
    make_config, scripted, fake, caplog
):
    from govedge.contract import DEFAULT_LIMITS, Health, Telemetry, decode

    _, factory = scripted
    path = make_config("sup-wide", "mqtt://127.0.0.1:1", [fake("wide", 0.05)])
    agent = build_agent(path, driver_factory=factory)
    wide = {f"m{i}": float(i) for i in range(DEFAULT_LIMITS.max_metrics + 6)}
    sup = agent.supervisors["wide"]
    data = agent._metrics(sup, wide)
    data = agent._metrics(sup, wide)
    assert len(data) == DEFAULT_LIMITS.max_metrics
    assert agent.counters["readings_truncated"] == 2
    assert agent.counters["metrics_dropped"] == 12
    logged = [r for r in caplog.records if r.getMessage() == "reading_truncated"]
    assert len(logged) == 1  # the first time per driver; the counters carry the rest
    await agent.publish_health()
    rows = [decode(r.payload) for r in agent.outbox.fetch(0, 100)]
    agent.database.close()
    health = [m for m in rows if isinstance(m, Health)]
    assert health[-1].data.counters["metrics_dropped"] == 12.0
    assert not [m for m in rows if isinstance(m, Telemetry)]
