"""``govedge sim inspector``: the inspector app on a simulated terminal.

Starts the simulated inspector terminal (GNSS on a pty, a camera, a real agent) and points the app
at it; with a hub URL in the config (``hub_url``, ``hub_ca_file``) it syncs. The app itself is
kiosk/inspector/cli.py; product code never imports the simulators, so the demo starts here.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    """Add the inspector simulator's options to ``parser``."""
    parser.add_argument("--config", type=Path, help="app config (JSON): hub_url, hub_ca_file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the inspector app against a simulated terminal."""
    from kiosk.inspector.cli import read_config, run_app
    from kiosk.inspector.client import LocalApiClient
    from sim.inspector.rig import InspectorRig

    config = read_config(args.config)
    if config is None:
        return 2
    rig = InspectorRig(
        Path(tempfile.mkdtemp(prefix="govedge-inspector-")),
        hub_url=config.get("hub_url", ""),
        hub_ca_file=config.get("hub_ca_file", ""),
    ).start()
    try:
        client = LocalApiClient(rig.api_url, rig.token)
        return run_app(client, config.get("inspector_id", "insp-demo"))
    finally:
        rig.stop()
