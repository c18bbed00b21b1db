"""The device client against the simulated kiosk rig's real agent (contract A)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kiosk.hall.device_client import AgentDeviceClient
from kiosk.hall.errors import DeviceError
from sim.kiosk.people import person


async def test_device_calls_and_their_errors(rig: Any, tmp_path: Path) -> None:
    client = AgentDeviceClient(rig.api_url, lambda: rig.token_file.read_text().strip())
    try:
        health = await client.health()
        assert {"idcard", "finger", "printer", "camera"} <= set(health["drivers"])

        with pytest.raises(DeviceError) as no_qr:
            await client.scan_qr(1.0)
        assert no_qr.value.status == 409 and no_qr.value.code == "NoQrError"

        rig.citizen.insert_card("astronaut")
        await asyncio.sleep(0.5)
        card = await client.read_id_card()
        assert card.document == "resident_id" and card.photo
        assert card.id_number == person("astronaut").id_number
        assert "astronaut" not in repr(card) and card.name not in repr(card)

        rig.citizen.lift_finger()
        with pytest.raises(DeviceError) as no_finger:
            await client.match_fingerprint()
        assert no_finger.value.status == 409 and no_finger.value.code == "NoFingerError"
        rig.citizen.place_finger("grace_hopper")  # someone else's finger on this card
        assert not (await client.match_fingerprint()).matched

        assert await client.printer_status() == "ready"
        rig.citizen.paper_out(True)
        await asyncio.sleep(1.0)
        assert await client.printer_status() == "paper_out"
        with pytest.raises(DeviceError) as paper:
            await client.print_receipt({"lines": ["x"], "cut": True})
        assert paper.value.status == 409 and paper.value.state == "paper_out"
    finally:
        await client.close()


async def test_agent_unreachable_or_token_unreadable(tmp_path: Path) -> None:
    from govedge.broker import free_port
    from kiosk.hall.config import read_token

    client = AgentDeviceClient(
        f"http://127.0.0.1:{free_port()}", lambda: read_token(str(tmp_path / "none.token"))
    )
    try:
        with pytest.raises(DeviceError, match="token cannot be read"):
            await client.health()
    finally:
        await client.close()
    client = AgentDeviceClient(f"http://127.0.0.1:{free_port()}", lambda: "x", timeout_s=2)
    try:
        with pytest.raises(DeviceError) as down:
            await client.health()
        assert down.value.status == 0
    finally:
        await client.close()
