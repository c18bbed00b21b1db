"""``govedge sim kiosk``: run the simulated kiosk rig (device simulators, a real edge agent with
its local device API, the citizen control) until interrupted.

It prints one JSON line saying where everything is (also written to ``WORKDIR/rig.json``):
the local API's URL and token file for the kiosk app, the control URL for
``govedge sim visit``.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from types import FrameType

from govedge.errors import ConfigError


def register(parser: argparse.ArgumentParser) -> None:
    """Add the hall-kiosk rig's options to ``parser``."""
    parser.add_argument("--broker", help="MQTT broker URL (default: a private Mosquitto)")
    parser.add_argument("--device-id", default="kiosk-sim-1")
    parser.add_argument("--api-port", type=int, default=0, help="local API port (0: free)")
    parser.add_argument("--control-port", type=int, default=0, help="control port (0: free)")
    parser.add_argument("--workdir", type=Path, help="keep the rig's files here (rig.json, ...)")
    parser.add_argument("--fps", type=float, default=10.0, help="camera frame rate")
    parser.add_argument(
        "--challenges", type=int, default=1, help="liveness challenges per face session"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the hall-kiosk rig until interrupted."""
    from sim.kiosk.rig import KioskRig

    if args.fps <= 0 or not 1 <= args.challenges <= 3:
        raise ConfigError("--fps must be positive and --challenges 1..3")
    if not 0 <= args.api_port <= 65535 or not 0 <= args.control_port <= 65535:
        raise ConfigError("ports must be 0..65535")
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    rig = KioskRig(
        workdir=args.workdir,
        device_id=args.device_id,
        broker_url=args.broker,
        api_port=args.api_port,
        control_port=args.control_port,
        camera_fps=args.fps,
        challenges=args.challenges,
    )
    rig.start()
    try:
        print(json.dumps(rig.describe()), flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        rig.stop()
    return 0
