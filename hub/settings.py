"""The hub's configuration file (JSON), with every default in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from govedge.contract.topics import DEFAULT_ROOT
from govedge.errors import ConfigError
from hub.releases.settings import ReleasesConfig


class ServicesConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The citizen services (hub/services): proofs, ledger, applications; see docs/services.md."""

    proof_keys_dir: str = "var/hub/proof-keys"  # the proof signing keys, apart from other keys
    platform_url: str = ""  # the city's 一网通办 platform; empty: applications in the hub's db
    platform_token: str = ""
    office_name: str = "市政务服务中心"
    office_name_en: str = "City Government Service Center"
    office_code: str = "11310000MB0000000X"  # the issuing office's unified social credit code
    checkpoint_every: Annotated[int, Meta(ge=1)] = 1000  # ledger entries between checkpoints


class HubConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Everything a hub worker needs; ``govedge hub --config FILE`` reads it."""

    broker_url: str = "mqtt://127.0.0.1:1883"
    mqtt_version: str = "5"
    shared_group: str = ""  # MQTT 5 shared subscription group, to run several workers
    client_id: str = "govedge-hub"
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    # The alarm lane's own broker identity (a second service certificate: one certificate is
    # one client id); without it the lane uses tls_cert/tls_key.
    alarm_tls_cert: str = ""
    alarm_tls_key: str = ""
    root: str = DEFAULT_ROOT
    database_url: str = "sqlite:///var/hub/registry.db"
    telemetry_url: str = "sqlite:///var/hub/telemetry.db"
    http_host: str = "127.0.0.1"
    http_port: Annotated[int, Meta(ge=0, le=65535)] = 8080
    auto_register: bool = False
    devices_file: str = ""  # JSON list of devices registered at start
    ingest_queue: Annotated[int, Meta(ge=10)] = 20_000  # per MQTT session (lane)
    ingest_batch: Annotated[int, Meta(ge=1)] = 2_000
    presence_interval_s: Annotated[float, Meta(gt=0)] = 1.0
    maintenance_interval_s: Annotated[float, Meta(gt=0)] = 300.0
    ca_dir: str = ""  # fleet CA directory: enables enrollment, renewal and certificate health
    # After a device confirms its new certificate (proven to the broker, signed with the new
    # key), its older certificates are revoked this long after (the grace for a switch back).
    rotation_revoke_grace_s: Annotated[float, Meta(ge=0, le=30 * 86400)] = 3600.0
    config_signing_key: str = ""  # Ed25519 key (PEM) that signs every desired config
    # The broker's queue for this hub's session (max_queued_messages / max_queued_bytes, as
    # 'govedge provision broker-config' prints them); 0: unknown, no backlog alarm.
    broker_backlog_messages: Annotated[int, Meta(ge=0)] = 0
    broker_backlog_bytes: Annotated[int, Meta(ge=0)] = 0
    broker_backlog_warn: Annotated[float, Meta(gt=0, lt=1)] = 0.8  # of the limit: alarm
    services: ServicesConfig = msgspec.field(default_factory=ServicesConfig)
    releases: ReleasesConfig = msgspec.field(default_factory=ReleasesConfig)


def load_config(path: str | Path) -> HubConfig:
    """The hub config in ``path`` (JSON), or ConfigError naming the file and the problem."""
    path = Path(path)
    try:
        return msgspec.json.decode(path.read_bytes(), type=HubConfig)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
