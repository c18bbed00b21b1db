"""``govedge sim fleet``: a simulated fleet, optionally playing a scenario, until Ctrl-C.

govedge sim fleet --devices 2000 --scenario flood --speed 10 --broker mqtt://127.0.0.1:1883
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time

from govedge.errors import ConfigError

MAX_FIDELITY = 200


TOKEN_ENV = "GOVEDGE_HUB_TOKEN"  # noqa: S105 - the name of an environment variable, not a secret
"""Where the hub API token comes from: the environment, not the command line (ps shows that)."""


def register(parser: argparse.ArgumentParser) -> None:
    """Add the simulated fleet's options to ``parser``."""
    from sim.fleet.scenario import scenario_names

    parser.add_argument("--devices", type=int, default=100, help="number of devices (default 100)")
    parser.add_argument(
        "--mode",
        choices=("scale", "fidelity"),
        default="scale",
        help="scale: lightweight MQTT devices; fidelity: real agents over simulators",
    )
    parser.add_argument(
        "--scenario", help="scenario name or JSON path: " + ", ".join(scenario_names())
    )
    parser.add_argument("--speed", type=float, default=1.0, help="scenario time per wall second")
    parser.add_argument("--loop", action="store_true", help="replay the scenario when it ends")
    parser.add_argument("--broker", help="broker URL (default: start a private Mosquitto)")
    parser.add_argument("--hub", help="hub URL, to register the devices first")
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV, ""),
        help=f"hub API token (operate role) for --hub; better from ${TOKEN_ENV}, where ps "
        "does not show it",
    )
    parser.add_argument("--interval", type=float, default=1.0, help="telemetry period in seconds")
    parser.add_argument(
        "--duration",
        type=float,
        default=0.0,
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    parser.add_argument("--seed", type=int, default=1, help="fleet layout seed")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the simulated fleet against a broker."""
    if args.devices < 1:
        raise ConfigError("--devices must be at least 1")
    if args.speed <= 0:
        raise ConfigError("--speed must be positive")
    if args.hub and not args.token:
        raise ConfigError(f"--hub needs a token: set ${TOKEN_ENV} (or --token)")
    if args.mode == "fidelity" and args.devices > MAX_FIDELITY:
        raise ConfigError(
            f"fidelity mode runs one real agent per device: at most {MAX_FIDELITY} "
            "(use --mode scale for more)"
        )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args))
    return 0


async def _main(args: argparse.Namespace) -> None:
    from govedge.broker import MosquittoBroker, raise_nofile_limit
    from sim.fleet.fidelity import FidelityFleet
    from sim.fleet.hub_registration import register_devices
    from sim.fleet.layout import FleetLayout
    from sim.fleet.scale import ScaleFleet
    from sim.fleet.scenario import ScenarioPlayer, load_scenario

    scenario = load_scenario(args.scenario) if args.scenario else None
    if scenario and args.broker and any(e.action == "broker_restart" for e in scenario.events):
        raise ConfigError(
            f"scenario {scenario.name!r} restarts the broker: omit --broker so the simulator "
            "starts its own"
        )
    layout = FleetLayout.generate(args.devices, seed=args.seed)
    raise_nofile_limit(1 << 17)
    owned = None
    url = args.broker
    if not url:
        owned = MosquittoBroker()
        owned.start()
        url = owned.url
        print(f"broker: started Mosquitto at {url}", flush=True)
    try:
        fleet: ScaleFleet | FidelityFleet
        if args.mode == "fidelity":
            fleet = FidelityFleet(layout, url, poll_interval_s=args.interval, owned_broker=owned)
        else:
            fleet = ScaleFleet(layout, url, interval_s=args.interval, owned_broker=owned)
        if args.hub:
            n = await register_devices(args.hub, args.token, fleet.specs())
            print(f"hub: registered {n} devices at {args.hub}", flush=True)
        await fleet.start()
        tasks: list[asyncio.Task[None]] = []
        if scenario:
            player = ScenarioPlayer(scenario, fleet, speed=args.speed)
            tasks.append(asyncio.create_task(player.run_forever() if args.loop else player.run()))
            print(
                f"scenario: {scenario.name} at speed {args.speed:g}: {scenario.description}",
                flush=True,
            )
        start = time.monotonic()
        try:
            while not args.duration or time.monotonic() - start < args.duration:
                await asyncio.sleep(min(5.0, args.duration or 5.0))
                print(f"[{time.monotonic() - start:6.0f} s] {fleet.status_line()}", flush=True)
        finally:
            for task in tasks:
                task.cancel()
            await fleet.stop()
    finally:
        if owned:
            owned.close()
