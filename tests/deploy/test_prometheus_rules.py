"""The shipped alert rules: ``promtool check rules``, ``promtool test rules`` (a unit test per
alert), and every govedge metric they name is one a real hub or agent exports, whose exposition
passes ``promtool check metrics``."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULE_FILE = RULES / "govedge-alerts.yml"
TEST_FILE = RULES / "govedge-alerts.test.yml"


def _promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def _alerts() -> list[str]:
    return re.findall(r"^\s+- alert: (\w+)$", RULE_FILE.read_text(), re.M)


def test_rules_pass_promtool_check() -> None:
    result = _promtool("check", "rules", str(RULE_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in result.stdout


def test_rules_pass_their_unit_tests_one_per_alert() -> None:
    result = _promtool("test", "rules", str(TEST_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", TEST_FILE.read_text()))
    assert tested == set(_alerts())
    for required in (
        "GovedgeHubDown",
        "GovedgeIngestLag",
        "GovedgeDevicesOffline",
        "GovedgeCertificateExpiresSoon",
        "GovedgeDiskFilling",
        "GovedgeReleaseRolloutHalted",
        "GovedgeBrokerBacklogNearLimit",
    ):
        assert required in tested


def test_a_wrong_expectation_fails_promtool(tmp_path: Path) -> None:
    """The unit tests have teeth: expecting the hub-down alert one minute early fails."""
    (tmp_path / RULE_FILE.name).write_text(RULE_FILE.read_text())
    text = TEST_FILE.read_text().replace(
        "eval_time: 3m\n        alertname: GovedgeHubDown\n        exp_alerts: []",
        "eval_time: 3m\n        alertname: GovedgeHubDown\n"
        "        exp_alerts: [{exp_labels: {severity: critical}}]",
    )
    (tmp_path / TEST_FILE.name).write_text(text)
    result = _promtool("test", "rules", str(tmp_path / TEST_FILE.name))
    assert result.returncode != 0


def _load_update_fixtures() -> Any:
    path = Path(__file__).resolve().parents[1] / "edge_agent" / "update_fixtures.py"
    spec = importlib.util.spec_from_file_location("update_fixtures", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("update_fixtures", module)
    spec.loader.exec_module(module)
    return module


async def test_rule_metrics_are_exported_and_pass_promtool(
    tmp_path: Path, mqtt_broker: Any
) -> None:
    from prometheus_client import generate_latest

    from edge_agent.metrics import make_registry
    from edge_agent.runtime import build_agent
    from provisioning.releases import write_release_key

    fx = _load_update_fixtures()
    _, pub = write_release_key(tmp_path / "keys")
    rhub = await fx.start_release_hub(tmp_path, mqtt_broker.url, pub)
    try:
        async with rhub.session.get(rhub.url + "/metrics") as resp:
            hub_text = await resp.text()
    finally:
        await rhub.close()
    config = tmp_path / "device.json"
    import json

    config.write_text(
        json.dumps(
            {
                "device_id": "metrics-1",
                "model": "test-cabinet",
                "state_dir": str(tmp_path / "state"),
                "broker": {"url": mqtt_broker.url},
                "drivers": [],
            }
        )
    )
    agent = build_agent(config)
    agent_text = generate_latest(make_registry(agent)).decode()
    agent.database.close()
    for text in (hub_text, agent_text):
        result = _promtool("check", "metrics", stdin=text)
        assert result.returncode == 0, result.stdout + result.stderr
    exported: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (govedge_\w+) (\w+)", hub_text + agent_text, re.M):
        exported.add(name)
        exported.add(name + {"counter": "_total", "histogram": "_bucket"}.get(kind, ""))
    used = set(re.findall(r"\b(govedge_(?:hub|agent)_\w+)", RULE_FILE.read_text()))
    assert used and used <= exported, used - exported
