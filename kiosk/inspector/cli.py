"""``govedge inspector --config FILE``: run the inspector app on a terminal.

The config (JSON) names the agent's local API and token file and the inspector::

    {"api_url": "http://127.0.0.1:8765", "token_file": "/var/lib/govedge/api.token",
     "inspector_id": "insp-007"}

``govedge sim inspector`` (sim/inspector/cli.py) runs the same app on a simulated terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.inspector.client import LocalApiClient


def register(parser: argparse.ArgumentParser) -> None:
    """Add the inspector terminal's options to ``parser``."""
    parser.add_argument("--config", type=Path, help="app config (JSON)")
    parser.set_defaults(func=run)


def read_config(path: Path | None) -> dict[str, str] | None:
    """The app config as a dict ({} without a file); None (after saying why) if unreadable."""
    if path is None:
        return {}
    try:
        config: dict[str, str] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        print(f"inspector: cannot read {path}: {exc}", file=sys.stderr)
        return None
    return config


def run(args: argparse.Namespace) -> int:
    """Run the inspector terminal's app."""
    from kiosk.inspector.client import LocalApiClient

    config = read_config(args.config)
    if config is None:
        return 2
    try:
        client = LocalApiClient.from_files(config["api_url"], config["token_file"])
    except (KeyError, OSError) as exc:
        print(f"inspector: config needs api_url and a readable token_file ({exc})", file=sys.stderr)
        return 2
    return run_app(client, config.get("inspector_id", "insp-demo"))


def run_app(client: LocalApiClient, inspector_id: str) -> int:
    """Show the inspector app against the agent behind ``client`` until it is closed."""
    from PySide6.QtWidgets import QApplication

    from kiosk.inspector.flow import InspectorFlow
    from kiosk.inspector.screens import InspectorWindow

    app = QApplication.instance() or QApplication([])
    window = InspectorWindow(InspectorFlow(client, inspector_id))
    window.show()
    return int(app.exec())
