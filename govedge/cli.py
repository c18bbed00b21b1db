"""The ``govedge`` command line.

The kernel imports no other package: each command group lives in the package that owns it and
is named here by module. A command's module is imported only when that command is parsed, so
``govedge agent`` on a kiosk imports the agent and nothing of the hub, the simulators or the
benchmarks, and a device without the hub's extra still runs it. A plugin module exposes
``register(parser)``, which adds its arguments and sets ``func`` (a callable taking the parsed
arguments and returning an exit code).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from govedge import __version__
from govedge.errors import GovedgeError

TOP_COMMANDS: dict[str, tuple[str, str]] = {
    "hub": ("hub.cli", "run the hub and manage its tokens"),
    "agent": ("edge_agent.cli", "run the edge agent or check a device config"),
    "device": ("", "talk to one piece of hardware (technicians' tools)"),
    "sim": ("", "start a hardware simulator or a simulated fleet"),
    "face": ("drivers.camera.face_cli", "face verification and liveness"),
    "kiosk": ("kiosk.hall.app", "the hall kiosk app (full screen, or --windowed)"),
    "provision": ("provisioning.cli", "device identities, enrollment and broker configuration"),
    "demo": ("sim.demo", "run broker, hub and a simulated fleet on one machine"),
    "bench": ("bench.cli", "run the benchmark suite"),
    "verify-proof": ("hub.services.verify_cli", "check a printed proof (QR text or receipt photo)"),
    "ledger": ("hub.services.ledger_cli", "verify the hub's tamper-evident proof ledger"),
    "evidence": ("hub.inspection.verify_cli", "check inspection evidence offline"),
    "inspector": ("kiosk.inspector.cli", "run the inspector terminal app"),
    "release": ("edge_agent.update.release_cli", "build, verify and install signed releases"),
}

DEVICE_COMMANDS: dict[str, tuple[str, str]] = {
    "idcard": ("drivers.idcard.cli", "ID-card reader (GA/T 467 SAM)"),
    "fingerprint": ("drivers.fingerprint.cli", "fingerprint module (R30x)"),
    "smartcard": ("drivers.smartcard.cli", "PC/SC smart cards (social-security card)"),
    "camera": ("drivers.camera.cli", "camera capture"),
    "printer": ("drivers.printer.cli", "ESC/POS receipt printer"),
    "modbus": ("drivers.modbus.cli", "Modbus RTU sensors"),
    "gnss": ("drivers.gnss.cli", "GNSS receiver (NMEA 0183)"),
}

SIM_COMMANDS: dict[str, tuple[str, str]] = {
    "idcard": ("sim.idcard.cli", "ID-card reader on a pty"),
    "fingerprint": ("sim.fingerprint.cli", "fingerprint module on a pty"),
    "smartcard": ("sim.smartcard.cli", "social-security card on vpcd"),
    "camera": ("sim.camera.cli", "camera playing a scripted sequence"),
    "printer": ("sim.printer.cli", "ESC/POS printer on TCP"),
    "modbus": ("sim.modbus.cli", "Modbus RTU sensor bus on a pty"),
    "gnss": ("sim.gnss.cli", "GNSS receiver on a pty"),
    "fleet": ("sim.fleet.cli", "a simulated fleet with scenarios"),
    "kiosk": ("sim.kiosk.cli", "a simulated hall kiosk: device sims, agent, citizen control"),
    "visit": ("sim.kiosk.visit", "play a citizen's visit at a running kiosk rig"),
    "inspector": ("sim.inspector.cli", "the inspector app on a simulated terminal"),
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2, never a traceback."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _Command(_Parser):
    """A command whose plugin module is imported the first time the command is parsed."""

    def __init__(self, *args: Any, plugin: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plugin = plugin

    def _load(self) -> None:
        module, self._plugin = self._plugin, ""
        if not module:
            return
        try:
            # __import__ rather than importlib.import_module: the import statement's own path,
            # which ``python -X importtime`` reports (importlib's is not).
            plugin = __import__(module, fromlist=["register"])
        except ImportError as exc:
            self.set_defaults(func=_unavailable(module, exc))
            return
        plugin.register(self)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._load()
        return super().parse_known_args(args, namespace)


def _unavailable(module: str, exc: BaseException) -> Callable[[argparse.Namespace], int]:
    def run(_: argparse.Namespace) -> int:
        missing = getattr(exc, "name", None) or str(exc)
        print(
            f"govedge: this command needs {missing!s}, which is not installed "
            f"(install govedge with the extra for it, or 'make install'); from {module}",
            file=sys.stderr,
        )
        return 3

    return run


def _attach(
    sub: argparse._SubParsersAction[_Command], name: str, module: str, helptext: str
) -> None:
    sub.add_parser(name, help=helptext, description=helptext, plugin=module)


def _group(
    sub: argparse._SubParsersAction[_Command],
    name: str,
    helptext: str,
    table: dict[str, tuple[str, str]],
) -> None:
    parser = sub.add_parser(name, help=helptext, description=helptext)
    inner = parser.add_subparsers(
        dest=f"{name}_command", metavar="KIND", required=True, parser_class=_Command
    )
    for kind, (module, kind_help) in table.items():
        _attach(inner, kind, module, kind_help)


def build_parser() -> argparse.ArgumentParser:
    """The ``govedge`` argument parser with every package's commands."""
    parser = _Parser(prog="govedge", description="govedge: smart-government device fleets.")
    parser.add_argument("--version", action="version", version=f"govedge {__version__}")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument("--log-format", default="text", choices=["text", "json"])
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Command
    )
    for name, (module, helptext) in TOP_COMMANDS.items():
        if name == "device":
            _group(sub, name, helptext, DEVICE_COMMANDS)
        elif name == "sim":
            _group(sub, name, helptext, SIM_COMMANDS)
        else:
            _attach(sub, name, module, helptext)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``govedge`` command line; the exit status."""
    from govedge.logs import setup_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except GovedgeError as exc:
        print(f"govedge: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"govedge: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
