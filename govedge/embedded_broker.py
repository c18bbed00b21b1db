"""The embedded MQTT broker (amqtt) for a one-machine demo where Mosquitto is not installed.

amqtt speaks MQTT 3.1.1 only and carries a few hundred QoS 1 messages a second: enough for a demo
or a small hall, not for a city. Run as ``python -m govedge.embedded_broker --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from govedge.logs import fields, setup_logging

log = logging.getLogger("govedge.broker")


def broker_config(host: str, port: int) -> dict[str, Any]:
    """The amqtt configuration: one anonymous TCP listener."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def serve(host: str, port: int) -> None:
    """Run the embedded MQTT broker until cancelled."""
    from amqtt.broker import Broker

    broker = Broker(broker_config(host, port))
    await broker.start()
    log.info(
        "broker_started", extra=fields(kind="amqtt", url=f"mqtt://{host}:{port}", mqtt="3.1.1")
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()


def main(argv: list[str] | None = None) -> int:
    """Command line: run the embedded broker."""
    parser = argparse.ArgumentParser(prog="python -m govedge.embedded_broker")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    args = parser.parse_args(argv)
    setup_logging("info", "text")
    asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
