"""The hub's parts, wired together, and the typed aiohttp key they live under."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy.engine import Engine

from hub.auth import TokenStore
from hub.commands import CommandService
from hub.config import HubConfig
from hub.configs import ConfigService
from hub.metrics import HubMetrics
from hub.mqtt_link import MqttLink
from hub.pipeline import Pipeline
from hub.registry import Registry
from hub.storage.base import TelemetryStore


@dataclass
class Hub:
    config: HubConfig
    engine: Engine
    registry: Registry
    store: TelemetryStore
    metrics: HubMetrics
    tokens: TokenStore
    pipeline: Pipeline
    link: MqttLink
    commands: CommandService
    configs: ConfigService
    extras: dict[str, Any] = field(default_factory=dict)


HUB_KEY = web.AppKey("hub", Hub)
OPENAPI_KEY = web.AppKey("openapi", dict)
ROLE_KEY = web.RequestKey("role", str)
