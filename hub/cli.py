"""``govedge hub``: run the hub, and manage its API tokens."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govedge.errors import ConfigError
from govedge.logs import fields

if TYPE_CHECKING:
    from hub.auth import TokenStore
    from hub.settings import HubConfig

log = logging.getLogger("govedge.hub")


def register(parser: argparse.ArgumentParser) -> None:
    """Add the hub command: serve by default, or one of its actions (tokens, backups, ...)."""
    _config_args(parser)
    parser.add_argument("--http-host", help="address for the API and consoles")
    parser.add_argument("--http-port", type=int, help="port for the API and consoles")
    parser.add_argument(
        "--workers",
        type=_worker_count,
        default=1,
        metavar="N",
        help="run N worker processes sharing MQTT ingestion, worker i on HTTP port "
        "http_port+i-1 (N>1 needs MQTT 5 and shared stores; see docs/scale.md)",
    )
    # Set by the --workers supervisor for the process it starts as worker I of N.
    parser.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)
    sub = parser.add_subparsers(dest="hub_command", metavar="ACTION")
    token = sub.add_parser("token", help="API tokens").add_subparsers(
        dest="token_command", metavar="ACTION", required=True
    )
    create = token.add_parser("create", help="create a token and print it (shown once)")
    _config_args(create, inherit=True)
    create.add_argument(
        "--role", required=True, choices=["admin", "operator", "emergency", "viewer", "kiosk"]
    )
    create.add_argument("--name", default="")
    create.set_defaults(func=token_create)
    listing = token.add_parser("list", help="list tokens (never their values)")
    _config_args(listing, inherit=True)
    listing.set_defaults(func=token_list)
    from hub.backup_cli import register_backup

    register_backup(sub, _config_args)


def _worker_count(text: str) -> int:
    """``--workers``: a whole number, at least 1."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{count}: give at least 1 worker")
    return count


def _config_args(parser: argparse.ArgumentParser, inherit: bool = False) -> None:
    """``inherit``: an option left out here keeps the value given before the action
    (``govedge hub --config F token create`` and ``... token create --config F`` agree)."""
    extra: dict[str, Any] = {"default": argparse.SUPPRESS} if inherit else {}
    parser.add_argument("--config", type=Path, help="hub config file (JSON)", **extra)
    parser.add_argument("--broker", help="broker URL, e.g. mqtt://127.0.0.1:1883", **extra)
    parser.add_argument(
        "--data", type=Path, help="folder for the embedded SQLite databases", **extra
    )


def _load(args: argparse.Namespace) -> HubConfig:
    import msgspec

    from hub.settings import HubConfig, load_config

    config = load_config(args.config) if args.config else HubConfig()
    changes: dict[str, object] = {}
    if getattr(args, "broker", None):
        changes["broker_url"] = args.broker
    if getattr(args, "data", None):
        data = Path(args.data)
        changes["database_url"] = f"sqlite:///{data / 'registry.db'}"
        changes["telemetry_url"] = f"sqlite:///{data / 'telemetry.db'}"
    if getattr(args, "http_host", None):
        changes["http_host"] = args.http_host
    if getattr(args, "http_port", None) is not None:
        changes["http_port"] = args.http_port
    return msgspec.structs.replace(config, **changes) if changes else config


def run(args: argparse.Namespace) -> int:
    """Serve the hub until stopped: one process, or (``--workers N``) a supervisor of N."""
    from hub.workers import check_workers, supervise, worker_config

    config = _load(args)
    workers: int = getattr(args, "workers", 1)
    index: int | None = getattr(args, "worker_index", None)
    if workers > 1 and index is None:
        return supervise(config, workers, lambda i: _worker_command(args, i))
    if index is not None:
        check_workers(config, workers)
        config = worker_config(config, index, workers)
    return _serve(config)


def _worker_command(args: argparse.Namespace, index: int) -> list[str]:
    """The command line of worker ``index``: this command's own options, and which worker it
    is (the worker derives its client id, port and group from them, as the supervisor did)."""
    import sys

    argv = [sys.executable, "-m", "govedge"]
    argv += ["--log-level", getattr(args, "log_level", "info")]
    argv += ["--log-format", getattr(args, "log_format", "text"), "hub"]
    for option, name in (
        ("--config", "config"),
        ("--broker", "broker"),
        ("--data", "data"),
        ("--http-host", "http_host"),
        ("--http-port", "http_port"),
    ):
        value = getattr(args, name, None)
        if value is not None and value != "":
            argv += [option, str(Path(value).resolve() if isinstance(value, Path) else value)]
    return [*argv, "--workers", str(args.workers), "--worker-index", str(index)]


def _serve(config: HubConfig) -> int:
    """Run one hub worker with ``config`` until SIGTERM or SIGINT."""
    from aiohttp import web

    from hub.app import create_app, tune_process

    tune_process()
    for url in (config.database_url, config.telemetry_url):
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    app = create_app(config)
    log.info("hub_listening", extra=fields(url=f"http://{config.http_host}:{config.http_port}/"))
    web.run_app(app, host=config.http_host, port=config.http_port, print=None, handle_signals=True)
    return 0


def _tokens(args: argparse.Namespace) -> TokenStore:
    """The running hub's token store. A token is worth something only in the database the hub
    reads, so this never makes a database: without --config or --data it refuses, and a SQLite
    file that is not there is an error naming it."""
    from hub.auth import TokenStore
    from hub.db import create_schema, make_engine

    if not getattr(args, "config", None) and not getattr(args, "data", None):
        raise ConfigError(
            "which hub? give the hub's config (--config FILE) or its data folder (--data DIR): "
            "a token is valid only in the database that hub reads"
        )
    config = _load(args)
    if config.database_url.startswith("sqlite:///"):
        db = Path(config.database_url[len("sqlite:///") :])
        if not db.is_file():
            raise ConfigError(
                f"no hub database at {db}: start the hub once with this configuration, "
                "or check --config / --data"
            )
    engine = make_engine(config.database_url)
    create_schema(engine)
    return TokenStore(engine)


def token_create(args: argparse.Namespace) -> int:
    """Create a token and print it (the only time it is shown)."""
    print(_tokens(args).create(args.role, args.name))
    return 0


def token_list(args: argparse.Namespace) -> int:
    """Print the tokens: id, role, name and whether revoked (never the token itself)."""
    for t in _tokens(args).all():
        print(f"{t['id']:>4}  {t['role']:<10} {t['name']:<20} {'revoked' if t['revoked'] else ''}")
    return 0
