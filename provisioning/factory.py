"""Factory provisioning: a device's key, certificate, CA chain and signed starter bundle.

``provision_device`` writes, in the device's output directory::

    key.pem              the device's private key (0600)
    cert.pem             its certificate (CN = device id)
    ca.pem               intermediate + root: to verify the broker and the hub
    bundle.json          the starter config bundle, signed with the hub's Ed25519 key
    bundle-signing.pub   the key the agent verifies bundles with

``read_batch`` and ``provision_batch`` do the same for every row of a CSV file
(``id,model,site[,days]``); a bad row is reported and skipped, the others are still made.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from govedge.contract.topics import DEFAULT_ROOT, TopicError, check_device_id, check_root
from govedge.logs import fields, get_logger
from provisioning.bundles import BundleSigner
from provisioning.ca import DEVICE_DAYS, FleetCA, IdentityPaths
from provisioning.errors import CAError, ProvisioningError
from provisioning.keys import write_file, write_public

log = get_logger(__name__)

BUNDLE_FILE = "bundle.json"
BUNDLE_PUB_FILE = "bundle-signing.pub"
BUNDLE_KIND = "govedge.device-config"


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One device to provision."""

    device_id: str
    model: str
    site: str
    days: int = DEVICE_DAYS


@dataclass(frozen=True, slots=True)
class ProvisionedDevice:
    """What :func:`provision_device` wrote."""

    device_id: str
    serial: str
    paths: IdentityPaths
    bundle: Path
    not_after: datetime


def starter_bundle(
    spec: DeviceSpec,
    *,
    broker_url: str,
    topic_root: str = DEFAULT_ROOT,
    hub_url: str | None = None,
    config: Mapping[str, Any] | None = None,
    version: int = 1,
    paths: IdentityPaths | None = None,
) -> dict[str, Any]:
    """The first configuration a device boots with: where the broker is and who it is."""
    names = paths or IdentityPaths(Path("."))
    bundle: dict[str, Any] = {
        "kind": BUNDLE_KIND,
        "version": version,
        "device_id": spec.device_id,
        "model": spec.model,
        "site": spec.site,
        "issued_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mqtt": {
            "url": broker_url,
            "topic_root": topic_root,
            "client_id": spec.device_id,
            "tls": {"ca": names.ca_name, "cert": names.cert_name, "key": names.key_name},
        },
        "config": dict(config or {}),
    }
    if hub_url:
        bundle["hub_url"] = hub_url
    return bundle


def provision_device(
    ca: FleetCA,
    spec: DeviceSpec,
    out_dir: str | Path,
    *,
    signer: BundleSigner,
    broker_url: str = "mqtts://localhost:8883",
    topic_root: str = DEFAULT_ROOT,
    hub_url: str | None = None,
    config: Mapping[str, Any] | None = None,
    key_type: str = "ec-p256",
    replace: bool = False,
) -> ProvisionedDevice:
    """Issue a device identity and write its files; refuses a device id already in service.

    With ``replace``, the device's active certificates are revoked (superseded) first.
    """
    try:
        check_device_id(spec.device_id)
        check_root(topic_root)
    except TopicError as exc:
        raise CAError(str(exc)) from exc
    paths = IdentityPaths(Path(out_dir))
    if paths.key.exists() and not replace:
        raise ProvisioningError(f"{paths.key} exists: refusing to overwrite a device key")
    active = ca.active_certificates(spec.device_id)
    if active and not replace:
        raise CAError(
            f"device {spec.device_id!r} already has an active certificate "
            f"(serial {active[-1].serial}); revoke it or provision with --replace"
        )
    identity = ca.issue_device(
        spec.device_id, model=spec.model, site=spec.site, days=spec.days, key_type=key_type
    )
    for record in active:
        ca.revoke(int(record.serial, 16), "superseded")
    identity.write(paths)
    bundle = starter_bundle(
        spec,
        broker_url=broker_url,
        topic_root=topic_root,
        hub_url=hub_url,
        config=config,
        paths=paths,
    )
    bundle_path = write_file(paths.directory / BUNDLE_FILE, signer.sign_bytes(bundle), 0o644)
    write_public(paths.directory / BUNDLE_PUB_FILE, ca.bundle_public_path.read_bytes())
    return ProvisionedDevice(
        spec.device_id,
        identity.serial,
        paths,
        bundle_path,
        identity.certificate.not_valid_after_utc,
    )


@dataclass
class BatchResult:
    """Devices made and rows refused (line number, device id or '?', reason)."""

    done: list[ProvisionedDevice] = field(default_factory=list)
    failed: list[tuple[int, str, str]] = field(default_factory=list)


REQUIRED_COLUMNS = ("id", "model", "site")


def read_batch(path: str | Path) -> tuple[list[tuple[int, DeviceSpec]], list[tuple[int, str, str]]]:
    """Parse a CSV of devices (header ``id,model,site[,days]``; ``#`` lines are comments)."""
    where = Path(path)
    try:
        text = where.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProvisioningError(f"{where} is not UTF-8 text") from exc
    entries = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not entries:
        raise ProvisioningError(f"{where} is empty")
    header = [h.strip().lower() for h in next(csv.reader([entries[0][1]]))]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ProvisioningError(f"{where}: header lacks column(s) {', '.join(missing)}")
    specs: list[tuple[int, DeviceSpec]] = []
    failed: list[tuple[int, str, str]] = []
    seen: set[str] = set()
    for number, line in entries[1:]:
        row = dict(zip(header, next(csv.reader([line])), strict=False))
        device_id = (row.get("id") or "").strip()
        model = (row.get("model") or "").strip()
        site = (row.get("site") or "").strip()
        days_text = (row.get("days") or "").strip()
        try:
            check_device_id(device_id)
        except TopicError as exc:
            failed.append((number, device_id or "?", str(exc)))
            continue
        if not model or not site:
            failed.append((number, device_id, "model and site are required"))
            continue
        if device_id in seen:
            failed.append((number, device_id, "device id appears twice in the file"))
            continue
        try:
            days = int(days_text) if days_text else DEVICE_DAYS
            if days <= 0:
                raise ValueError
        except ValueError:
            failed.append((number, device_id, f"days {days_text!r} is not a positive integer"))
            continue
        seen.add(device_id)
        specs.append((number, DeviceSpec(device_id, model, site, days)))
    return specs, failed


def provision_batch(
    ca: FleetCA,
    specs: Sequence[tuple[int, DeviceSpec]],
    out_root: str | Path,
    *,
    signer: BundleSigner,
    progress: Callable[[int, int, str], None] | None = None,
    **options: Any,
) -> BatchResult:
    """Provision every spec into ``out_root/<device id>/``; a failure skips that device only."""
    result = BatchResult()
    total = len(specs)
    for done, (line, spec) in enumerate(specs, start=1):
        try:
            made = provision_device(
                ca, spec, Path(out_root) / spec.device_id, signer=signer, **options
            )
        except (ProvisioningError, OSError) as exc:
            result.failed.append((line, spec.device_id, str(exc)))
            log.warning(
                "provision_failed",
                extra=fields(device_id=spec.device_id, line=line, error=str(exc)),
            )
        else:
            result.done.append(made)
        if progress is not None:
            progress(done, total, spec.device_id)
    return result
