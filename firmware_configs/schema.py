"""The device-config schema: what one device runs, checked before the agent starts or a config is
pushed.

A device config is one JSON object (see firmware_configs/devices/ for the models). Decoding is
strict: an unknown key, a wrong type or an out-of-range value is a ConfigError that names the file
and the key (``$.drivers[1].poll_interval_s``). A final pass checks the devices together: unique
driver names, no serial port used twice (Modbus devices may share one RS-485 bus when their unit
ids differ and their line settings agree), distinct metric prefixes for drivers of one kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

from drivers.camera.spec import CameraOptions
from drivers.fingerprint.spec import FingerprintOptions
from drivers.gnss.spec import GnssOptions
from drivers.idcard.spec import IdcardOptions
from drivers.modbus.spec import ModbusOptions
from drivers.printer.spec import PrinterOptions
from drivers.smartcard.spec import SmartcardOptions
from firmware_configs.crosscheck import DriverFacts, check_together
from govedge.contract.limits import DEFAULT_LIMITS, DEVICE_ID_PATTERN
from govedge.errors import ConfigError

SCHEMA_VERSION = 1

DeviceId = Annotated[str, Meta(pattern=DEVICE_ID_PATTERN)]
Name = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Label = Annotated[str, Meta(max_length=DEFAULT_LIMITS.max_name_len)]
Seconds = Annotated[float, Meta(gt=0, le=7 * 24 * 3600.0 * 52)]
PathText = Annotated[str, Meta(max_length=4096)]


class _Strict(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Every section refuses keys it does not know."""


