"""Extensions find each other by typed keys; a missing or misordered one is named."""

from __future__ import annotations

from typing import Any

import pytest

import hub.app
from hub.alarms.api import ALARM_ENGINE
from hub.alarms.engine import AlarmEngine
from hub.context import HUB_KEY, MissingExtension
from hub.ingest.broker_backlog import BROKER_BACKLOG
from hub.inspection.api import INSPECTION


def test_an_extension_is_found_by_its_typed_key(hub_config: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(
        hub.app, "EXTENSION_MODULES", ("hub.alarms.setup", "hub.ingest.broker_backlog")
    )
    app = hub.app.create_app(hub_config(), start_mqtt=False)
    extensions = app[HUB_KEY].extensions
    assert isinstance(extensions[ALARM_ENGINE], AlarmEngine)
    assert BROKER_BACKLOG in extensions
    with pytest.raises(MissingExtension) as caught:
        extensions[INSPECTION]
    assert "no inspection service: hub.inspection.setup is not installed" in str(caught.value)
    assert extensions.get(INSPECTION) is None


def test_asking_for_an_extension_listed_later_names_both(hub_config: Any, monkeypatch: Any) -> None:
    """The backlog alarm needs the alarm engine: listed first, it would silently have none."""
    monkeypatch.setattr(
        hub.app, "EXTENSION_MODULES", ("hub.ingest.broker_backlog", "hub.alarms.setup")
    )
    with pytest.raises(MissingExtension) as caught:
        hub.app.create_app(hub_config(), start_mqtt=False)
    assert "alarm engine is asked for before hub.alarms.setup installs it" in str(caught.value)
