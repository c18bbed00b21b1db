"""Remote configuration: config/desired (retained, versioned) -> verify -> validate -> apply ->
config/reported.

The desired ``config`` is the remotely changeable part of a device config (RuntimeConfig:
``drivers`` and ``publish``); identity, broker and TLS change only through provisioning. A config
that fails its signature, its schema or the building of a driver is refused with an error report,
and the running one keeps running. An applied config is kept in the device state
(edge_agent.device_state), so a restart runs it even before the broker is reachable.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_agent.agent import resolve_path
from edge_agent.errors import SignatureError
from edge_agent.signing import ConfigVerifier, accept_unsigned, ed25519_verifier, refuse_all
from firmware_configs.schema import load_device_config, parse_runtime_config
from govedge.contract import Channel, ConfigDesired, ContractError, decode_for_topic
from govedge.errors import ConfigError
from govedge.logs import fields, get_logger

if TYPE_CHECKING:
    from edge_agent.agent import Agent

log = get_logger(__name__)


class DesiredConfigService:
    """Applies desired configs and reports the outcome."""

    def __init__(self, agent: Agent, verifier: ConfigVerifier | None = None) -> None:
        self.agent = agent
        if verifier is None:
            verifier = _configured_verifier(agent)
        self.verify = verifier
        self.version = agent.device_state.config_version
        self._refused: set[int] = set()
        self._reported = False
        self._lock = asyncio.Lock()

    def attach(self) -> None:
        """Take the config/desired channel and join the agent's extensions; for an agent run from
        a file, the reload_config command becomes :meth:`reload_file`."""
        self.agent.message_handlers[Channel.CONFIG_DESIRED] = self.handle
        self.agent.extensions.append(self)
        commands = getattr(self.agent, "commands", None)
        if commands is not None and self.agent.config_path is not None:
            commands.reload = self.reload_file

    async def start(self) -> None:
        """Warn when configs are accepted unsigned or all refused, then run the config kept in
        the device state, before the broker is reachable.

        A stored config that no longer parses is logged and the file's drivers keep running."""
        if self.verify is accept_unsigned:
            log.warning(
                "unsigned_configs_allowed",
                extra=fields(
                    device=self.agent.config.device_id,
                    detail="config_signing.allow_unsigned: any config/desired on the broker is "
                    "applied unchecked; for development only",
                ),
            )
        elif self.verify is refuse_all:
            log.warning(
                "configs_refused_no_key",
                extra=fields(
                    device=self.agent.config.device_id,
                    detail="no config_signing.public_key_file: every config/desired is refused",
                ),
            )
        stored = self.agent.device_state.running_config
        if not stored:
            return
        try:
            runtime = parse_runtime_config(json.loads(stored), "stored config")
            await self.agent.replace_drivers(runtime.drivers, runtime.publish)
        except (ConfigError, ValueError) as exc:
            log.error("stored_config_unusable", extra=fields(error=str(exc)))

    async def stop(self) -> None:
        """Nothing to release: a config being applied is cancelled with the agent's tasks."""
        return None

    async def handle(self, topic_name: str, payload: bytes) -> None:
        """Verify, validate and apply a config/desired newer than the running version, and report
        the outcome on config/reported.

        One config at a time. A version refused once is not tried again in this boot; the
        running version is reported once per boot, so the hub learns what runs."""
        agent = self.agent
        try:
            _, _, msg = decode_for_topic(topic_name, payload, agent.config.broker.topic_root)
        except ContractError as exc:
            agent.counters["configs_rejected"] += 1
            log.warning("config_malformed", extra=fields(reason=exc.reason, detail=exc.detail))
            return
        if not isinstance(msg, ConfigDesired):
            return
        data = msg.data
        async with self._lock:
            if data.version < self.version or data.version in self._refused:
                return  # older than what runs, or already refused in this boot
            if data.version == self.version:
                if not self._reported:  # once per boot: the hub learns what runs
                    self._reported = True
                    await self._report(self.version, True)
                return
            error = await self._apply(data.version, data.config, data.signature)
            if error:
                self._refused.add(data.version)
                agent.counters["configs_rejected"] += 1
                log.warning("config_refused", extra=fields(version=data.version, error=error))
                await self._report(data.version, False, error)
            else:
                agent.counters["configs_applied"] += 1
                self._reported = True
                log.info("config_applied", extra=fields(version=data.version))
                await self._report(data.version, True)

    async def _apply(self, version: int, config: dict[str, Any], signature: str) -> str:
        """Apply a config; return "" on success, else the reason it was refused."""
        try:
            self.verify(version, config, signature)
        except SignatureError as exc:
            return f"signature: {exc}"
        try:
            runtime = parse_runtime_config(config, f"config/desired v{version}")
            await self.agent.replace_drivers(runtime.drivers, runtime.publish)
        except ConfigError as exc:
            return str(exc)
        self.version = version
        self.agent.device_state.keep_config(version, json.dumps(config, sort_keys=True))
        return ""

    async def _report(self, version: int, ok: bool, error: str = "") -> None:
        await self.agent.produce([self.agent.messages.config_reported(version, ok, error)])

    async def reload_file(self) -> dict[str, Any]:
        """The reload_config command: re-read the device config file and apply its runtime part.

        A remotely applied config is dropped: the file is the operator's word on site."""
        path = self.agent.config_path
        assert path is not None  # noqa: S101 - narrowing: only reached for an agent run from a file
        config = load_device_config(Path(path))
        await self.agent.replace_drivers(list(config.drivers), config.publish)
        self.agent.device_state.drop_config()
        return {"reloaded": str(path), "drivers": len(config.drivers)}


def _configured_verifier(agent: Agent) -> ConfigVerifier:
    """The hub key's check; without a key, refuse all, or accept unsigned when the device
    config allows it for development."""
    signing = agent.config.config_signing
    if signing.public_key_file:
        return ed25519_verifier(resolve_path(agent.base_dir, signing.public_key_file))
    return accept_unsigned if signing.allow_unsigned else refuse_all
