"""``govedge release``: make the release key, build, verify and install signed release bundles.

It lives beside the A/B slots it installs into; signing and verifying are provisioning.releases.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    """Add the release commands (keygen, build, verify, install) to ``parser``."""
    sub = parser.add_subparsers(dest="release_command", metavar="ACTION", required=True)
    keygen = sub.add_parser(
        "keygen", help="make the release signing key (apart from the config key)"
    )
    keygen.add_argument("--out", required=True, metavar="DIR", help="writes release.key/.pub")
    keygen.set_defaults(func=_keygen)
    build = sub.add_parser("build", help="sign a directory as a release bundle")
    build.add_argument("source", metavar="DIR", help="the release's files (bin/govedge-agent...)")
    build.add_argument("--version", required=True)
    build.add_argument("--key", required=True, metavar="PEM", help="the release private key")
    build.add_argument("--out", required=True, metavar="FILE", help="the bundle (.tar)")
    build.add_argument(
        "--app", action="append", default=[], help="app(s) the release carries (agent, kiosk)"
    )
    build.set_defaults(func=_build)
    verify = sub.add_parser("verify", help="check a bundle's signature and every file's hash")
    verify.add_argument("bundle", metavar="FILE")
    verify.add_argument("--public-key", required=True, metavar="PEM")
    verify.set_defaults(func=_verify)
    install = sub.add_parser(
        "install", help="install a verified bundle as a device's active release (first install)"
    )
    install.add_argument("bundle", metavar="FILE")
    install.add_argument("--root", required=True, metavar="DIR")
    install.add_argument("--public-key", required=True, metavar="PEM")
    install.set_defaults(func=_install)


def _keygen(args: argparse.Namespace) -> int:
    from provisioning.device.identity import passphrase_from_env
    from provisioning.releases import write_release_key

    key, pub = write_release_key(args.out, passphrase_from_env())
    print(f"release key {key}\nrelease public key {pub} (give this to devices)")
    return 0


def _build(args: argparse.Namespace) -> int:
    from provisioning.device.identity import passphrase_from_env
    from provisioning.releases import build_bundle, release_signer

    signer = release_signer(args.key, passphrase_from_env())
    release = build_bundle(args.source, args.version, args.out, signer, args.app or ["agent"])
    print(
        f"{args.out}: release {release.version}, {len(release.files)} files, "
        f"{release.size} bytes, signed by {release.key_id}"
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    from provisioning.releases import release_verifier, unpack_bundle

    release = unpack_bundle(args.bundle, release_verifier(args.public_key))
    print(f"{args.bundle}: valid release {release.version} ({len(release.files)} files)")
    return 0


def _install(args: argparse.Namespace) -> int:
    from edge_agent.update.slots import Slots
    from provisioning.releases import release_verifier

    slots = Slots(Path(args.root))
    release = slots.install(Path(args.bundle), release_verifier(args.public_key))
    slots.switch(release.version)
    print(f"{args.root}: release {release.version} installed and active")
    return 0
