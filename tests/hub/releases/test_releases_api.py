"""Releases on a real hub: upload (verified, immutable), listing, resumable download, rollout
validation, and update windows per site (a kiosk hall updates at night only)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.db import commands
from hub.errors import ValidationError
from hub.releases.settings import ReleasesConfig
from hub.releases.setup import RELEASES
from hub.releases.windows import in_window, parse_window
from provisioning.releases import build_bundle, release_signer, write_release_key


def _bundle(tmp_path: Path, key: Path, version: str) -> Path:
    src = tmp_path / f"src-{version}"
    (src / "bin").mkdir(parents=True)
    (src / "bin" / "govedge-agent").write_text("#!/bin/sh\nexit 0\n")
    (src / "bin" / "govedge-agent").chmod(0o755)
    (src / "data.bin").write_bytes(bytes(range(256)) * 400)
    out = tmp_path / f"{version}.tar"
    build_bundle(src, version, out, release_signer(key))
    return out


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return write_release_key(tmp_path / "keys")


@pytest.fixture
def release_hub(
    hub_config: Callable[..., Any], start_hub: Callable[..., Any], tmp_path: Path, keys: Any
) -> Callable[..., Any]:
    async def start(**releases: Any) -> Any:
        cfg = ReleasesConfig(
            directory=str(tmp_path / "releases"), public_keys=[str(keys[1])], **releases
        )
        return await start_hub(hub_config(releases=cfg))

    return start


async def _upload(rh: Any, path: Path, token: str | None = None) -> tuple[int, Any]:
    data = await asyncio.to_thread(path.read_bytes)
    return await rh.call("POST", "/api/v1/releases", token, data=data)  # type: ignore[no-any-return]


async def test_upload_list_and_resumable_download(
    release_hub: Any, tmp_path: Path, keys: Any
) -> None:
    rh = await release_hub()
    bundle = _bundle(tmp_path, keys[0], "1.2.0")
    status, body = await _upload(rh, bundle)
    assert status == 201 and body["version"] == "1.2.0" and body["files"] == 2
    status, body = await _upload(rh, bundle)
    assert status == 400 and "immutable" in body["error"]
    listing = await rh.get("/api/v1/releases")
    assert [r["version"] for r in listing["items"]] == ["1.2.0"]
    viewer = await asyncio.to_thread(rh.hub.tokens.create, "viewer", "t")
    status, body = await _upload(rh, _bundle(tmp_path / "v", keys[0], "1.3.0"), viewer)
    assert status == 403
    data = bundle.read_bytes()
    # Devices download without a token (the bundle is signed) and resume with Range.
    async with rh.session.get(
        rh.url + "/api/v1/releases/1.2.0/bundle", headers={"Range": "bytes=1000-"}
    ) as resp:
        assert resp.status == 206
        assert await resp.read() == data[1000:]
    async with rh.session.get(rh.url + "/api/v1/releases/9.9/bundle") as resp:
        assert resp.status == 404


async def test_a_bundle_the_hub_cannot_verify_is_refused(
    release_hub: Any, tmp_path: Path, keys: Any
) -> None:
    rh = await release_hub()
    bundle = _bundle(tmp_path, keys[0], "2.0")
    data = bytearray(bundle.read_bytes())
    data[-20000] ^= 0xFF  # inside data.bin
    bundle.write_bytes(bytes(data))
    status, body = await _upload(rh, bundle)
    assert status == 400 and "does not match its signed hash" in body["error"]
    assert not list((tmp_path / "releases").glob("*.tar"))
    status, body = await rh.call("POST", "/api/v1/releases", data=b"not a tar")
    assert status == 400 and "not a readable release bundle" in body["error"]


async def test_rollout_requests_are_checked(release_hub: Any, tmp_path: Path, keys: Any) -> None:
    rh = await release_hub()
    await _upload(rh, _bundle(tmp_path, keys[0], "3.0"))
    await asyncio.to_thread(rh.hub.registry.register, "kiosk-1", site="hall-1")
    cases = [
        ({"selector": {"ids": ["kiosk-1"]}, "steps": [50, 10]}, "increasing"),
        ({"selector": {"ids": ["kiosk-1"]}, "health_gate_s": -1}, "at `$.health_gate_s`"),
        ({"selector": {"ids": ["kiosk-1"]}, "steps": [10, 150]}, "at `$.steps[1]`"),
        ({"steps": [100]}, "missing required field `selector`"),
        ({"selector": {"ids": ["kiosk-1"]}, "colour": "red"}, "unknown field"),
        ({"selector": {"site": "nowhere"}}, "no device matches"),
    ]
    for body, expected in cases:
        status, out = await rh.call("POST", "/api/v1/releases/3.0/rollouts", json=body)
        assert status == 400 and expected in out["error"], (body, out)
    status, out = await rh.call(
        "POST", "/api/v1/releases/4.0/rollouts", json={"selector": {"ids": ["kiosk-1"]}}
    )
    assert status == 404


def test_windows_wrap_past_midnight() -> None:
    # A window reads only the clock's hour and minute, whatever its time zone.
    night = {"hall-1": "22:00-06:00"}
    assert in_window("hall-1", night, dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.UTC))
    assert in_window("hall-1", night, dt.datetime(2026, 12, 7, 5, 59, tzinfo=dt.UTC))
    assert not in_window("hall-1", night, dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC))
    assert not in_window("hall-1", night, dt.datetime(2026, 12, 7, 14, 0, tzinfo=dt.UTC))
    # No window: any time.
    assert in_window("cabinets", night, dt.datetime(2026, 12, 7, 14, 0, tzinfo=dt.UTC))
    assert in_window("x", {"*": "01:00-02:00"}, dt.datetime(2026, 12, 7, 1, 30, tzinfo=dt.UTC))
    with pytest.raises(ValidationError):
        parse_window("late evening")
    with pytest.raises(ValidationError):
        parse_window("25:00-06:00")


async def test_kiosks_update_only_inside_their_sites_window(
    release_hub: Any, tmp_path: Path, keys: Any, device_factory: Any
) -> None:
    """A rollout over a hall (window 22:00-06:00) and a sensor cabinet (no window) at 14:00
    sends only to the cabinet; at 23:00 the kiosk gets it too."""
    rh = await release_hub(windows={"hall-1": "22:00-06:00"})
    await _upload(rh, _bundle(tmp_path, keys[0], "5.0"))
    await asyncio.to_thread(rh.hub.registry.register, "kiosk-1", site="hall-1")
    await asyncio.to_thread(rh.hub.registry.register, "cab-1", site="river")
    svc = rh.hub.extensions[RELEASES]
    now = {"t": dt.datetime(2026, 12, 7, 14, 0, tzinfo=dt.UTC)}
    svc.clock = lambda: now["t"]
    status, ro = await rh.call(
        "POST",
        "/api/v1/releases/5.0/rollouts",
        json={"selector": {"ids": ["kiosk-1", "cab-1"]}, "steps": [100], "health_gate_s": 0},
    )
    assert status == 201, ro
    assert [d["device_id"] for d in ro["devices"]] == ["cab-1"]
    commands = await rh.get("/api/v1/commands", device_id="cab-1")
    assert any(c["name"] == "update" for c in commands["items"])
    await asyncio.sleep(1.5)  # the rollout loop runs, still outside the window
    assert [d["device_id"] for d in svc.rollout(ro["id"])["devices"]] == ["cab-1"]
    now["t"] = dt.datetime(2026, 12, 7, 23, 0, tzinfo=dt.UTC)
    await rh.wait_for(lambda: len(svc.rollout(ro["id"])["devices"]) == 2, 5)
    # Both report success: the rollout is done.
    from govedge.contract import Channel, Event, EventData

    for device_id in ("cab-1", "kiosk-1"):
        dev = device_factory(device_id)
        dev.status(True)  # the new release's birth: a device counts as online from its birth
        dev.send(
            Event(
                device_id=device_id,
                boot_id=dev.boot_id,
                seq=dev.seq + 1,
                ts=1.0e9,
                data=EventData(kind="update_succeeded", attrs={"version": "5.0"}),
            ),
            Channel.EVENT,
        )
    await rh.wait_for(lambda: svc.rollout(ro["id"])["state"] == "done", 10)


async def test_a_device_that_never_reports_fails_and_halts_the_rollout(
    release_hub: Any, tmp_path: Path, keys: Any
) -> None:
    rh = await release_hub(report_timeout_s=1.0)
    await _upload(rh, _bundle(tmp_path, keys[0], "6.0"))
    await asyncio.to_thread(rh.hub.registry.register, "cab-silent", site="river")
    status, ro = await rh.call(
        "POST", "/api/v1/releases/6.0/rollouts", json={"selector": {"ids": ["cab-silent"]}}
    )
    assert status == 201 and ro["devices"][0]["state"] == "sent", ro
    svc = rh.hub.extensions[RELEASES]
    await rh.wait_for(lambda: svc.rollout(ro["id"])["state"] == "halted", 10)
    final = svc.rollout(ro["id"])
    assert final["devices"][0]["error"] == "no report within 1 s"


async def test_a_stage_sent_twice_at_once_sends_each_device_one_update(
    release_hub: Any, tmp_path: Path, keys: Any
) -> None:
    """The periodic advance and a new rollout (or two workers) may both see a device not yet
    sent: the second to record it sends nothing, and neither fails."""
    rh = await release_hub()
    await _upload(rh, _bundle(tmp_path, keys[0], "6.1"))
    await asyncio.to_thread(rh.hub.registry.register, "cab-twice", site="river")
    status, ro = await rh.call(
        "POST", "/api/v1/releases/6.1/rollouts", json={"selector": {"ids": ["cab-twice"]}}
    )
    assert status == 201, ro
    svc = rh.hub.extensions[RELEASES]
    rollout = svc.rollout

    def read_before_the_first_send(rollout_id: str) -> dict[str, Any]:
        return {**rollout(rollout_id), "devices": []}

    svc.rollout = read_before_the_first_send
    try:
        await asyncio.to_thread(svc._send_step, ro["id"])
    finally:
        del svc.rollout
    with rh.hub.engine.connect() as conn:
        sent = conn.execute(
            sa.select(commands.c.name).where(commands.c.device_id == "cab-twice")
        ).all()
    assert [r[0] for r in sent] == ["update"]
