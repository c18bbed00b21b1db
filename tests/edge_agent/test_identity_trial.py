"""Identity trials on their own: the asking thread and the link's side of one switch."""

from __future__ import annotations

import threading
import time

from edge_agent.identity_trial import IdentityTrials
from edge_agent.link import LinkSettings

OLD = LinkSettings(
    host="h",
    port=8883,
    client_id="d",
    mqtt_version="5",
    keepalive_s=60,
    tls=True,
    ca_file="ca.pem",
    cert_file="old.pem",
    key_file="old.key",
    session_expiry_s=0,
    reconnect_min_s=0.1,
    reconnect_max_s=1.0,
    max_inflight=10,
    batch=10,
    replay_rate_per_s=0.0,
)


def _ask(trials: IdentityTrials, answer: list[tuple[bool, str]], timeout_s: float = 5.0) -> None:
    answer.append(trials.request(OLD, "new.pem", "new.key", timeout_s=timeout_s))


def _started(trials: IdentityTrials) -> threading.Thread:
    answer: list[tuple[bool, str]] = []
    asking = threading.Thread(target=_ask, args=(trials, answer))
    asking.answer = answer  # type: ignore[attr-defined]
    asking.start()
    for _ in range(500):
        if trials.waiting:
            break
        time.sleep(0.01)
    assert trials.waiting
    return asking


def test_an_accepted_identity_is_kept() -> None:
    trials = IdentityTrials()
    asking = _started(trials)
    settings = trials.begin(OLD)
    assert (settings.cert_file, settings.key_file, settings.ca_file) == (
        "new.pem",
        "new.key",
        "ca.pem",
    )
    assert not trials.waiting and trials.begin(settings) is settings  # begun once
    trials.accepted()
    asking.join(5)
    assert asking.answer == [(True, "accepted")]  # type: ignore[attr-defined]
    assert trials.current is None and trials.failed("late") is None


def test_a_refused_identity_goes_back_to_the_previous_settings_with_the_reason() -> None:
    trials = IdentityTrials()
    asking = _started(trials)
    trials.begin(OLD)
    trials.refused_by("Not authorized")
    assert trials.failed("closed before CONNACK") is OLD
    asking.join(5)
    assert asking.answer == [(False, "CONNACK: Not authorized")]  # type: ignore[attr-defined]


def test_a_trial_without_connack_is_overdue_and_one_at_a_time() -> None:
    trials = IdentityTrials()
    answer: list[tuple[bool, str]] = []
    asking = threading.Thread(target=_ask, args=(trials, answer, 0.05))
    asking.start()
    while not trials.waiting:
        time.sleep(0.01)
    assert trials.request(OLD, "x.pem", "x.key") == (False, "another identity switch is under way")
    trials.begin(OLD)
    time.sleep(0.1)
    assert trials.overdue()
    assert trials.failed("timeout") is OLD
    asking.join(5)
    assert answer == [(False, "no CONNACK before timeout")]


def test_cancel_answers_whoever_waits() -> None:
    trials = IdentityTrials()
    asking = _started(trials)
    trials.cancel("link stopping")
    asking.join(5)
    assert asking.answer == [(False, "link stopping")]  # type: ignore[attr-defined]