class TlsConfig(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Client TLS: the CA that signed the broker, and this device's certificate and key."""

    ca_file: PathText
    cert_file: PathText = ""
    key_file: PathText = ""


class BrokerConfig(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The MQTT link to the hub's broker."""

    url: Annotated[str, Meta(pattern=r"^(mqtt|mqtts|tcp|ssl)://[^/]+$")]
    mqtt_version: Literal["5", "3.1.1"] = "5"
    keepalive_s: Annotated[int, Meta(ge=5, le=65535)] = 60
    tls: TlsConfig | None = None
    topic_root: Annotated[str, Meta(min_length=1, max_length=128)] = "gov/v1"
    session_expiry_s: Annotated[int, Meta(ge=0, le=2**32 - 1)] = 3600
    reconnect_min_s: Seconds = 0.5
    reconnect_max_s: Seconds = 60.0


class _Driver(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True, tag_field="kind"):
    """One device the agent owns: a driver kind on a transport URL, polled on an interval.

    ``kind`` is the tag of the union below; ``options`` is that driver's own spec
    (drivers/<kind>/spec.py), so an option is checked where the config is decoded."""

    name: Name
    url: Annotated[str, Meta(min_length=1, max_length=1024)]
    poll_interval_s: Annotated[float, Meta(ge=0.02, le=86400.0)] = 5.0
    poll_timeout_s: Annotated[float, Meta(gt=0, le=600.0)] = 10.0
    backoff_max_s: Annotated[float, Meta(gt=0, le=3600.0)] = 60.0
    metric_prefix: Annotated[str, Meta(max_length=32, pattern=r"^([A-Za-z_][A-Za-z0-9_.]*)?$")] = ""

    @property
    def kind(self) -> str:
        """The driver kind (the tag msgspec reads from ``"kind"``)."""
        return str(self.__struct_config__.tag)


class IdcardDriver(_Driver, tag="idcard", frozen=True):
    """An ID-card reader (drivers/idcard)."""

    options: IdcardOptions = IdcardOptions()


class FingerprintDriver(_Driver, tag="fingerprint", frozen=True):
    """A fingerprint module (drivers/fingerprint)."""

    options: FingerprintOptions = FingerprintOptions()


class SmartcardDriver(_Driver, tag="smartcard", frozen=True):
    """A PC/SC smart-card reader (drivers/smartcard)."""

    options: SmartcardOptions = SmartcardOptions()


class CameraDriver(_Driver, tag="camera", frozen=True):
    """A face camera (drivers/camera)."""

    options: CameraOptions = CameraOptions()


class PrinterDriver(_Driver, tag="printer", frozen=True):
    """A receipt printer (drivers/printer)."""

    options: PrinterOptions = PrinterOptions()


class ModbusDriver(_Driver, tag="modbus", frozen=True):
    """A Modbus RTU sensor (drivers/modbus)."""

    options: ModbusOptions  # the profile has no default


class GnssDriver(_Driver, tag="gnss", frozen=True):
    """A GNSS receiver (drivers/gnss)."""

    options: GnssOptions = GnssOptions()


DriverConfig = (
    IdcardDriver
    | FingerprintDriver
    | SmartcardDriver
    | CameraDriver
    | PrinterDriver
    | ModbusDriver
    | GnssDriver
)
"""A driver entry of a device config, tagged by ``kind``."""

DRIVER_KINDS: tuple[str, ...] = tuple(str(c.__struct_config__.tag) for c in get_args(DriverConfig))


class PublishConfig(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """What is published and how fast the outbox drains."""

    telemetry: bool = True
    health_interval_s: Seconds = 60.0
    replay_rate_per_s: Annotated[float, Meta(ge=0)] = 5000.0  # 0: unlimited
    max_inflight: Annotated[int, Meta(ge=1, le=65535)] = 1000
    batch: Annotated[int, Meta(ge=1, le=10000)] = 500
    drain_on_stop_s: Annotated[float, Meta(ge=0, le=600.0)] = 2.0  # then the rest waits on disk


class OutboxConfig(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The on-disk queue: where it lives and how big and old it may grow (then drop-oldest)."""

    path: PathText = ""  # default: <state_dir>/outbox.sqlite3
    max_messages: Annotated[int, Meta(ge=10, le=100_000_000)] = 1_000_000
    max_bytes: Annotated[int, Meta(ge=10_000, le=2**40)] = 256 * 1024 * 1024
    max_age_s: Seconds = 7 * 24 * 3600.0
    synchronous: Literal["normal", "full"] = "normal"


class LocalApiConfig(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The device API for apps on the same machine: a Unix socket, or a loopback TCP port."""

    unix_socket: PathText = ""
    host: Literal["127.0.0.1", "::1", "localhost"] = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 0
    token_file: PathText = ""  # default: <state_dir>/api.token (mode 0600)
    token_owner: Annotated[str, Meta(max_length=32)] = ""  # the app's user, if not the agent's


class ConfigSigningConfig(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Desired configs must carry an Ed25519 signature by the hub's key. Without a key they are
    all refused, unless ``allow_unsigned`` (development only, logged loudly at start)."""

    public_key_file: PathText = ""
    allow_unsigned: bool = False


class IdentityConfig(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Where the device renews its certificate (the hub's HTTPS). The identity's files are
    broker.tls's cert_file, key_file and ca_file."""

    hub_url: Annotated[str, Meta(max_length=1024, pattern=r"^(https?://[^/]+/?)?$")] = ""
    hub_ca_file: PathText = ""  # trust anchor of the hub's HTTPS; default: broker.tls.ca_file


class DeviceConfig(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One device: its identity, its link, its drivers and what it publishes."""

    schema_version: Literal[1] = 1
    device_id: DeviceId
    model: Label
    site: Label = ""
    firmware: Label = ""
    state_dir: PathText = ""  # default: next to the config file, <device_id>.state/
    broker: BrokerConfig
    drivers: list[DriverConfig] = []
    publish: PublishConfig = PublishConfig()
    outbox: OutboxConfig = OutboxConfig()
    local_api: LocalApiConfig | None = None
    config_signing: ConfigSigningConfig = ConfigSigningConfig()
    identity: IdentityConfig = IdentityConfig()


class RuntimeConfig(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The part of a device config the hub may change remotely (config/desired)."""

    drivers: list[DriverConfig] = []
    publish: PublishConfig = PublishConfig()


_device_decoder = msgspec.json.Decoder(DeviceConfig)


def _facts(drivers: list[DriverConfig]) -> list[DriverFacts]:
    return [
        DriverFacts(
            name=d.name,
            kind=d.kind,
            url=d.url,
            metric_prefix=d.metric_prefix,
            unit=d.options.unit if isinstance(d, ModbusDriver) else None,
        )
        for d in drivers
    ]


def check_drivers(drivers: list[DriverConfig], where: str) -> None:
    """Check the drivers together; raise ConfigError naming ``where`` and the key."""
    check_together(_facts(drivers), where)


def parse_device_config(data: bytes, where: str) -> DeviceConfig:
    """Decode and check one device config; ``where`` (the file name) prefixes every error."""
    try:
        config = _device_decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {_error(str(exc))}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{where}: not valid JSON: {exc}") from None
    check_drivers(config.drivers, where)
    if config.broker.url.startswith(("mqtts", "ssl")) and config.broker.tls is None:
        raise ConfigError(f"{where}: $.broker.tls: an mqtts:// broker needs tls.ca_file")
    if config.broker.reconnect_min_s > config.broker.reconnect_max_s:
        raise ConfigError(f"{where}: $.broker.reconnect_min_s: greater than reconnect_max_s")
    tls = config.broker.tls
    if tls is not None and bool(tls.cert_file) != bool(tls.key_file):
        raise ConfigError(f"{where}: $.broker.tls: cert_file and key_file go together")
    return config


def load_device_config(path: str | Path) -> DeviceConfig:
    """Read, decode and check the device config at ``path``."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from None
    return parse_device_config(data, str(p))


def parse_runtime_config(config: Mapping[str, Any], where: str) -> RuntimeConfig:
    """Decode and check the remotely changeable part of a config (from config/desired)."""
    try:
        runtime = msgspec.convert(dict(config), RuntimeConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {_error(str(exc))}") from None
    check_drivers(runtime.drivers, where)
    return runtime


def _keyed(message: str) -> str:
    """Put the key first in msgspec's "... - at `$.a.b`", as every other error does."""
    text, sep, at = message.rpartition(" - at ")
    if sep:
        key = at.strip("`")
        return f"{key}: {text}"
    return f"$: {message}"


def _error(message: str) -> str:
    """A decode error with its key first; an unknown driver kind lists the known ones."""
    keyed = _keyed(message)
    key, _, text = keyed.partition(": ")
    if key.startswith("$.drivers[") and key.endswith("].kind") and text.startswith("Invalid value"):
        value = text.removeprefix("Invalid value").strip()
        return f"{key}: unknown driver kind {value} (known: {', '.join(sorted(DRIVER_KINDS))})"
    return keyed


RUNTIME_SCHEMA_FILE = Path(__file__).with_name("runtime-config.schema.json")
"""The JSON Schema of RuntimeConfig, generated from the drivers' specs and committed: what the hub
checks configs against (firmware_configs.validate) without importing any driver."""


def runtime_json_schema() -> bytes:
    """RuntimeConfig's JSON Schema as the committed file holds it (sorted keys, indented)."""
    schema = msgspec.json.schema(RuntimeConfig)
    return msgspec.json.format(msgspec.json.encode(schema, order="sorted"), indent=1) + b"\n"


def write_runtime_json_schema(path: Path = RUNTIME_SCHEMA_FILE) -> None:
    """Regenerate the committed schema (``python -m firmware_configs.schema``)."""
    path.write_bytes(runtime_json_schema())


def to_dict(config: msgspec.Struct) -> dict[str, Any]:
    """A config as plain JSON-ready data."""
    out: dict[str, Any] = msgspec.to_builtins(config)
    return out


if __name__ == "__main__":
    write_runtime_json_schema()
    print(f"wrote {RUNTIME_SCHEMA_FILE}")
