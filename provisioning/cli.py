"""``govedge provision``: the CA, device identities, claim tokens, revocation, broker config.

Every command works on a CA directory (``--ca-dir``, default ``$GOVEDGE_CA_DIR`` or
``./govedge-ca``); CA keys encrypted with a passphrase are opened with ``GOVEDGE_CA_PASSPHRASE``.
Private keys are written to files, never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from govedge.errors import ConfigError

DEFAULT_CA_DIR = "govedge-ca"


def _ca_dir(args: argparse.Namespace) -> Path:
    return Path(args.ca_dir or os.environ.get("GOVEDGE_CA_DIR") or DEFAULT_CA_DIR)


def _open_ca(args: argparse.Namespace) -> Any:
    from provisioning.ca import FleetCA, passphrase_from_env

    return FleetCA.open(_ca_dir(args), passphrase_from_env())


def _signer(ca: Any) -> Any:
    from provisioning.bundles import BundleSigner
    from provisioning.ca import passphrase_from_env

    return BundleSigner.from_file(ca.bundle_key_path, passphrase_from_env())


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``12h``, ``7d`` (a bare number is minutes)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    raw = text.strip().lower()
    unit = raw[-1] if raw and raw[-1] in units else "m"
    number = raw[:-1] if raw and raw[-1] in units else raw
    try:
        value = float(number)
    except ValueError as exc:
        raise ConfigError(f"duration {text!r}: use e.g. 90s, 30m, 12h or 7d") from exc
    if value <= 0:
        raise ConfigError(f"duration {text!r} must be positive")
    return timedelta(seconds=value * units[unit])


def _load_json(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


# ---- handlers ----------------------------------------------------------------------------


def _ca_init(args: argparse.Namespace) -> int:
    from provisioning.ca import FleetCA, load_certificates, passphrase_from_env
    from provisioning.keys import load_private_key

    root = intermediate = None
    if args.root_cert:
        root_cert = load_certificates(Path(args.root_cert).read_bytes())[0]
        root_key = load_private_key(args.root_key, passphrase_from_env()) if args.root_key else None
        root = (root_cert, root_key)
    if args.intermediate_cert:
        if not args.intermediate_key or not root:
            raise ConfigError("--intermediate-cert needs --intermediate-key and --root-cert")
        inter_cert = load_certificates(Path(args.intermediate_cert).read_bytes())[0]
        intermediate = (inter_cert, load_private_key(args.intermediate_key, passphrase_from_env()))
    ca = FleetCA.init(
        args.dir,
        organization=args.org,
        key_type=args.key_type,
        root_days=args.root_days,
        intermediate_days=args.intermediate_days,
        root=root,
        intermediate=intermediate,
        passphrase=passphrase_from_env(),
        force=args.force,
    )
    print(f"CA ready in {ca.directory}")
    print(
        f"  root          {ca.root.subject.rfc4514_string()}"
        f"  until {ca.root.not_valid_after_utc:%Y-%m-%d}"
    )
    print(
        f"  intermediate  {ca.intermediate.subject.rfc4514_string()}"
        f"  until {ca.intermediate.not_valid_after_utc:%Y-%m-%d}"
    )
    print(f"  chain         {ca.chain_path}")
    print(f"  bundle key    {ca.bundle_public_path}")
    if (ca.directory / "root.key").exists():
        print("  keep root.key offline: it is needed only to make a new intermediate")
    return 0


def _ca_show(args: argparse.Namespace) -> int:
    from provisioning.rotation import fleet_expiry

    ca = _open_ca(args)
    records = ca.index.all()
    print(f"CA {ca.directory}: {ca.intermediate.subject.rfc4514_string()}")
    print(f"  certificates issued: {len(records)}, revoked: {sum(r.revoked for r in records)}")
    for health in fleet_expiry(records, warn_days=args.warn_days)[: args.limit]:
        print(f"  {health.common_name:24} {health.days_left:8.1f} days  {health.state}")
    return 0


def _device(args: argparse.Namespace) -> int:
    from provisioning.factory import DeviceSpec, provision_device

    ca = _open_ca(args)
    spec = DeviceSpec(args.id, args.model, args.site, args.days)
    made = provision_device(
        ca,
        spec,
        args.out,
        signer=_signer(ca),
        broker_url=args.broker_url,
        topic_root=args.topic_root,
        hub_url=args.hub_url,
        config=_load_json(args.config),
        key_type=args.key_type,
        replace=args.replace,
    )
    print(
        f"{made.device_id}: serial {made.serial}, until {made.not_after:%Y-%m-%d}, "
        f"files in {made.paths.directory}"
    )
    return 0


def _batch(args: argparse.Namespace) -> int:
    from provisioning.factory import provision_batch, read_batch

    ca = _open_ca(args)
    specs, failed = read_batch(args.file)
    width = len(str(len(specs)))
    tty = sys.stderr.isatty()

    def progress(done: int, total: int, device_id: str) -> None:
        end = "\r" if tty and done < total else "\n"
        sys.stderr.write(f"[{done:>{width}}/{total}] {device_id}{end}")
        sys.stderr.flush()

    result = provision_batch(
        ca,
        specs,
        args.out,
        signer=_signer(ca),
        progress=progress,
        broker_url=args.broker_url,
        topic_root=args.topic_root,
        hub_url=args.hub_url,
        config=_load_json(args.config),
        key_type=args.key_type,
        replace=args.replace,
    )
    failed = sorted(failed + result.failed)
    for line, device_id, reason in failed:
        print(f"line {line}: {device_id}: {reason}", file=sys.stderr)
    print(f"provisioned {len(result.done)} device(s) in {args.out}; {len(failed)} refused")
    return 1 if failed else 0


def _service(args: argparse.Namespace) -> int:
    from provisioning.ca import IdentityPaths

    ca = _open_ca(args)
    identity = ca.issue_service(args.name, days=args.days)
    paths = identity.write(IdentityPaths(Path(args.out)))
    print(f"{identity.common_name}: serial {identity.serial}, files in {paths.directory}")
    return 0


def _broker_config(args: argparse.Namespace) -> int:
    from provisioning.broker_config import Backlog, default_key_owner, write_broker_config

    backlog = Backlog(
        devices=args.fleet_size,
        rate_hz=args.rate_per_device,
        ride_out_s=args.ride_out,
        message_bytes=args.message_bytes,
    )
    ca = _open_ca(args)
    owner = args.key_owner if args.key_owner is not None else default_key_owner()
    files = write_broker_config(
        ca,
        args.out,
        port=args.port,
        bind=args.bind,
        root=args.topic_root,
        server_names=args.server_name or ["localhost", "127.0.0.1"],
        services=args.service or ["hub"],
        data_dir=args.data_dir,
        renew_server=args.renew_server,
        key_owner=owner or None,
        backlog=backlog,
    )
    print(f"mosquitto configuration in {files.directory}: mosquitto -c {files.conf}")
    print(
        f"  backlog for the hub's session: {backlog.messages} messages, {backlog.bytes} bytes "
        f"({backlog.ride_out_s:g} s of {backlog.devices} devices at {backlog.rate_hz:g} msg/s; "
        f"about {backlog.memory_bytes // 2**20} MiB of broker memory when full)"
    )
    print(
        f'  hub config: "broker_backlog_messages": {backlog.messages}, '
        f'"broker_backlog_bytes": {backlog.bytes} (the hub alarms as the backlog nears them)'
    )
    revoked = len(ca.index.revoked())
    print(f"  crlfile: {files.crlfile} ({revoked} revoked)")
    if owner:
        print(f"  server.key is 0600, owned by {owner} (the broker drops root before reading it)")
    else:
        print("  server.key is 0600: it must be owned by the user the broker runs as")
    return 0


def _token_create(args: argparse.Namespace) -> int:
    from provisioning.enrollment import EnrollmentService

    ca = _open_ca(args)
    service = EnrollmentService(ca)
    secret, token = service.create_token(
        args.model, site=args.site, device_id=args.device_id, ttl=parse_duration(args.ttl)
    )
    print(secret)
    print(
        f"token id {token.token_id}: model {token.model}"
        + (f", site {token.site}" if token.site else "")
        + f", single use, expires {token.expires_at:%Y-%m-%d %H:%M:%S} UTC",
        file=sys.stderr,
    )
    return 0


def _token_list(args: argparse.Namespace) -> int:
    from provisioning.tokens import TokenStore

    ca = _open_ca(args)
    for t in TokenStore(ca.index.path).all():
        if t.used_by == "!revoked":
            state = "withdrawn"
        elif t.used_at:
            state = f"used by {t.used_by}"
        else:
            state = f"expires {t.expires_at:%Y-%m-%d %H:%M}"
        print(f"{t.token_id}  {t.model:16} {t.site or '-':12} {state}")
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    from provisioning.tokens import TokenStore

    ca = _open_ca(args)
    token = TokenStore(ca.index.path).revoke(args.token_id)
    print(f"token {token.token_id} ({token.model}) withdrawn")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from provisioning.index import parse_serial

    ca = _open_ca(args)
    if args.serial:
        records = [ca.revoke(parse_serial(args.serial), args.reason)]
    elif args.id:
        records = ca.revoke_identity(args.id, args.reason)
    else:
        raise ConfigError("name what to revoke: --serial SERIAL or --id DEVICE_ID")
    for r in records:
        print(f"revoked {r.common_name} serial {r.serial} ({r.revocation_reason})")
    print(
        f"CRL written to {ca.crl_path}: rerun 'govedge provision broker-config' and send the "
        "broker SIGHUP (new connections of the revoked device are refused; a session already "
        "open ends when the broker restarts)"
    )
    return 0


def _crl(args: argparse.Namespace) -> int:
    ca = _open_ca(args)
    path = ca.write_crl(args.days)
    if args.out:
        from provisioning.keys import write_public

        path = write_public(args.out, path.read_bytes())
    print(f"CRL ({len(ca.index.revoked())} revoked) written to {path}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from provisioning.rotation import certificate_health

    health = certificate_health(Path(args.cert), warn_days=args.warn_days)
    print(
        f"{health.common_name}: serial {health.serial}, until {health.not_after:%Y-%m-%d}, "
        f"{health.days_left:.1f} days left ({health.state})"
    )
    return 0 if health.state == "ok" else 1


def _enroll(args: argparse.Namespace) -> int:
    import asyncio
    import ssl

    from provisioning.device.client import enroll_device

    context = ssl.create_default_context(cafile=args.cafile) if args.cafile else None
    paths = asyncio.run(
        enroll_device(
            args.url,
            token=args.token,
            model=args.model,
            device_id=args.id,
            out_dir=args.out,
            site=args.site,
            ssl=context,
        )
    )
    print(f"{args.id}: enrolled, files in {paths.directory}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from govedge.broker import BrokerURL
    from provisioning.ca import IdentityPaths
    from provisioning.mqtt_proof import try_connect

    url = BrokerURL.parse(args.broker)
    result = try_connect(url.host, url.port, IdentityPaths(Path(args.identity)))
    print(f"{url}: {'accepted' if result.ok else 'refused'} ({result.reason})")
    return 0 if result.ok else 1


def _bundle_sign(args: argparse.Namespace) -> int:
    from provisioning.keys import write_file

    ca = _open_ca(args)
    data = _load_json(args.file)
    assert data is not None  # noqa: S101 - narrowing: --file is required, so there is a JSON object
    write_file(args.out, _signer(ca).sign_bytes(data), 0o644)
    print(f"signed bundle written to {args.out}")
    return 0


def _bundle_verify(args: argparse.Namespace) -> int:
    from provisioning.bundles import BundleVerifier

    payload = BundleVerifier.from_files(args.public_key).verify_file(args.file)
    print(f"{args.file}: signature valid; kind {payload.get('kind', '?')}")
    return 0


# ---- parser ------------------------------------------------------------------------------


def _with_ca(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ca-dir", help=f"CA directory (default $GOVEDGE_CA_DIR or ./{DEFAULT_CA_DIR})"
    )


def _device_options(parser: argparse.ArgumentParser) -> None:
    from govedge.contract.topics import DEFAULT_ROOT

    _with_ca(parser)
    parser.add_argument("--broker-url", default="mqtts://localhost:8883", help="for the bundle")
    parser.add_argument("--hub-url", help="the hub's HTTPS address, for the bundle")
    parser.add_argument("--topic-root", default=DEFAULT_ROOT)
    parser.add_argument("--config", help="JSON file with the model's starter config")
    parser.add_argument("--key-type", default="ec-p256", choices=["ec-p256", "ec-p384", "rsa-2048"])
    parser.add_argument(
        "--replace", action="store_true", help="revoke the device's current certificate"
    )


def register(parser: argparse.ArgumentParser) -> None:
    """Attach the ``provision`` subcommands to ``parser``."""
    from govedge.contract.topics import DEFAULT_ROOT

    sub = parser.add_subparsers(dest="provision_command", metavar="ACTION", required=True)

    ca = sub.add_parser("ca", help="create, import or show the fleet CA")
    ca_sub = ca.add_subparsers(dest="ca_command", metavar="ACTION", required=True)
    init = ca_sub.add_parser("init", help="create (or import) the root and intermediate")
    init.add_argument("--dir", required=True, help="CA directory to create")
    init.add_argument("--org", default="govedge fleet", help="organization name in subjects")
    init.add_argument("--key-type", default="ec-p256", choices=["ec-p256", "ec-p384", "rsa-2048"])
    init.add_argument("--root-days", type=int, default=7300)
    init.add_argument("--intermediate-days", type=int, default=3650)
    init.add_argument("--root-cert", help="import this root certificate (PEM)")
    init.add_argument("--root-key", help="its key (omit when importing an intermediate too)")
    init.add_argument("--intermediate-cert", help="import this intermediate certificate")
    init.add_argument("--intermediate-key", help="its key")
    init.add_argument("--force", action="store_true", help="replace an existing CA")
    init.set_defaults(func=_ca_init)
    show = ca_sub.add_parser("show", help="issued certificates and days left")
    _with_ca(show)
    show.add_argument("--warn-days", type=float, default=30)
    show.add_argument("--limit", type=int, default=50)
    show.set_defaults(func=_ca_show)

    device = sub.add_parser("device", help="make one device's key, certificate and bundle")
    device.add_argument("--id", required=True, help="device id (the certificate's CN)")
    device.add_argument("--model", required=True)
    device.add_argument("--site", required=True)
    device.add_argument("--out", required=True, help="directory for the device's files")
    device.add_argument("--days", type=int, default=397)
    _device_options(device)
    device.set_defaults(func=_device)

    batch = sub.add_parser("batch", help="provision every device of a CSV (id,model,site)")
    batch.add_argument("file", help="CSV with header id,model,site[,days]")
    batch.add_argument("--out", default="devices", help="one subdirectory per device")
    _device_options(batch)
    batch.set_defaults(func=_batch)

    service = sub.add_parser("hub-identity", help="the hub's client certificate")
    _with_ca(service)
    service.add_argument("--name", default="hub")
    service.add_argument("--out", required=True)
    service.add_argument("--days", type=int, default=397)
    service.set_defaults(func=_service)

    broker = sub.add_parser("broker-config", help="Mosquitto TLS listener, ACL and CRL")
    _with_ca(broker)
    broker.add_argument("--out", required=True, help="directory for mosquitto.conf and files")
    broker.add_argument("--port", type=int, default=8883)
    broker.add_argument("--bind", default="0.0.0.0")  # noqa: S104 - the fleet broker listens for devices on every interface by default
    broker.add_argument("--topic-root", default=DEFAULT_ROOT)
    broker.add_argument(
        "--server-name", action="append", help="broker host name or address (repeatable)"
    )
    broker.add_argument("--service", action="append", help="service identity (default hub)")
    broker.add_argument("--data-dir", help="persistence directory")
    broker.add_argument("--renew-server", action="store_true")
    broker.add_argument(
        "--fleet-size", type=int, default=1000, help="devices publishing (sizes the backlog)"
    )
    broker.add_argument(
        "--rate-per-device", type=float, default=1.0, help="messages a second per device"
    )
    broker.add_argument(
        "--ride-out",
        type=float,
        default=600.0,
        help="seconds of hub outage the broker must hold without loss (default 600)",
    )
    broker.add_argument(
        "--message-bytes", type=int, default=512, help="mean message size for max_queued_bytes"
    )
    broker.add_argument(
        "--key-owner",
        help="user to own server.key (default: mosquitto when run as root; '' for nobody)",
    )
    broker.set_defaults(func=_broker_config)

    token = sub.add_parser("token", help="claim tokens for field enrollment")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = token_sub.add_parser("create", help="a single-use token (printed once)")
    _with_ca(create)
    create.add_argument("--model", required=True)
    create.add_argument("--site")
    create.add_argument("--device-id", help="bind the token to one device id")
    create.add_argument("--ttl", default="30m", help="lifetime: 90s, 30m, 12h, 7d")
    create.set_defaults(func=_token_create)
    listing = token_sub.add_parser("list", help="tokens by id (never the secrets)")
    _with_ca(listing)
    listing.set_defaults(func=_token_list)
    withdraw = token_sub.add_parser("revoke", help="withdraw an unused token by its id")
    _with_ca(withdraw)
    withdraw.add_argument("token_id", help="the token id shown by 'token list'")
    withdraw.set_defaults(func=_token_revoke)

    revoke = sub.add_parser("revoke", help="revoke a certificate and rewrite the CRL")
    _with_ca(revoke)
    revoke.add_argument("--serial", help="certificate serial (hex)")
    revoke.add_argument("--id", help="revoke every certificate of this device id")
    revoke.add_argument("--reason", default="unspecified")
    revoke.set_defaults(func=_revoke)

    crl = sub.add_parser("crl", help="rewrite the CRL (before its next-update date)")
    _with_ca(crl)
    crl.add_argument("--days", type=int, default=30, help="next update in this many days")
    crl.add_argument("--out", help="also copy it here (the broker's crlfile)")
    crl.set_defaults(func=_crl)

    status = sub.add_parser("status", help="days left on a certificate")
    status.add_argument("cert", help="PEM certificate file")
    status.add_argument("--warn-days", type=float, default=30)
    status.set_defaults(func=_status)

    enroll = sub.add_parser("enroll", help="(on a device) enroll with a claim token")
    enroll.add_argument("--url", required=True, help="hub base URL, e.g. https://hub:8443")
    enroll.add_argument("--token", required=True)
    enroll.add_argument("--model", required=True)
    enroll.add_argument("--id", required=True, help="this device's id")
    enroll.add_argument("--site")
    enroll.add_argument("--out", required=True)
    enroll.add_argument("--cafile", help="trust anchor for the hub's HTTPS")
    enroll.set_defaults(func=_enroll)

    check = sub.add_parser("check", help="try an identity against the broker")
    check.add_argument("--broker", required=True, help="mqtts://host:port")
    check.add_argument("--identity", required=True, help="directory with key/cert/ca.pem")
    check.set_defaults(func=_check)

    bundle = sub.add_parser("bundle", help="sign or verify a config bundle")
    bundle_sub = bundle.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)
    sign = bundle_sub.add_parser("sign", help="sign a JSON bundle with the hub's key")
    _with_ca(sign)
    sign.add_argument("file")
    sign.add_argument("--out", required=True)
    sign.set_defaults(func=_bundle_sign)
    verify = bundle_sub.add_parser("verify", help="verify a signed bundle")
    verify.add_argument("file")
    verify.add_argument("--public-key", required=True)
    verify.set_defaults(func=_bundle_verify)
