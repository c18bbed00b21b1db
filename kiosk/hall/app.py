"""``govedge kiosk``: the hall kiosk app, full screen (or ``--windowed``).

Wires the window, the flow's thread and the two HTTP clients together. Any error at start is one
line on stderr; once running, nothing the citizen does or a device says shows a trace.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from govedge.errors import ConfigError
from govedge.logs import fields, get_logger
from kiosk.hall.config import KioskConfig, load_config, read_token
from kiosk.hall.protocols import ClientFactory, DeviceClient, ServiceBackend

log = get_logger(__name__)


def register(parser: argparse.ArgumentParser) -> None:
    """Add the hall kiosk's options to ``parser``."""
    parser.add_argument("--config", type=Path, help="kiosk config (JSON); defaults apply without")
    parser.add_argument("--windowed", action="store_true", help="a window instead of full screen")
    parser.add_argument(
        "--orientation", choices=("portrait", "landscape", "auto"), help="override the config"
    )
    parser.add_argument(
        "--scale",
        type=float,
        help="with --windowed: draw at this scale (default: fit the screen, at most 1)",
    )
    parser.set_defaults(func=run)


def client_factory(config: KioskConfig, base: Path) -> ClientFactory:
    """The coroutine function that makes the real HTTP clients on the flow's loop."""
    from kiosk.hall.backend_client import HubServiceBackend
    from kiosk.hall.device_client import AgentDeviceClient

    hub_token = config.hub.token or (
        read_token(config.hub.token_file, base) if config.hub.token_file else ""
    )

    async def make() -> tuple[DeviceClient, ServiceBackend]:
        devices = AgentDeviceClient(
            config.agent.url,
            lambda: read_token(config.agent.token_file, base),
            config.agent.request_timeout_s,
        )
        backend = HubServiceBackend(config.hub.url, hub_token, config.hub.timeout_s)
        return devices, backend

    return make


def pick_orientation(
    config: KioskConfig, override: str | None, screen_w: int, screen_h: int
) -> str:
    """The screen orientation: the override, the config's, or the screen's shape for auto."""
    choice = override or config.orientation
    if choice != "auto":
        return choice
    return "landscape" if screen_w > screen_h else "portrait"


def _fit_scale(config: KioskConfig, override: str | None) -> float:
    """The scale at which the kiosk's window fits the primary screen (asked of Qt in a child
    process, since the scale must be known before this process makes its application)."""
    probe = (
        "from PySide6.QtGui import QGuiApplication\n"
        "app = QGuiApplication([])\n"
        "g = app.primaryScreen().availableGeometry()\n"
        "print(g.width(), g.height())\n"
    )
    try:
        out = subprocess.run(  # noqa: S603 - argv of this Python with a fixed probe, no shell
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=20
        ).stdout.split()
        width, height = int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return 1.0
    orientation = pick_orientation(config, override, width, height)
    want_w, want_h = (1920, 1080) if orientation == "landscape" else (1080, 1920)
    return max(0.3, min(1.0, 0.95 * width / want_w, 0.92 * height / want_h))


def run(args: argparse.Namespace) -> int:
    """Run the hall kiosk's window until it is closed."""
    config = load_config(args.config) if args.config else KioskConfig()
    base = args.config.resolve().parent if args.config else Path.cwd()
    display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not display:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    elif args.windowed and "QT_SCALE_FACTOR" not in os.environ:
        # The screens are drawn for 1080x1920 (or 1920x1080); a development screen is often
        # smaller. Qt takes its scale factor before the application exists.
        scale = args.scale or _fit_scale(config, args.orientation)
        if scale < 1.0:
            os.environ["QT_SCALE_FACTOR"] = f"{scale:.3f}"
    from kiosk.hall.ui.kiosk import Kiosk
    from kiosk.hall.ui.window import ensure_app

    app = ensure_app()
    screen = app.primaryScreen()
    size = screen.size() if screen is not None else None
    orientation = pick_orientation(
        config, args.orientation, size.width() if size else 1080, size.height() if size else 1920
    )
    try:
        kiosk = Kiosk(config, client_factory(config, base), orientation)
        kiosk.start(full_screen=not args.windowed)
    except (ConfigError, RuntimeError, TimeoutError) as exc:
        print(f"govedge kiosk: {exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    # Python runs signal handlers only when it holds the thread: wake it a few times a second.
    from PySide6.QtCore import QTimer

    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(250)
    log.info("kiosk_started", extra=fields(orientation=orientation, hall=config.hall))
    try:
        app.exec()
    finally:
        kiosk.stop()
    return 0
