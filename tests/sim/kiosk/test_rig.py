"""The kiosk rig end to end: a real agent's local API over the simulators, driven by the
citizen control, as the kiosk app uses it (contract A and B in docs/kiosk-devices.md)."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from typing import Any

import pytest

from sim.kiosk.people import person
from sim.kiosk.rig import KioskRig

from .conftest import Api, Events


def card_photo(api: Api) -> str:
    status, body = api.call("POST", "/v1/card/read", {})
    assert status == 200, body
    return str(body["card"]["photo"])


def session(api: Api, photo: str, **extra: Any) -> list[dict[str, Any]]:
    status, kind, steps = api.stream("/v1/face/session", {"reference_image": photo, **extra})
    assert status == 200 and kind.startswith("application/x-ndjson"), (status, kind, steps)
    return steps


def test_face_session_passes_when_the_card_holder_follows(api: Api, events: Events) -> None:
    api.rig.citizen.insert_card("astronaut")
    api.rig.citizen.face("astronaut")
    passed_before = counter(api, "face_sessions_passed")
    steps = session(api, card_photo(api), attempt=1)
    assert counter(api, "face_sessions_passed") == passed_before + 1
    assert steps[0] == {"step": "look", "text_key": "face.look"}
    assert [s["step"] for s in steps[:2]] == ["look", "challenge"]
    assert {s["step"] for s in steps[2:-1]} == {"progress"}
    challenge = steps[1]
    assert challenge["action"] in ("blink", "turn_left", "turn_right")
    assert challenge["text_key"] == f"face.{challenge['action']}"
    assert any(s["step"] == "progress" for s in steps)
    verdict = steps[-1]
    assert verdict["step"] == "verdict" and verdict["passed"], verdict
    assert verdict["matched"] and verdict["live"] and verdict["reason"] == "ok"
    # the same objects reach the event stream, for a screen that listens there
    seen = events.wait_for(lambda e: e.get("event") == "face_prompt" and e["step"] == "verdict")
    assert {k: v for k, v in seen.items() if k != "event"} == verdict
    assert api.rig.scene.actions_done[-1] == challenge["action"]


@pytest.mark.parametrize("shown", ["photo:astronaut", "still:astronaut"])
def test_printed_photo_and_replayed_still_are_refused(api: Api, shown: str) -> None:
    api.rig.citizen.insert_card("astronaut")
    api.rig.citizen.face(shown)
    verdict = session(api, card_photo(api))[-1]
    assert verdict["step"] == "verdict"
    assert not verdict["passed"] and not verdict["live"] and verdict["reason"] == "not_live"


def test_another_persons_face_is_a_mismatch(api: Api) -> None:
    api.rig.citizen.insert_card("astronaut")
    api.rig.citizen.face("grace_hopper")
    verdict = session(api, card_photo(api), challenges=["blink"])[-1]
    assert verdict["live"] and not verdict["matched"] and not verdict["passed"]
    assert verdict["reason"] == "mismatch"


def test_a_citizen_who_does_not_follow_is_not_live(api: Api) -> None:
    api.rig.citizen.insert_card("grace_hopper")
    api.rig.citizen.face("grace_hopper")
    api.rig.citizen.follow_challenges(False)
    verdict = session(api, card_photo(api))[-1]
    assert verdict["matched"] and not verdict["live"] and verdict["reason"] == "not_live"


def counter(api: Api, name: str) -> float:
    status, health = api.call("GET", "/v1/health")
    assert status == 200
    return float(health["counters"][name])


def test_face_session_errors_before_the_stream_are_json(api: Api) -> None:
    refused, sessions = counter(api, "local_api_bad_requests"), counter(api, "face_sessions")
    status, body = api.call("POST", "/v1/face/session", {})
    assert status == 400 and body["code"] == "bad_request"
    status, body = api.call("POST", "/v1/face/session", {"reference_image": "%%%"})
    assert status == 400 and "base64" in body["error"]
    garbage = base64.b64encode(b"not an image").decode()
    status, body = api.call("POST", "/v1/face/session", {"reference_image": garbage})
    assert status == 400 and body["code"] == "bad_image"
    status, body = api.call(
        "POST", "/v1/face/session", {"reference_image": garbage, "challenges": ["jump"]}
    )
    assert status == 400 and "challenges" in body["error"]
    assert counter(api, "local_api_bad_requests") == refused + 4
    assert counter(api, "face_sessions") == sessions  # none of them ran


def test_fingerprint_match_card(api: Api) -> None:
    citizen = api.rig.citizen
    citizen.insert_card("grace_hopper")
    citizen.place_finger("grace_hopper")
    status, body = api.call("POST", "/v1/fingerprint/match-card", {})
    assert status == 200, body
    assert body["matched"] is True and body["score"] > 0 and body["driver"] == "finger"
    assert set(body) == {"driver", "matched", "score"}  # the feature never leaves the agent
    citizen.place_finger("astronaut")
    status, body = api.call("POST", "/v1/fingerprint/match-card", {})
    assert status == 200 and body["matched"] is False and body["score"] == 0
    citizen.lift_finger()
    status, body = api.call("POST", "/v1/fingerprint/match-card", {})
    assert status == 409 and body["code"] == "NoFingerError"
    citizen.remove_card()
    citizen.place_finger("grace_hopper")
    status, body = api.call("POST", "/v1/fingerprint/match-card", {})
    assert status == 409 and body["code"] == "NoCardError"


def test_card_events_and_the_card_read(api: Api, events: Events) -> None:
    api.rig.citizen.insert_card("astronaut")
    inserted = events.wait_for(lambda e: e.get("event") == "card_inserted")
    assert inserted["reader"] == "idcard" and inserted["document"] == "resident_id"
    status, body = api.call("POST", "/v1/card/read", {})
    assert status == 200
    card = body["card"]
    someone = person("astronaut")
    assert card["name"] == someone.name and card["id_number"] == someone.id_number
    assert card["photo_format"] == "jpeg" and base64.b64decode(card["photo"])[:2] == b"\xff\xd8"
    assert "fingerprint" not in card
    api.rig.citizen.remove_card()
    removed = events.wait_for(lambda e: e.get("event") == "card_removed")
    assert removed["reader"] == "idcard" and removed["document"] == "resident_id"
    status, body = api.call("POST", "/v1/card/read", {})
    assert status == 409 and body["code"] == "NoCardError"


def test_printer_status_paper_out_and_cover_open(api: Api, events: Events) -> None:
    status, body = api.call("GET", "/v1/printer/status")
    assert status == 200 and body["state"] == "ready" and body["driver"] == "printer"
    receipt = {"receipt": {"header": ["Hall 1"], "lines": ["Your number: A042"], "cut": True}}
    before = len(api.rig.sims["printer"].receipts)
    status, body = api.call("POST", "/v1/print", receipt)
    assert status == 200 and body == {"driver": "printer", "printed": True}
    api.rig.sims["printer"].wait_for_receipts(before + 1)

    api.rig.citizen.paper_out(True)
    status, body = api.call("GET", "/v1/printer/status")
    assert status == 200 and body["state"] == "paper_out"
    events.wait_for(lambda e: e.get("event") == "printer_status" and e["state"] == "paper_out")
    status, body = api.call("POST", "/v1/print", receipt)
    assert status == 409 and body["state"] == "paper_out" and body["code"] == "PaperOut"

    api.rig.citizen.paper_out(False)
    api.rig.citizen.cover_open(True)
    status, body = api.call("GET", "/v1/printer/status")
    assert body["state"] == "cover_open"
    status, body = api.call("POST", "/v1/print", receipt)
    assert status == 409 and body["state"] == "cover_open"
    api.rig.citizen.cover_open(False)
    events.wait_for(lambda e: e.get("event") == "printer_status" and e["state"] == "ready")
    assert len(api.rig.sims["printer"].receipts) == before + 1


def test_scan_qr(api: Api) -> None:
    status, body = api.call("POST", "/v1/camera/scan-qr", {"timeout_s": 0.5})  # nobody there
    assert status == 409 and body["code"] == "NoQrError"
    api.rig.citizen.show_qr("HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0B")
    status, body = api.call("POST", "/v1/camera/scan-qr", {"timeout_s": 5})
    assert status == 200, body
    assert body["text"] == "HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0B"
    status, body = api.call("POST", "/v1/camera/scan-qr", {"timeout_s": "soon"})
    assert status == 400


def test_wrong_token_is_refused(api: Api) -> None:
    api.rig.agent.local_api.token, real = "other", api.rig.agent.local_api.token
    try:
        headers = {"Authorization": f"Bearer {real}"}
        request = urllib.request.Request(api.rig.api_url + "/v1/health", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        assert caught.value.code == 401
    finally:
        api.rig.agent.local_api.token = real


def control(rig: KioskRig, name: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{rig.control_url}/{name}",
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_control_endpoint(kiosk: KioskRig) -> None:
    assert control(kiosk, "insert_card", {"person": "hopper"})[0] == 200
    assert kiosk.citizen.card == "grace_hopper"
    assert control(kiosk, "face", {"who": "still:astronaut"})[0] == 200
    assert str(kiosk.scene.shown) == "still:astronaut"
    assert control(kiosk, "place_finger", {"person": "astronaut"})[0] == 200
    assert kiosk.sims["finger"].module.finger.name == "astronaut-right-index"
    assert control(kiosk, "paper_out", {"on": True})[0] == 200
    assert kiosk.sims["printer"].engine.state.paper_out
    status, body = control(kiosk, "insert_card", {"person": "nobody-known"})
    assert status == 400 and "unknown person or card" in body["error"]
    status, body = control(kiosk, "face", {"who": "mask:astronaut"})
    assert status == 400
    status, body = control(kiosk, "paper_out", {"on": "yes"})
    assert status == 400
    with urllib.request.urlopen(f"{kiosk.control_url}/rig", timeout=5) as resp:
        where = json.loads(resp.read())
    assert where["api_url"] == kiosk.api_url and where["token_file"] == str(kiosk.token_file)
    assert kiosk.token_file.read_text().strip() == kiosk.token


def test_sim_visit_plays_a_citizen_for_the_app(
    api: Api, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    """``govedge sim visit`` at the hardware while this test plays the kiosk app."""
    from govedge.cli import main

    app_saw: dict[str, Any] = {}

    def app() -> None:
        events.wait_for(lambda e: e.get("event") == "card_inserted", 10)
        steps = session(api, card_photo(api))
        app_saw["verdict"] = steps[-1]
        app_saw["match"] = api.call("POST", "/v1/fingerprint/match-card", {})

    thread = threading.Thread(target=app)
    thread.start()
    code = main(
        [
            "sim",
            "visit",
            "--control",
            api.rig.control_url,
            "--person",
            "astronaut",
            "--finger",
            "astronaut",
            "--finger-hold",
            "1.5",
            "--wait",
            "15",
        ]
    )
    thread.join(30)
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert [line["step"] for line in lines] == [
        "insert_card",
        "face",
        "face_verdict",
        "place_finger",
        "lift_finger",
        "remove_card",
    ]
    assert lines[2]["seen"] and lines[2]["passed"] and lines[2]["reason"] == "ok"
    assert app_saw["verdict"]["passed"]
    assert app_saw["match"][0] == 200 and app_saw["match"][1]["matched"]
    events.wait_for(lambda e: e.get("event") == "card_removed")


def test_a_second_face_session_while_one_runs_is_busy(api: Api) -> None:
    api.rig.citizen.insert_card("astronaut")
    api.rig.citizen.face("photo:astronaut")  # never passes: the first session runs its course
    photo = card_photo(api)
    first: dict[str, Any] = {}
    before = api.rig.citizen.state()["prompts"]
    thread = threading.Thread(target=lambda: first.update(steps=session(api, photo)))
    thread.start()
    deadline = time.monotonic() + 10
    while api.rig.citizen.state()["prompts"] == before and time.monotonic() < deadline:
        time.sleep(0.02)  # until the first session has begun
    status, body = api.call("POST", "/v1/face/session", {"reference_image": photo})
    thread.join(20)
    assert status == 409 and body["code"] == "BusyError"
    assert first["steps"][-1]["reason"] == "not_live"
