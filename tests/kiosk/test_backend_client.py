"""The service backend client against a real hub process with the services (contract C)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from govedge.broker import free_port
from kiosk.hall.backend_client import HubServiceBackend
from kiosk.hall.errors import BackendNotFound, BackendRefused, BackendUnavailable


async def test_errands_progress_proof_rating(hub_process: Any, citizen: dict[str, str]) -> None:
    hub_process.admin(
        "POST", "/services/applications", {"number": "A20260001", "errand_id": "residence-proof"}
    )
    backend = HubServiceBackend(hub_process.url, hub_process.kiosk_token)
    try:
        errands = await backend.errands("zh-CN")
        kinds = {e.kind for e in errands}
        assert {"proof", "progress", "guide"} <= kinds
        proof_errand = next(e for e in errands if e.id == "residence-proof")
        assert proof_errand.proof_type == "residence_proof" and proof_errand.materials
        english = await backend.errands("en")
        assert next(e for e in english if e.id == "residence-proof").name == "Proof of residence"

        app = await backend.application("A20260001", "zh-CN")
        assert app.status == "received" and app.timeline
        with pytest.raises(BackendNotFound):
            await backend.application("B99999999", "zh-CN")

        request_id = uuid.uuid4().hex
        first = await backend.issue_proof(
            request_id, "residence_proof", citizen["id_number"], citizen["name"], "hall-1", "zh-CN"
        )
        again = await backend.issue_proof(
            request_id, "residence_proof", citizen["id_number"], citizen["name"], "hall-1", "zh-CN"
        )
        assert first.proof_id == again.proof_id and first.qr_text == again.qr_text
        assert first.subject_id_masked != citizen["id_number"]
        assert citizen["id_number"][-4:] in first.subject_id_masked
        assert first.qr_text

        choices = await backend.rating_choices("zh-CN")
        assert len(choices.levels) == 5 and choices.tags
        await backend.rate(5, [choices.tags[0][0]], "hall-1", "residence-proof")
        with pytest.raises(BackendRefused):
            await backend.rate(9, [], "hall-1", "residence-proof")
    finally:
        await backend.close()


async def test_wrong_token_is_refused(hub_process: Any) -> None:
    backend = HubServiceBackend(hub_process.url, "not-a-token")
    try:
        with pytest.raises(BackendRefused):
            await backend.errands("zh-CN")
    finally:
        await backend.close()


async def test_hub_down_is_unavailable() -> None:
    backend = HubServiceBackend(f"http://127.0.0.1:{free_port()}", "x", timeout_s=2)
    try:
        with pytest.raises(BackendUnavailable):
            await backend.errands("zh-CN")
    finally:
        await backend.close()
