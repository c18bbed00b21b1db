"""A/B updates against real ``govedge agent launch`` processes, a real Mosquitto and a real hub:
an update that succeeds; one whose release cannot start (rolled back, the reason reported); a
power cut at every step of the install; a changed byte or a wrong key refused before any switch;
a staged rollout halted by its health gate."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.update.faults import ENV as POWER_CUT
from edge_agent.update.faults import STEPS
from edge_agent.update.state import CONFIRMED, FAILED, FINAL, ROLLED_BACK
from provisioning.releases import write_release_key

_spec = importlib.util.spec_from_file_location(
    "update_fixtures", Path(__file__).with_name("update_fixtures.py")
)
assert _spec and _spec.loader
fx = importlib.util.module_from_spec(_spec)
sys.modules["update_fixtures"] = fx
_spec.loader.exec_module(fx)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return write_release_key(tmp_path / "keys")


@pytest.fixture
async def rhub(tmp_path: Path, mqtt_broker: Any, keys: tuple[Path, Path]) -> AsyncIterator[Any]:
    h = await fx.start_release_hub(tmp_path, mqtt_broker.url, keys[1])
    yield h
    await h.close()


@pytest.fixture
def device(tmp_path: Path, make_config: Any, mqtt_broker: Any, keys: tuple[Path, Path]) -> Any:
    """A device with release 1.0 installed; ``device(name)`` -> (config, root)."""

    v1 = fx.make_bundle(tmp_path, keys[0], "1.0")

    def make(name: str) -> tuple[Path, Path]:
        config = make_config(name, mqtt_broker.url, [])
        root = tmp_path / f"{name}.root"
        fx.first_install(root, v1, keys[1])
        return config, root

    return make


async def _online(rhub: Any, device_id: str) -> bool:
    from hub.errors import NotFoundError

    try:
        return bool(rhub.hub.registry.get(device_id).online)
    except NotFoundError:
        return False


async def _rollout(rhub: Any, version: str, ids: list[str], **kw: Any) -> dict[str, Any]:
    status, body = await rhub.call(
        "POST", f"/api/v1/releases/{version}/rollouts", json={"selector": {"ids": ids}, **kw}
    )
    assert status == 201, body
    return dict(body)


async def _rollout_state(rhub: Any, rollout_id: str) -> dict[str, Any]:
    status, body = await rhub.call("GET", f"/api/v1/release-rollouts/{rollout_id}")
    assert status == 200, body
    return dict(body)


async def test_an_update_succeeds_and_is_confirmed(
    tmp_path: Path, rhub: Any, device: Any, keys: tuple[Path, Path]
) -> None:
    config, root = device("ota-ok")
    status, body = await rhub.upload(fx.make_bundle(tmp_path, keys[0], "2.0"))
    assert status == 201, body
    proc = fx.launch(config, root, keys[1], tmp_path / "ota-ok.log")
    try:
        await fx.wait_for(lambda: _online(rhub, "ota-ok"), 30, "device online")
        ro = await _rollout(rhub, "2.0", ["ota-ok"], health_gate_s=1)
        done = await fx.wait_for(
            lambda: _done(rhub, ro["id"]), 60, (tmp_path / "ota-ok.log").read_text()
        )
        assert done["state"] == "done", done
        assert done["devices"][0]["state"] == "updated"
        assert proc.slots.current_version() == "2.0"
        assert (root / "current" / "VERSION").read_text() == "2.0\n"
        state = proc.state()
        assert state.state == CONFIRMED and state.previous == "1.0" and state.reported
        assert (root / "slots" / "1.0").is_dir()  # the previous slot stays for a manual rollback
        assert proc.proc.poll() is None
    finally:
        proc.stop()


async def _done(rhub: Any, rollout_id: str) -> dict[str, Any] | None:
    ro = await _rollout_state(rhub, rollout_id)
    return ro if ro["state"] != "running" else None


async def test_a_release_that_cannot_start_is_rolled_back_and_reported(
    tmp_path: Path, rhub: Any, device: Any, keys: tuple[Path, Path]
) -> None:
    config, root = device("ota-bad")
    status, body = await rhub.upload(fx.make_bundle(tmp_path, keys[0], "3.0", broken=True))
    assert status == 201, body
    proc = fx.launch(config, root, keys[1], tmp_path / "ota-bad.log")
    try:
        await fx.wait_for(lambda: _online(rhub, "ota-bad"), 30, "device online")
        ro = await _rollout(rhub, "3.0", ["ota-bad"], health_gate_s=0)
        done = await fx.wait_for(
            lambda: _done(rhub, ro["id"]), 60, (tmp_path / "ota-bad.log").read_text()
        )
        assert done["state"] == "halted" and "1 devices failed" in done["reason"]
        failure = done["devices"][0]
        assert failure["state"] == "failed"
        assert "exited with code 3 before it was healthy" in failure["error"]
        assert proc.slots.current_version() == "1.0"
        assert proc.state().state == ROLLED_BACK
        await fx.wait_for(lambda: _online(rhub, "ota-bad"), 30, "back online on 1.0")
    finally:
        proc.stop()


async def test_a_release_that_never_gets_healthy_is_rolled_back_at_the_trial_timeout(
    tmp_path: Path, rhub: Any, device: Any, keys: tuple[Path, Path]
) -> None:
    config, root = device("ota-hang")
    status, body = await rhub.upload(fx.make_bundle(tmp_path, keys[0], "4.0", hangs=True))
    assert status == 201, body
    proc = fx.launch(config, root, keys[1], tmp_path / "ota-hang.log", trial_timeout=6)
    try:
        await fx.wait_for(lambda: _online(rhub, "ota-hang"), 30, "device online")
        ro = await _rollout(rhub, "4.0", ["ota-hang"], health_gate_s=0)
        done = await fx.wait_for(lambda: _done(rhub, ro["id"]), 60, "rolled back")
        assert done["state"] == "halted"
        assert "not healthy within 6 s" in done["devices"][0]["error"]
        assert proc.slots.current_version() == "1.0"
    finally:
        proc.stop()


async def test_a_cut_download_resumes_where_it_stopped(
    tmp_path: Path, rhub: Any, keys: tuple[Path, Path]
) -> None:
    from edge_agent.update.download import download

    bundle = fx.make_bundle(tmp_path, keys[0], "2.0", pad=300_000)
    assert (await rhub.upload(bundle))[0] == 201
    data = (tmp_path / "releases" / "2.0.tar").read_bytes()
    dest = tmp_path / "dl" / "2.0.tar"
    dest.parent.mkdir()
    # What a cut left behind, with a marker the server would never send: kept, not re-fetched.
    dest.with_name("2.0.tar.part").write_bytes(b"X" * 1000)
    url = f"{rhub.url}/api/v1/releases/2.0/bundle"
    await asyncio.to_thread(download, url, dest, len(data))
    got = dest.read_bytes()
    assert got[:1000] == b"X" * 1000 and got[1000:] == data[1000:]
    assert not dest.with_name("2.0.tar.part").exists()


@pytest.mark.parametrize("step", STEPS)
async def test_a_power_cut_at_any_step_comes_back_on_a_working_release(
    tmp_path: Path, rhub: Any, device: Any, keys: tuple[Path, Path], step: str
) -> None:
    name = f"ota-cut-{step}"
    config, root = device(name)
    # Large enough that the download is cut halfway through.
    status, body = await rhub.upload(fx.make_bundle(tmp_path, keys[0], "2.0", pad=400_000))
    assert status == 201, body
    log = tmp_path / f"{name}.log"
    proc = fx.launch(config, root, keys[1], log, env={POWER_CUT: step})
    try:
        await fx.wait_for(lambda: _online(rhub, name), 30, "device online")
        await _rollout(rhub, "2.0", [name], health_gate_s=0)
        await fx.wait_for(lambda: proc.proc.poll() is not None, 60, f"power cut at {step}")
        assert proc.proc.returncode == -9
        cut_state = proc.state().state
        proc = fx.launch(config, root, keys[1], log)  # the power comes back
        await fx.wait_for(lambda: proc.state().state in FINAL, 60, log.read_text())
        await fx.wait_for(lambda: _online(rhub, name), 30, "device online again")
        version = proc.slots.current_version()
        assert version in ("1.0", "2.0"), (step, cut_state)
        assert (root / "current" / "VERSION").read_text() == version + "\n"
        assert proc.state().state == CONFIRMED and version == "2.0", (step, proc.state())
        assert not list((root / "slots").glob("*.partial"))
        assert proc.proc.poll() is None
    finally:
        proc.stop()


async def test_a_changed_byte_or_a_wrong_key_is_refused_before_any_switch(
    tmp_path: Path, rhub: Any, device: Any, keys: tuple[Path, Path]
) -> None:
    config, root = device("ota-tamper")
    good = fx.make_bundle(tmp_path, keys[0], "2.0")
    other = write_release_key(tmp_path / "stranger")
    status, body = await rhub.upload(fx.make_bundle(tmp_path / "x", other[0], "6.6"))
    assert status == 400 and "unknown key" in body["error"]  # the hub refuses a stranger's release
    status, body = await rhub.upload(good)
    assert status == 201, body
    # One byte changes in the hub's copy after upload (a disk fault, a tampered store).
    stored = tmp_path / "releases" / "2.0.tar"
    data = bytearray(stored.read_bytes())
    data[data.index(b"2.0\n", 2048)] ^= 0x01
    stored.write_bytes(bytes(data))
    proc = fx.launch(config, root, keys[1], tmp_path / "ota-tamper.log")
    try:
        await fx.wait_for(lambda: _online(rhub, "ota-tamper"), 30, "device online")
        ro = await _rollout(rhub, "2.0", ["ota-tamper"], health_gate_s=0)
        done = await fx.wait_for(lambda: _done(rhub, ro["id"]), 60, "refusal reported")
        assert done["state"] == "halted"
        assert "does not match its signed hash" in done["devices"][0]["error"]
        assert proc.state().state == FAILED
        assert proc.slots.current_version() == "1.0"
        assert not (root / "slots" / "2.0").exists()
        # A manifest signed by another key is refused before a byte is downloaded.
        from provisioning.releases import (
            build_bundle,
            read_manifest,
            release_signer,
            release_verifier,
        )

        forged = build_bundle(
            fx.release_dir(tmp_path / "f", "7.0"),
            "7.0",
            tmp_path / "f.tar",
            release_signer(other[0]),
        )
        assert read_manifest(tmp_path / "f.tar", release_verifier(other[1])).version == "7.0"
        batch = rhub.hub.commands.create(
            ["ota-tamper"],
            "update",
            {"version": "7.0", "url": rhub.url + "/nowhere", "manifest": forged.signed},
            60,
        )
        cmd_id = batch["commands"][0]
        cmd = await fx.wait_for(
            lambda: (c := rhub.hub.commands.get(cmd_id))["state"] in ("failed", "done") and c,
            30,
            "forged manifest acknowledged",
        )
        assert cmd["state"] == "failed" and "unknown key" in cmd["error"], cmd
        assert proc.slots.current_version() == "1.0"
        assert not (root / "downloads" / "7.0.tar.part").exists()
    finally:
        proc.stop()


async def test_a_staged_rollout_halts_at_its_health_gate(
    tmp_path: Path, rhub: Any, device: Any, keys: tuple[Path, Path]
) -> None:
    """Two devices, stages 50 % / 100 %: the first updates, then fails within the gate (it goes
    offline); the rollout halts and the second is never sent the release."""
    first_cfg, first_root = device("ota-gate-a")
    second_cfg, second_root = device("ota-gate-b")
    status, body = await rhub.upload(fx.make_bundle(tmp_path, keys[0], "2.0"))
    assert status == 201, body
    a = fx.launch(first_cfg, first_root, keys[1], tmp_path / "a.log")
    b = fx.launch(second_cfg, second_root, keys[1], tmp_path / "b.log")
    try:
        for name in ("ota-gate-a", "ota-gate-b"):
            await fx.wait_for(lambda n=name: _online(rhub, n), 30, f"{name} online")
        ro = await _rollout(
            rhub, "2.0", ["ota-gate-a", "ota-gate-b"], steps=[50, 100], health_gate_s=30
        )
        assert [d["device_id"] for d in ro["devices"]] == ["ota-gate-a"]
        await fx.wait_for(
            lambda: a.state().state == CONFIRMED and a.state().reported, 60, "a confirmed"
        )
        updated = await fx.wait_for(
            lambda: _device_state(rhub, ro["id"], "ota-gate-a", "updated"), 30, "a updated"
        )
        assert updated
        a.power_cut()  # inside the 30 s gate
        done = await fx.wait_for(lambda: _done(rhub, ro["id"]), 30, "halted by the gate")
        assert done["state"] == "halted"
        assert done["devices"][0]["error"] == "offline within the health gate"
        assert [d["device_id"] for d in done["devices"]] == ["ota-gate-a"]
        assert b.slots.current_version() == "1.0"
        await fx.wait_for(lambda: _halted_gauge(rhub), 10, "halted rollouts in /metrics")
    finally:
        a.stop()
        b.stop()


async def _device_state(rhub: Any, rollout_id: str, device_id: str, state: str) -> bool:
    ro = await _rollout_state(rhub, rollout_id)
    return any(d["device_id"] == device_id and d["state"] == state for d in ro["devices"])


async def _halted_gauge(rhub: Any) -> bool:
    async with rhub.session.get(rhub.url + "/metrics") as resp:
        text = await resp.text()
    return "govedge_hub_release_rollouts_halted 1.0" in text
