"""The hub's parts, wired together; the typed keys its extensions find each other by."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from aiohttp import web
from sqlalchemy.engine import Engine

from hub.auth import TokenStore
from hub.commands import CommandService
from hub.device_configs import ConfigService
from hub.ingest.link import MqttLink
from hub.ingest.pipeline import Pipeline
from hub.metrics import HubMetrics
from hub.registry import Registry
from hub.settings import HubConfig
from hub.storage.base import TelemetryStore

T = TypeVar("T")


class MissingExtension(LookupError):
    """A part of the hub that its extension did not install (not listed, or listed too late)."""


class ExtensionKey(Generic[T]):
    """The typed key of what one extension module installs on a hub:
    ``hub.extensions[ALARM_ENGINE]`` is an ``AlarmEngine`` to mypy and at run time."""

    __slots__ = ("kind", "module", "name")

    def __init__(self, name: str, kind: type[T], module: str) -> None:
        self.name = name  # for a person: "alarm engine"
        self.kind = kind
        self.module = module  # the extension module whose install() puts it there

    def __repr__(self) -> str:
        return f"ExtensionKey({self.name!r}, {self.kind.__name__}, {self.module!r})"


class Extensions:
    """What the extension modules installed, by typed key.

    ``extensions[KEY]`` when the caller cannot work without it, ``get(KEY)`` when it can. Asking
    during start-up for a part whose module is still to be installed is an error naming both: the
    order of ``hub.app.EXTENSION_MODULES`` is checked, not explained.
    """

    def __init__(self) -> None:
        self._parts: dict[ExtensionKey[Any], Any] = {}
        self.pending: tuple[str, ...] = ()  # the extension modules not installed yet

    def add(self, key: ExtensionKey[T], value: T) -> None:
        """Install an extension's part. TypeError if it is not of the key's type, ValueError if the
        key is installed already."""
        if not isinstance(value, key.kind):
            raise TypeError(f"{key.name} must be a {key.kind.__name__}, not {type(value)}")
        if key in self._parts:
            raise ValueError(f"{key.name} is installed twice ({key.module})")
        self._parts[key] = value

    def get(self, key: ExtensionKey[T]) -> T | None:
        """The part, or None when its extension is not installed; MissingExtension when asked for
        before its module's turn to install during start-up."""
        value = self._parts.get(key)
        if value is None and key.module in self.pending:
            raise MissingExtension(
                f"{key.name} is asked for before {key.module} installs it: list {key.module} "
                "earlier in hub.app.EXTENSION_MODULES"
            )
        return cast("T | None", value)

    def __getitem__(self, key: ExtensionKey[T]) -> T:
        value = self.get(key)
        if value is None:
            raise MissingExtension(
                f"this hub has no {key.name}: {key.module} is not installed "
                "(hub.app.EXTENSION_MODULES)"
            )
        return value

    def __contains__(self, key: ExtensionKey[Any]) -> bool:
        return key in self._parts


@dataclass
class Hub:
    """The hub's parts, shared by the pipeline, the API and the extensions."""

    config: HubConfig
    engine: Engine
    registry: Registry
    store: TelemetryStore
    metrics: HubMetrics
    tokens: TokenStore
    pipeline: Pipeline
    link: MqttLink
    commands: CommandService
    device_configs: ConfigService
    extensions: Extensions = field(default_factory=Extensions)


HUB_KEY = web.AppKey("hub", Hub)
OPENAPI_KEY = web.AppKey("openapi", dict)
ROLE_KEY = web.RequestKey("role", str)
