"""``govedge hub backup --out DIR`` and ``govedge hub restore --from DIR`` (see hub.backup)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register_backup(sub: argparse._SubParsersAction[Any], config_args: Callable[..., None]) -> None:
    """Add the backup commands to the hub's command line."""
    take = sub.add_parser(
        "backup",
        help="back up the registry, alarms, ledger, keys and releases (while the hub runs)",
    )
    config_args(take, inherit=True)
    take.add_argument("--out", required=True, metavar="DIR", help="a new, empty directory")
    take.set_defaults(func=_backup)
    back = sub.add_parser("restore", help="restore a backup into the config's locations")
    config_args(back, inherit=True)
    back.add_argument("--from", dest="source", required=True, metavar="DIR")
    back.add_argument("--force", action="store_true", help="overwrite an existing database")
    back.set_defaults(func=_restore)


def _config(args: argparse.Namespace) -> Any:
    from govedge.errors import ConfigError
    from hub.cli import _load

    if not getattr(args, "config", None) and not getattr(args, "data", None):
        raise ConfigError("which hub? give its config (--config FILE) or data folder (--data DIR)")
    return _load(args)


def _backup(args: argparse.Namespace) -> int:
    from hub.backup import backup

    manifest = backup(_config(args), args.out)
    print(f"{args.out}: backup of {len(manifest['files'])} files ({', '.join(manifest['parts'])})")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from hub.backup import restore

    manifest = restore(_config(args), args.source, force=args.force)
    print(f"restored the backup of {manifest['created']:.0f} from {args.source}")
    return 0
