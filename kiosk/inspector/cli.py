"""``govedge inspector --config FILE``: run the inspector app on a terminal.

The config (JSON) names the agent's local API and token file and the inspector::

    {"api_url": "http://127.0.0.1:8765", "token_file": "/var/lib/govedge/api.token",
     "inspector_id": "insp-007"}

``--demo`` starts the simulated inspector terminal (GNSS on a pty, a camera, a real agent) and
points the app at it; with a hub URL in the config (``hub_url``, ``hub_ca_file``) it syncs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="app config (JSON)")
    parser.add_argument("--demo", action="store_true", help="run against a simulated terminal")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from PySide6.QtWidgets import QApplication

    from kiosk.inspector.client import LocalApiClient
    from kiosk.inspector.flow import InspectorFlow
    from kiosk.inspector.screens import InspectorWindow

    config: dict[str, str] = {}
    if args.config:
        try:
            config = json.loads(args.config.read_text())
        except (OSError, ValueError) as exc:
            print(f"inspector: cannot read {args.config}: {exc}", file=sys.stderr)
            return 2
    rig = None
    if args.demo:
        from sim.inspector.rig import InspectorRig

        rig = InspectorRig(
            Path(tempfile.mkdtemp(prefix="govedge-inspector-")),
            hub_url=config.get("hub_url", ""),
            hub_ca_file=config.get("hub_ca_file", ""),
        ).start()
        client = LocalApiClient(rig.api_url, rig.token)
    else:
        try:
            client = LocalApiClient.from_files(config["api_url"], config["token_file"])
        except (KeyError, OSError) as exc:
            print(
                f"inspector: config needs api_url and a readable token_file ({exc})",
                file=sys.stderr,
            )
            return 2
    app = QApplication.instance() or QApplication([])
    window = InspectorWindow(InspectorFlow(client, config.get("inspector_id", "insp-demo")))
    window.show()
    try:
        return int(app.exec())
    finally:
        if rig is not None:
            rig.stop()
