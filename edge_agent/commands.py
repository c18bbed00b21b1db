"""Commands from the hub (cmd -> cmd/ack): ping, self_test, reload_config, restart_driver,
print_test_receipt, read_card, rotate_certificate (edge_agent.rotation).

Each command has an id and an expiry. An expired command is refused with an acknowledgement. A
command id is claimed in the device state's ledger (edge_agent.device_state) before it runs, so a
redelivery (QoS 1, a persistent session, a retained copy) never runs it again, even after a
restart; its single acknowledgement is committed to the outbox in the same transaction that marks
it done.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from drivers.base import CardReaderCapability, PrinterCapability
from drivers.errors import DriverError, UserActionError
from edge_agent.errors import AgentError, CommandError
from govedge.contract import Channel, Command, CommandName, ContractError, decode_for_topic
from govedge.errors import GovedgeError
from govedge.logs import fields, get_logger

if TYPE_CHECKING:
    from edge_agent.agent import Agent

log = get_logger(__name__)

Handler = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]

COMMAND_TIMEOUT_S = 60.0
FORGET_AFTER_S = 30 * 24 * 3600.0
"""Executed command ids are remembered this long (far past any expiry the hub sets)."""

TEST_RECEIPT: dict[str, Any] = {
    "header": ["govedge", "Printer test"],
    "lines": [{"rule": "-"}, "If you can read this, the printer works.", {"rule": "-"}],
    "cut": True,
}


class CommandService:
    """Receives commands, runs each at most once, and queues its acknowledgement."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.handlers: dict[str, Handler] = {
            CommandName.PING: self.ping,
            CommandName.SELF_TEST: self.self_test,
            CommandName.RELOAD_CONFIG: self.reload_config,
            CommandName.RESTART_DRIVER: self.restart_driver,
            CommandName.PRINT_TEST_RECEIPT: self.print_test_receipt,
            CommandName.READ_CARD: self.read_card,
            CommandName.ROTATE_CERTIFICATE: self.rotate_certificate,
        }
        self.reload: Callable[[], Awaitable[dict[str, Any]]] | None = None

    def attach(self) -> None:
        """Take the cmd channel, join the agent's extensions, and attach the updater too when the
        launcher runs this agent."""
        self.agent.message_handlers[Channel.CMD] = self.handle
        self.agent.extensions.append(self)
        self.agent.commands = self
        from edge_agent.update.updater import Updater

        updater = Updater.from_env(self.agent)  # set when the launcher runs this agent
        if updater is not None:
            updater.attach()

    async def start(self) -> None:
        """Forget executed command ids older than FORGET_AFTER_S, and on a device that rotates its
        certificate, finish a switch that a restart cut short."""
        await asyncio.to_thread(self.agent.device_state.forget_commands, FORGET_AFTER_S)
        if self.agent.config.identity.hub_url:  # this device rotates: finish a cut-short switch
            from edge_agent.rotation import recover_identity

            await asyncio.to_thread(recover_identity, self.agent)

    async def stop(self) -> None:
        """Nothing to release: commands still running are cancelled with the agent's tasks."""
        return None

    async def handle(self, topic_name: str, payload: bytes) -> None:
        """Run one cmd message at most once and queue its single acknowledgement.

        Malformed messages are counted and dropped, a redelivered id is ignored; an expired,
        unknown, failed or timed-out command is acknowledged with ok false. A command's own
        error never escapes."""
        agent = self.agent
        try:
            _, _, msg = decode_for_topic(topic_name, payload, agent.config.broker.topic_root)
        except ContractError as exc:
            agent.counters["commands_refused"] += 1
            log.warning("command_malformed", extra=fields(reason=exc.reason, detail=exc.detail))
            return
        if not isinstance(msg, Command):
            return
        data = msg.data
        if not agent.device_state.claim_command(data.id, agent.boot_id):
            agent.counters["commands_duplicate"] += 1
            log.info("command_duplicate", extra=fields(id=data.id, name=data.name))
            return
        agent.counters["commands"] += 1
        if data.expires_at < time.time():
            agent.counters["commands_refused"] += 1
            log.warning("command_expired", extra=fields(id=data.id, name=data.name))
            await self._ack(data.id, False, error=f"expired at {data.expires_at:.3f}")
            return
        handler = self.handlers.get(data.name)
        if handler is None:
            agent.counters["commands_refused"] += 1
            known = ", ".join(sorted(self.handlers))
            await self._ack(data.id, False, error=f"unknown command {data.name!r}; known: {known}")
            return
        log.info("command_running", extra=fields(id=data.id, name=data.name))
        try:
            result = await asyncio.wait_for(handler(data.args), COMMAND_TIMEOUT_S)
        except TimeoutError:
            await self._ack(data.id, False, error=f"no result within {COMMAND_TIMEOUT_S:.0f} s")
        except GovedgeError as exc:
            await self._ack(data.id, False, error=f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a command must never take the agent down
            log.exception("command_failed", extra=fields(id=data.id, name=data.name))
            await self._ack(data.id, False, error=f"internal error: {type(exc).__name__}")
        else:
            await self._ack(data.id, True, result=result)

    async def _ack(
        self, command_id: str, ok: bool, result: Mapping[str, Any] | None = None, error: str = ""
    ) -> None:
        try:
            ack = self.agent.messages.command_ack(command_id, ok, result, error)
        except ContractError as exc:  # the hub would refuse this ack: say why instead
            self.agent.counters["commands_refused"] += 1
            log.warning("command_result_refused", extra=fields(id=command_id, reason=exc.reason))
            error = f"the result breaks the contract: {exc.detail}"
            ack = self.agent.messages.command_ack(command_id, False, None, error)
        await asyncio.to_thread(self.agent.device_state.finish_command, command_id, ack)

    # -- the commands -----------------------------------------------------------------------

    async def ping(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Answer at once with the boot id, uptime and outbox depth: a check of the whole
        command path, hub to device and back."""
        agent = self.agent
        return {
            "pong": True,
            "boot_id": agent.boot_id,
            "uptime_s": round(time.time() - agent.started_at, 3),
            "queued": agent.outbox.queued,
        }

    async def self_test(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Poll every driver once and report its state; ok only if all answer."""
        report: dict[str, Any] = {}
        all_ok = True
        for name, sup in self.agent.supervisors.items():
            try:
                async with sup.lock:
                    reading = await sup.call(sup.driver.poll)
                report[name] = {"ok": True, "state": sup.state.value, "values": len(reading)}
            except DriverError as exc:
                all_ok = False
                report[name] = {"ok": False, "state": str(exc.health), "error": str(exc)[:200]}
        return {"ok": all_ok, "drivers": report, "outbox_queued": self.agent.outbox.queued}

    async def reload_config(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Re-read the device config file and apply its drivers and publish options."""
        if self.reload is None:
            raise CommandError("this agent has no config file to reload")
        return await self.reload()

    async def restart_driver(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Close and reopen one driver (``args.name`` or ``args.driver``); CommandError without
        a name, AgentError for an unknown one."""
        name = args.get("name") or args.get("driver")
        if not isinstance(name, str):
            raise CommandError("restart_driver needs args.name (a driver name)")
        sup = self.agent.supervisor(name)
        await sup.restart()
        return {"driver": name, "restarted": True}

    async def print_test_receipt(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Print TEST_RECEIPT on the printer ``args.driver`` names, or on the first printer."""
        driver = args.get("driver")
        sup = self.agent.find_capable(
            PrinterCapability, driver if isinstance(driver, str) else None
        )
        printer: Any = sup.driver
        async with sup.lock:
            await sup.call(lambda: printer.print_receipt(TEST_RECEIPT))
        return {"driver": sup.name, "printed": True}

    async def rotate_certificate(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """New key and certificate from the hub, kept only once the broker accepts them."""
        from edge_agent.rotation import rotate_certificate

        return await rotate_certificate(self.agent, args)

    async def read_card(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Is a card on the reader, and of which type? Nothing else of the card leaves the
        device: the answer goes over MQTT into the hub's command table."""
        driver = args.get("driver")
        sup = self.agent.find_capable(
            CardReaderCapability, driver if isinstance(driver, str) else None
        )
        reader: Any = sup.driver
        card: dict[str, Any] = {}
        try:
            async with sup.lock:
                card = await sup.call(reader.read_card)
        except UserActionError:  # no card, or it was taken away during the read
            return {"driver": sup.name, "present": False, "card_type": None}
        try:
            return card_presence(card) | {"driver": sup.name}
        finally:
            wipe(card)


def card_presence(card: Mapping[str, Any]) -> dict[str, Any]:
    """What a remote party may know of a card read: that there is one, and its type."""
    card_type = card.get("card_type")
    return {"present": True, "card_type": card_type if isinstance(card_type, str) else None}


def wipe(card: dict[str, Any]) -> None:
    """Drop citizen data from memory as far as Python lets us (bytearrays are zeroed)."""
    for value in card.values():
        if isinstance(value, bytearray):
            value[:] = b"\0" * len(value)
    card.clear()


__all__ = ["AgentError", "CommandService", "card_presence", "wipe"]
