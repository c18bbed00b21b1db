"""The MQTT link's topic matcher: paho's matches, without cyclic garbage per message."""

from __future__ import annotations

import gc

from paho.mqtt.matcher import MQTTMatcher

from hub.ingest.link import TopicMatcher

FILTERS = ["$SYS/broker/store/#", "gov/+/telemetry", "gov/d1/#", "gov/d1/event", "#", "+/+/+"]
TOPICS = [
    "$SYS/broker/store/messages/count",
    "$SYS/broker/uptime",
    "gov/d1/telemetry",
    "gov/d2/telemetry",
    "gov/d1/event",
    "gov/d1",
    "other",
]


def test_it_matches_what_paho_matches() -> None:
    for filters in (FILTERS, FILTERS[:1], FILTERS[1:4], []):
        ours, paho = TopicMatcher(), MQTTMatcher()
        for f in filters:
            ours[f] = paho[f] = f
        for name in TOPICS:
            assert sorted(ours.iter_match(name)) == sorted(paho.iter_match(name)), (filters, name)


def test_a_message_leaves_no_cyclic_garbage() -> None:
    """paho's matcher leaves a self-referring closure per lookup; the hub's leaves nothing.

    The collector counts what every thread of the process left meanwhile (a hub of an earlier
    test may still be stopping), so the hub's matcher is held to far below one per lookup."""
    lookups = 1000

    def garbage(matcher: MQTTMatcher) -> int:
        matcher["$SYS/broker/store/#"] = "side"
        gc.collect()
        gc.disable()
        try:
            for i in range(lookups):
                list(matcher.iter_match(f"gov/d{i}/telemetry"))
            return gc.collect()
        finally:
            gc.enable()

    assert garbage(MQTTMatcher()) > lookups  # what paho's own leaves: the test can see it
    assert garbage(TopicMatcher()) < lookups // 20
