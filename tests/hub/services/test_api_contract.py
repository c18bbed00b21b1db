"""Contract C as the kiosk app uses it: errands, applications, proofs and ratings over HTTP,
with a kiosk token bound to its device, and bad input refused with clear errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from hub.errors import ValidationError
from hub.services.tables import proofs, ratings


async def test_errands_in_both_languages(services_hub: Any) -> None:
    sh = await services_hub()
    status, zh = await sh.kiosk("GET", "/services/errands", params={"lang": "zh-CN"})
    assert status == 200
    status, en = await sh.kiosk("GET", "/services/errands", params={"lang": "en"})
    ids = [e["id"] for e in zh["errands"]]
    assert ids == [e["id"] for e in en["errands"]] and "residence-proof" in ids
    first_zh, first_en = zh["errands"][0], en["errands"][0]
    assert set(first_zh) >= {
        "id",
        "name",
        "summary",
        "materials",
        "where",
        "fees",
        "proof_type",
        "kind",
    }
    assert first_zh["name"] == "开具居住证明" and first_en["name"] == "Proof of residence"
    assert first_zh["proof_type"] == "residence_proof" and first_zh["kind"] == "proof"
    status, one = await sh.kiosk(
        "GET", "/services/errands/application-progress", params={"lang": "en"}
    )
    assert status == 200 and one["kind"] == "progress" and one["proof_type"] is None
    status, body = await sh.kiosk("GET", "/services/errands/no-such", params={"lang": "en"})
    assert status == 404 and "no-such" in body["error"]
    status, body = await sh.kiosk("GET", "/services/errands", params={"lang": "fr"})
    assert status == 400 and "lang" in body["error"]


async def test_admin_edits_the_catalog(services_hub: Any) -> None:
    sh = await services_hub()
    errand: dict[str, Any] = {
        "id": "parking-permit",
        "kind": "guide",
        "name": {"zh-CN": "停车许可", "en": "Parking permit"},
        "summary": {"zh-CN": "到窗口办理。", "en": "At a desk."},
        "materials": {"zh-CN": ["行驶证"], "en": ["Vehicle licence"]},
        "where": {"zh-CN": "二楼", "en": "2F"},
        "fees": {"zh-CN": "免费", "en": "Free"},
    }
    status, _ = await sh.kiosk("PUT", "/services/errands/parking-permit", json=errand)
    assert status == 403  # a kiosk may not edit
    status, _ = await sh.admin("PUT", "/services/errands/parking-permit", json=errand)
    assert status == 200
    status, one = await sh.kiosk("GET", "/services/errands/parking-permit", params={"lang": "en"})
    assert one["name"] == "Parking permit" and one["materials"] == ["Vehicle licence"]
    del errand["fees"]["en"]
    status, body = await sh.admin("PUT", "/services/errands/parking-permit", json=errand)
    assert status == 400 and "fees" in body["error"] and "en" in body["error"]
    status, body = await sh.admin("PUT", "/services/errands/parking-permit", json={"id": 1})
    assert status == 400 and "$.id" in body["error"]
    status, _ = await sh.admin("DELETE", "/services/errands/parking-permit")
    assert status == 200
    status, _ = await sh.kiosk("GET", "/services/errands/parking-permit")
    assert status == 404


async def test_application_progress_embedded(services_hub: Any) -> None:
    sh = await services_hub()
    status, _ = await sh.admin(
        "POST",
        "/services/applications",
        json={"number": "GZ-2026-000123", "errand_id": "residence-permit-endorsement"},
    )
    assert status == 201
    for step in ("prechecked", "under_review"):
        status, _ = await sh.admin(
            "POST",
            "/services/applications/GZ-2026-000123/steps",
            json={"status": step, "note": "材料齐全" if step == "prechecked" else ""},
        )
        assert status == 200
    status, app = await sh.kiosk(
        "GET", "/services/applications/GZ-2026-000123", params={"lang": "zh-CN"}
    )
    assert status == 200
    assert app["status"] == "under_review" and app["errand_name"] == "居住证签注"
    assert [s["status"] for s in app["timeline"]] == ["received", "prechecked", "under_review"]
    assert app["timeline"][1]["label"] == "预审通过" and app["timeline"][1]["note"] == "材料齐全"
    assert app["timeline"][0]["at"].endswith("Z")
    status, body = await sh.admin(
        "POST", "/services/applications/GZ-2026-000123/steps", json={"status": "received"}
    )
    assert status == 400 and "cannot go back" in body["error"]
    status, body = await sh.kiosk("GET", "/services/applications/GZ-2026-999999")
    assert status == 404
    status, body = await sh.kiosk("GET", "/services/applications/x%20y")
    assert status == 400 and "application number" in body["error"]


async def test_proof_issue_retry_conflict_and_status(services_hub: Any, proof_body: Any) -> None:
    sh = await services_hub()
    status, first = await sh.kiosk("POST", "/services/proofs", json=proof_body("req-1"))
    assert status == 201, first
    assert first["qr_text"].startswith("GE1:") and first["proof_id"].startswith("1.2.156.3005.2.")
    assert first["title"] == "居住证明"
    assert first["subject_masked"] == {"id_number": "110105********002X", "name": "张**"}
    assert first["issued_at"] < first["expires_at"]
    # A retried print: the same proof, byte for byte, and no second proof.
    status, again = await sh.kiosk("POST", "/services/proofs", json=proof_body("req-1"))
    assert status == 200 and again == first
    # The same request id for another person is refused.
    status, body = await sh.kiosk("POST", "/services/proofs", json=proof_body("req-1", person=1))
    assert status == 409 and "req-1" in body["error"]
    with sh.rh.hub.engine.connect() as conn:
        rows = conn.execute(sa.select(proofs.c.device, proofs.c.hall)).all()
    assert rows == [(sh.device_id, "hall-1")]
    # Status is public (no token); unknown proofs are 404.
    status, st = await sh.public("GET", f"/services/proofs/{first['proof_id']}/status")
    assert status == 200 and st["revoked"] is False and st["proof_id"] == first["proof_id"]
    status, _ = await sh.public("GET", "/services/proofs/1.2.156.3005.2.x/status")
    assert status == 404
    # Revoking takes an operator; a kiosk may not.
    status, _ = await sh.kiosk(
        "POST", f"/services/proofs/{first['proof_id']}/revoke", json={"reason": "x"}
    )
    assert status == 403
    status, st = await sh.admin(
        "POST", f"/services/proofs/{first['proof_id']}/revoke", json={"reason": "issued in error"}
    )
    assert status == 200 and st["revoked"] is True


async def test_bad_proof_requests_are_refused(services_hub: Any, proof_body: Any) -> None:
    sh = await services_hub()
    bad_id = proof_body("r2")
    bad_id["subject"]["id_number"] = "110105194912310021"  # wrong check character
    cases = [
        (bad_id, "id_number"),
        (proof_body("r3", proof_type="dog_licence"), "proof_type"),
        ({**proof_body("r4"), "subject": {"name": "张三"}}, "$.subject"),
        ({**proof_body("r5"), "lang": "fr"}, "lang"),
        ({**proof_body("r6"), "extra": 1}, "extra"),
    ]
    for body, word in cases:
        status, answer = await sh.kiosk("POST", "/services/proofs", json=body)
        assert status == 400 and word in answer["error"], (body, answer)
    async with sh.rh.session.post(
        sh.rh.url + "/api/v1/services/proofs",
        data=b"{not json",
        headers=sh.rh.headers(sh.kiosk_token),
    ) as resp:
        assert resp.status == 400 and "JSON" in (await resp.json())["error"]
    status, _ = await sh.public("POST", "/services/proofs", json=proof_body("r7"))
    assert status == 401


async def test_kiosk_role_is_bound_and_limited(services_hub: Any) -> None:
    sh = await services_hub()
    status, _ = await sh.kiosk("GET", "/devices")
    assert status == 403  # a kiosk reads no fleet data
    status, _ = await sh.kiosk("GET", "/services/ratings/summary", params={"group": "hall"})
    assert status == 403
    with pytest.raises(ValidationError, match="device id"):
        await asyncio.to_thread(sh.rh.hub.tokens.create, "kiosk", "")


async def test_ratings_post_and_refusals(services_hub: Any) -> None:
    sh = await services_hub()
    status, tags = await sh.kiosk("GET", "/services/rating-tags", params={"lang": "zh-CN"})
    assert status == 200
    assert [lv["label"] for lv in tags["levels"]] == [
        "非常满意",
        "满意",
        "基本满意",
        "不满意",
        "非常不满意",
    ]
    assert {"id": "fast", "label": "办理快捷"} in tags["tags"]
    good = {
        "level": 5,
        "tags": ["fast", "friendly"],
        "comment": "很快，谢谢",
        "hall": "hall-1",
        "errand_id": "residence-proof",
    }
    status, body = await sh.kiosk("POST", "/services/ratings", json=good)
    assert status == 201 and isinstance(body["id"], int)
    changes: list[tuple[dict[str, Any], str]] = [
        ({"level": 6}, "level"),
        ({"tags": ["nice"]}, "tags"),
        ({"comment": "请打我电话 138 1234 5678"}, "phone"),
        ({"comment": "我的身份证11010519491231002X"}, "ID"),
        ({"comment": "好" * 201}, "comment"),
        ({"errand_id": "no-such"}, "errand_id"),
    ]
    for change, word in changes:
        status, body = await sh.kiosk("POST", "/services/ratings", json={**good, **change})
        assert status == 400 and word in body["error"], (change, body)
    with sh.rh.hub.engine.connect() as conn:
        rows = conn.execute(sa.select(ratings.c.device, ratings.c.level, ratings.c.tags)).all()
    assert rows == [(sh.device_id, 5, ["fast", "friendly"])]


async def test_openapi_lists_the_services(services_hub: Any) -> None:
    sh = await services_hub()
    doc = await sh.rh.get("/api/v1/openapi.json")
    paths = doc["paths"]
    post = paths["/api/v1/services/proofs"]["post"]
    assert post["x-roles"] == ["admin", "kiosk"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(schema["required"]) >= {"request_id", "proof_type", "subject", "hall"}
    assert "security" not in paths["/api/v1/services/proofs/{proof_id}/status"]["get"]
    assert "security" not in paths["/api/v1/services/verify"]["post"]
