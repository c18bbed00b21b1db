"""``govedge agent --config FILE`` and ``govedge agent check-config FILE``."""

from __future__ import annotations

import argparse
import sys


def register(parser: argparse.ArgumentParser) -> None:
    """Add the agent's options and commands to ``parser``."""
    parser.add_argument("--config", metavar="FILE", help="the device config (JSON) to run")
    sub = parser.add_subparsers(dest="agent_command", metavar="ACTION")
    check = sub.add_parser(
        "check-config",
        help="validate a device config and build its drivers, then exit",
        description="Validate a device config (schema, ports, driver options) and exit: 0 if "
        "valid, 1 with the file and the key at fault if not.",
    )
    check.add_argument("file", metavar="FILE")
    check.set_defaults(func=_check)
    launch = sub.add_parser(
        "launch",
        help="run the agent of the active release slot, with A/B update rollback",
        description="Run <root>/current/bin/govedge-agent, restart it when it exits, and roll "
        "a release in trial back when it does not come up healthy (see docs/deploy.md).",
    )
    launch.add_argument("--config", required=True, metavar="FILE", help="the device config")
    launch.add_argument("--root", required=True, metavar="DIR", help="the release slots' root")
    launch.add_argument(
        "--release-key", required=True, metavar="PEM", help="public key trusted for releases"
    )
    launch.add_argument("--trial-timeout", type=float, default=300.0, metavar="S")
    launch.add_argument("--confirm-after", type=float, default=30.0, metavar="S")
    launch.set_defaults(func=_launch)
    parser.set_defaults(func=_run, _agent_parser=parser)


def _check(args: argparse.Namespace) -> int:
    from edge_agent.agent import build_drivers
    from firmware_configs.schema import load_device_config

    config = load_device_config(args.file)
    from drivers.registry import create_driver

    drivers = build_drivers(config.drivers, create_driver, args.file)
    print(
        f"{args.file}: ok: device {config.device_id} ({config.model}), "
        f"{len(drivers)} driver(s), broker {config.broker.url} (MQTT {config.broker.mqtt_version})"
    )
    return 0


def _launch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edge_agent.update.launcher import LaunchSettings, main

    return main(
        LaunchSettings(
            root=Path(args.root).resolve(),
            config=Path(args.config).resolve(),
            release_key=Path(args.release_key).resolve(),
            trial_timeout_s=args.trial_timeout,
            confirm_after_s=args.confirm_after,
        )
    )


def _run(args: argparse.Namespace) -> int:
    if not args.config:
        args._agent_parser.error("--config FILE is required (or use: check-config FILE)")
    import asyncio
    import signal

    from edge_agent.runtime import build_agent

    agent = build_agent(args.config)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await agent.run(stop)

    asyncio.run(main())
    print(f"govedge agent {agent.config.device_id} stopped", file=sys.stderr)
    return 0
