"""Device-config validation: every error names the file and the key; shipped configs are valid."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from firmware_configs.schema import (
    load_device_config,
    parse_device_config,
    parse_runtime_config,
)
from govedge.cli import main
from govedge.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "firmware_configs" / "devices"

BASE: dict[str, Any] = {
    "device_id": "cab-1",
    "model": "sensor-cabinet",
    "broker": {"url": "mqtt://127.0.0.1:1883"},
    "drivers": [
        {
            "name": "climate",
            "kind": "modbus",
            "url": "/dev/ttyUSB0?baudrate=9600",
            "options": {"profile": "sht20", "unit": 1},
        }
    ],
}


def _error(config: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_device_config(json.dumps(config).encode(), "cab.json")
    return str(info.value)


def _with(**changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(BASE)
    config.update(changes)
    return config


def test_minimal_config_gets_defaults() -> None:
    config = parse_device_config(json.dumps(BASE).encode(), "cab.json")
    assert config.broker.mqtt_version == "5"
    assert config.broker.keepalive_s == 60
    assert config.drivers[0].poll_interval_s == 5.0
    assert config.outbox.synchronous == "normal"
    assert config.local_api is None


def test_unknown_key_names_file_and_key() -> None:
    assert _error(_with(colour="red")) == "cab.json: $: Object contains unknown field `colour`"
    config = _with()
    config["drivers"][0]["pol_interval"] = 3
    assert _error(config) == "cab.json: $.drivers[0]: Object contains unknown field `pol_interval`"


def test_wrong_type_names_the_key() -> None:
    config = _with()
    config["broker"]["keepalive_s"] = "sixty"
    assert _error(config) == "cab.json: $.broker.keepalive_s: Expected `int`, got `str`"


def test_out_of_range_and_bad_enums() -> None:
    config = _with()
    config["broker"]["mqtt_version"] = "4"
    assert "$.broker.mqtt_version" in _error(config)
    config = _with()
    config["drivers"][0]["poll_interval_s"] = 0.001
    assert "$.drivers[0].poll_interval_s" in _error(config)
    assert "$.device_id" in _error(_with(device_id="bad/id"))


def test_missing_required_key() -> None:
    config = _with()
    del config["broker"]
    assert _error(config) == "cab.json: $: Object missing required field `broker`"


def test_serial_port_used_twice() -> None:
    config = _with()
    config["drivers"].append(
        {"name": "finger", "kind": "fingerprint", "url": "serial:///dev/ttyUSB0?baud=57600"}
    )
    message = _error(config)
    assert message.startswith("cab.json: $.drivers[1].url: serial port /dev/ttyUSB0")
    assert "$.drivers[0]" in message


def test_modbus_devices_may_share_a_bus_with_distinct_units() -> None:
    config = _with()
    config["drivers"].append(
        {
            "name": "river",
            "kind": "modbus",
            "url": "/dev/ttyUSB0?baudrate=9600",
            "options": {"profile": "water_level", "unit": 2},
            "metric_prefix": "river.",
        }
    )
    parsed = parse_device_config(json.dumps(config).encode(), "cab.json")
    assert [d.name for d in parsed.drivers] == ["climate", "river"]


def test_modbus_shared_bus_needs_distinct_units_and_same_line_settings() -> None:
    config = _with()
    second = {
        "name": "river",
        "kind": "modbus",
        "url": "/dev/ttyUSB0?baudrate=9600",
        "options": {"profile": "water_level", "unit": 1},
        "metric_prefix": "river.",
    }
    config["drivers"].append(second)
    assert "$.drivers[1].options.unit" in _error(config)
    second["options"] = {"profile": "water_level", "unit": 2}
    second["url"] = "/dev/ttyUSB0?baudrate=19200"
    assert "$.drivers[1].url: line settings" in _error(config)


def test_duplicate_names_unknown_kinds_and_clashing_metrics() -> None:
    config = _with()
    config["drivers"].append(dict(config["drivers"][0], url="socket://127.0.0.1:502"))
    assert "$.drivers[1].name" in _error(config)
    config = _with()
    config["drivers"][0]["kind"] = "teleporter"
    assert "$.drivers[0].kind: unknown driver kind 'teleporter'" in _error(config)
    config = _with()
    config["drivers"].append(dict(config["drivers"][0], name="other", url="socket://127.0.0.1:502"))
    assert "$.drivers[1].metric_prefix" in _error(config)


def test_tls_rules() -> None:
    config = _with()
    config["broker"]["url"] = "mqtts://hub:8883"
    assert "$.broker.tls" in _error(config)
    config["broker"]["tls"] = {"ca_file": "ca.pem", "cert_file": "dev.pem"}
    assert "cert_file and key_file go together" in _error(config)


def test_not_json_and_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{ nope")
    with pytest.raises(ConfigError, match=r"bad.json: not valid JSON"):
        load_device_config(bad)
    with pytest.raises(ConfigError, match=r"missing.json: cannot read"):
        load_device_config(tmp_path / "missing.json")


def test_runtime_config_is_checked_the_same_way() -> None:
    runtime = parse_runtime_config({"drivers": BASE["drivers"]}, "config/desired v2")
    assert runtime.drivers[0].name == "climate"
    with pytest.raises(ConfigError, match=r"config/desired v2: \$: .*unknown field `broker`"):
        parse_runtime_config({"broker": {}}, "config/desired v2")


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(BASE))
    assert main(["agent", "check-config", str(good)]) == 0
    assert "ok: device cab-1" in capsys.readouterr().out
    bad_option = copy.deepcopy(BASE)
    bad_option["drivers"][0]["options"]["colour"] = "red"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_option))
    assert main(["agent", "check-config", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    unknown = "Object contains unknown field `colour`"
    assert err == f"govedge: error: {bad}: $.drivers[0].options: {unknown}"


def test_shipped_device_configs_are_valid() -> None:
    shipped = sorted(SHIPPED.glob("*.json"))
    assert len(shipped) >= 3
    for path in shipped:
        config = load_device_config(path)
        assert config.device_id and config.model


def test_committed_json_schema_is_current() -> None:
    """The hub checks configs against the committed file; regenerate it when a spec changes
    (python -m firmware_configs.schema)."""
    from firmware_configs.schema import RUNTIME_SCHEMA_FILE, runtime_json_schema

    stale = "runtime-config.schema.json is stale: run python -m firmware_configs.schema"
    assert RUNTIME_SCHEMA_FILE.read_bytes() == runtime_json_schema(), stale


def test_every_driver_kind_has_a_spec_and_a_factory() -> None:
    from typing import get_args

    from drivers.registry import DRIVER_KINDS as FACTORIES
    from firmware_configs.schema import DRIVER_KINDS, DriverConfig

    assert sorted(DRIVER_KINDS) == sorted(FACTORIES)
    for entry in get_args(DriverConfig):
        spec = next(f.type for f in msgspec.structs.fields(entry) if f.name == "options")
        assert entry.__struct_config__.tag == spec.KIND, entry
        assert spec.SCHEMES, spec


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"profile": "sht20", "timeout": "soon"}, "$.drivers[0].options.timeout"),
        ({"profile": "sht20", "unit": 300}, "$.drivers[0].options.unit"),
        ({"profile": "sht20", "colour": "red"}, "$.drivers[0].options"),
        ({}, "$.drivers[0].options"),
    ],
)
def test_hub_and_agent_refuse_the_same_config_at_the_same_path(
    options: dict[str, Any], path: str
) -> None:
    """The agent decodes with the specs, the hub checks the JSON Schema made from them."""
    from firmware_configs.validate import check_runtime_config

    runtime = {"drivers": [dict(BASE["drivers"][0], options=options)]}
    with pytest.raises(ConfigError) as agent:
        parse_runtime_config(runtime, "config")
    with pytest.raises(ConfigError) as hub:
        check_runtime_config(runtime, "config")
    assert str(agent.value).startswith(f"config: {path}: "), agent.value
    assert str(hub.value).startswith(f"config: {path}: "), hub.value


def test_hub_check_passes_what_the_agent_takes_and_imports_no_driver() -> None:
    import subprocess
    import sys

    shipped = json.loads((SHIPPED / "hall-kiosk.json").read_text())
    runtime = {"drivers": shipped["drivers"], "publish": shipped["publish"]}
    code = (
        "import json, sys\n"
        "from firmware_configs.validate import check_runtime_config\n"
        f"check_runtime_config(json.loads({json.dumps(json.dumps(runtime))}), 'config')\n"
        "print(sorted(m for m in sys.modules if m == 'drivers' or m.startswith('drivers.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    parse_runtime_config(runtime, "config")


def test_link_settings_take_the_config_defaults() -> None:
    """One default per setting: the agent's link has none of its own (replay_rate_per_s once
    disagreed: 0.0 in the link, 5000 in the config)."""
    import dataclasses

    from edge_agent.link import LinkSettings
    from firmware_configs.schema import PublishConfig

    assert all(
        f.default is dataclasses.MISSING for f in dataclasses.fields(LinkSettings)
    ), "LinkSettings must not declare defaults of its own"
    assert PublishConfig().replay_rate_per_s == 5000.0
