"""The flow driven directly, with in-process stand-ins for its device and service protocols."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kiosk.hall.config import KioskConfig
from kiosk.hall.flow import Flow, Step, application_number_from_qr


def make_config(**kw: object) -> KioskConfig:
    return KioskConfig(**kw)  # type: ignore[arg-type]


@pytest.fixture
async def flow(devices: Any, backend: Any) -> AsyncIterator[Flow]:
    f = Flow(make_config(), devices, backend, tick_s=0.02)
    task = asyncio.create_task(f.run())
    yield f
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def to_menu(flow: Flow, devices: Any) -> None:
    await devices.insert_card()
    await flow.until_step(Step.MENU)


async def test_happy_path_proof(
    flow: Flow, devices: Any, backend: Any, citizen: dict[str, str]
) -> None:
    seen: list[Step] = []
    flow.listeners.append(lambda v: seen.append(v.step))
    await to_menu(flow, devices)
    view = flow.view
    assert view.greeting == "测**" and citizen["name"] not in repr(view)
    assert flow.session.verified_by == "face"
    flow.tap("errand", "residence-proof")
    view = await flow.until_step(Step.PROOF_CONFIRM)
    assert view.subject_id == "110101********1233"
    flow.tap("print")
    await flow.until_step(Step.RATE)
    assert len(devices.printed) == 1
    printed = repr(devices.printed[0])
    assert citizen["id_number"] not in printed and citizen["name"] not in printed
    assert "HC1:FAKE" in printed
    await flow.until(lambda v: v.rating is not None)
    flow.tap("level", "5")
    flow.tap("tag", "fast")
    flow.tap("submit")
    await flow.until_step(Step.GOODBYE)
    assert backend.ratings == [(5, ["fast"], "residence-proof")]
    flow.tap("finish")
    await flow.until_step(Step.ATTRACT)
    assert flow.session.empty and flow.view.greeting == ""
    for step in (Step.READING, Step.FACE, Step.BUSY, Step.MENU, Step.PRINTING, Step.GOODBYE):
        assert step in seen
    assert flow.last_visit_end == "done"


async def test_face_prompts_reach_the_view(flow: Flow, devices: Any) -> None:
    prompts: list[str] = []
    flow.listeners.append(lambda v: prompts.append(v.prompt) if v.step is Step.FACE else None)
    await to_menu(flow, devices)
    assert "face.look" in prompts and "face.blink" in prompts


async def test_three_face_failures_then_fingerprint(flow: Flow, devices: Any) -> None:
    devices.face_verdicts = ["mismatch", "mismatch", "mismatch"]
    await devices.insert_card()
    for attempt in (1, 2):
        view = await flow.until_step(Step.FACE_FAILED)
        assert view.message == "face.fail.mismatch" and view.attempt == attempt
        flow.tap("retry")
        await flow.until_step(Step.FACE)
    await flow.until_step(Step.MENU)
    assert devices.face_calls == 3 and devices.finger_calls == 1
    assert flow.session.verified_by == "fingerprint"


async def test_fingerprint_mismatch_stays_unverified(flow: Flow, devices: Any) -> None:
    devices.face_verdicts = ["mismatch"] * 3
    devices.finger_matches = False
    flow.config = make_config(face_attempts=1)
    await devices.insert_card()
    view = await flow.until(lambda v: v.message == "finger.mismatch")
    assert view.step is Step.FINGERPRINT and not flow.session.verified
    flow.tap("menu")  # not verified: no menu
    assert flow.step is Step.FINGERPRINT


async def test_still_photo_is_refused(flow: Flow, devices: Any) -> None:
    devices.face_verdicts = ["not_live"]
    await devices.insert_card()
    view = await flow.until_step(Step.FACE_FAILED)
    assert view.message == "face.fail.not_live"
    assert not flow.session.verified
    flow.tap("menu")
    assert flow.step is Step.FACE_FAILED


async def test_card_removed_mid_visit_wipes(flow: Flow, devices: Any) -> None:
    await to_menu(flow, devices)
    flow.tap("errand", "residence-proof")
    await flow.until_step(Step.PROOF_CONFIRM)
    session = flow.session
    photo = session.card.photo if session.card else bytearray()
    await devices.remove_card()
    view = await flow.until_step(Step.ATTRACT)
    assert view.notice == "notice.card_removed"
    assert session.card is None and not any(photo)
    assert flow.last_visit_end == "card_removed"


async def test_idle_timeout_counts_down_then_wipes(devices: Any, backend: Any) -> None:
    config = make_config(step_timeouts={"menu": 0.2}, countdown_s=0.6)
    flow = Flow(config, devices, backend, tick_s=0.02)
    task = asyncio.create_task(flow.run())
    try:
        await to_menu(flow, devices)
        view = await flow.until(lambda v: v.countdown is not None, within=3)
        assert view.step is Step.MENU and view.countdown and view.countdown >= 1
        flow.tap("more_time")
        assert flow.view.countdown is None
        await flow.until(lambda v: v.countdown is not None, within=3)
        view = await flow.until_step(Step.ATTRACT, within=3)
        assert view.notice == "notice.timed_out" and flow.session.empty
        assert flow.last_visit_end == "timeout"
    finally:
        task.cancel()


async def test_elder_mode_gives_more_time() -> None:
    config = make_config(step_timeouts={"menu": 10}, elder_time_factor=2.0)
    assert config.step_timeout("menu", elder=True) == 20
    assert config.step_timeout("menu") == 10


async def test_paper_out_never_issues_twice(flow: Flow, devices: Any, backend: Any) -> None:
    devices.print_fails_with = "paper_out"
    await to_menu(flow, devices)
    flow.tap("errand", "residence-proof")
    await flow.until_step(Step.PROOF_CONFIRM)
    request_id = flow.session.request_id
    flow.tap("print")
    view = await flow.until_step(Step.PRINT_FAILED)
    assert view.message == "printer.paper_out" and "retry" in view.actions
    devices.printer_state = "ready"  # staff load paper
    flow.tap("retry")
    await flow.until_step(Step.RATE)
    assert flow.session.request_id == request_id
    assert len(backend.proofs) == 1 and len(backend.subjects) == 1
    assert len(devices.printed) == 1


async def test_printer_out_before_issuing(flow: Flow, devices: Any, backend: Any) -> None:
    devices.printer_state = "cover_open"
    await to_menu(flow, devices)
    flow.tap("errand", "residence-proof")
    flow.tap("print")
    view = await flow.until_step(Step.PRINT_FAILED)
    assert view.message == "printer.cover_open" and backend.proofs == {}


async def test_backend_down_at_menu(flow: Flow, devices: Any, backend: Any) -> None:
    backend.down = True
    await devices.insert_card()
    view = await flow.until_step(Step.ERROR)
    assert view.message == "error.backend_down" and "retry" in view.actions
    backend.down = False
    flow.tap("retry")
    await flow.until_step(Step.MENU)


async def test_backend_down_mid_errand_offers_menu(flow: Flow, devices: Any, backend: Any) -> None:
    await to_menu(flow, devices)
    backend.down = True
    flow.tap("errand", "progress")
    for key in "A20260001":
        flow.tap("key", key)
    flow.tap("submit")
    view = await flow.until_step(Step.ERROR)
    assert view.message == "error.backend_down"
    flow.tap("menu")
    assert flow.step is Step.MENU


async def test_progress_by_keypad_and_unknown_number(flow: Flow, devices: Any) -> None:
    await to_menu(flow, devices)
    flow.tap("errand", "progress")
    for key in "A2026":
        flow.tap("key", key)
    flow.tap("backspace")
    assert flow.view.typed == "A202"
    flow.tap("submit")
    view = await flow.until(lambda v: v.message == "progress.not_found")
    assert view.step is Step.PROGRESS_ENTRY
    flow.tap("clear")
    for key in "a20260001":
        flow.tap("key", key)
    flow.tap("submit")
    view = await flow.until_step(Step.PROGRESS_RESULT)
    assert view.application and view.application.status == "under_review"
    flow.tap("done")
    await flow.until_step(Step.RATE)


async def test_progress_by_qr_and_no_qr(flow: Flow, devices: Any) -> None:
    await to_menu(flow, devices)
    flow.tap("errand", "progress")
    devices.qr_text = None
    flow.tap("scan")
    view = await flow.until(lambda v: v.message == "progress.no_qr")
    assert view.step is Step.PROGRESS_ENTRY
    devices.qr_text = "https://gov.example/progress/A20260001"
    flow.tap("scan")
    view = await flow.until_step(Step.PROGRESS_RESULT)
    assert view.application and view.application.number == "A20260001"


async def test_guide_then_rating_skipped(flow: Flow, devices: Any, backend: Any) -> None:
    await to_menu(flow, devices)
    flow.tap("guide")
    await flow.until_step(Step.GUIDE_LIST)
    flow.tap("open", "passport-guide")
    view = await flow.until_step(Step.GUIDE_DETAIL)
    assert view.errand and view.errand.fees == "120 元"
    flow.tap("done")
    await flow.until_step(Step.RATE)
    flow.tap("skip")
    view = await flow.until_step(Step.GOODBYE)
    assert view.prompt == "prompt.take_card" and backend.ratings == []
    await devices.remove_card()
    await flow.until_step(Step.ATTRACT)
    assert flow.last_visit_end == "done"


async def test_social_security_card(flow: Flow, devices: Any) -> None:
    flow.tap("start")
    view = await flow.until_step(Step.DOCUMENT)
    flow.tap("use_ss_card")
    assert flow.view.prompt == "prompt.insert_ss_card"
    await devices.insert_card("social_security")
    await flow.until_step(Step.MENU)
    assert flow.session.card and flow.session.card.document == "social_security"
    assert view.step is Step.DOCUMENT


async def test_social_security_card_without_photo(flow: Flow, devices: Any) -> None:
    devices.document_photo = b""
    await devices.insert_card("social_security")
    view = await flow.until_step(Step.ERROR)
    assert view.message == "error.card_no_photo" and view.actions == ("finish",)


async def test_english_and_elder_reset_after_visit(flow: Flow, devices: Any) -> None:
    flow.tap("lang", "en")
    flow.tap("elder")
    assert flow.view.lang == "en" and flow.view.elder
    await to_menu(flow, devices)
    assert flow.view.lang == "en"
    flow.tap("finish")
    view = await flow.until_step(Step.ATTRACT)
    assert view.lang == "zh-CN" and not view.elder


async def test_maintenance_behind_pin(devices: Any, backend: Any) -> None:
    config = make_config(staff_pin_sha256=hashlib.sha256(b"2468").hexdigest())
    flow = Flow(config, devices, backend)
    flow.tap("maintenance")
    for key in "1111":
        flow.tap("key", key)
    assert flow.view.typed == "••••"
    flow.tap("submit")
    assert flow.view.message == "maintenance.bad_pin" and flow.step is Step.MAINTENANCE_PIN
    for key in "2468":
        flow.tap("key", key)
    flow.tap("submit")
    view = await flow.until(lambda v: v.health is not None)
    assert view.step is Step.MAINTENANCE and view.health is not None
    assert view.health["drivers"]["printer"]["state"] == "online"
    flow.tap("close")
    assert flow.step is Step.ATTRACT


async def test_stop_wipes_the_session(devices: Any, backend: Any) -> None:
    flow = Flow(make_config(), devices, backend, tick_s=0.02)
    task = asyncio.create_task(flow.run())
    await to_menu(flow, devices)
    card = flow.session.card
    assert card is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert card.id_number == "" and not any(card.photo) and flow.session.card is None


def test_application_number_from_qr() -> None:
    assert application_number_from_qr("A20260001") == "A20260001"
    assert application_number_from_qr("https://x/progress/a-1/") == "A-1"
    assert application_number_from_qr("number=B77") == "B77"
    assert application_number_from_qr("not a number!") == ""


async def test_event_stream_comes_back_after_the_agent_was_away(
    devices: Any, backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiosk.hall import flow as flow_module
    from kiosk.hall.errors import DeviceError

    monkeypatch.setattr(flow_module, "RETRY_EVENTS_S", 0.01)
    real_events = devices.events
    failures = {"left": 2}

    def events() -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise DeviceError("the device service did not answer /v1/events")
        return real_events()

    devices.events = events
    f = Flow(make_config(), devices, backend, tick_s=0.02)
    task = asyncio.create_task(f.run())
    try:
        await devices.insert_card()
        await f.until_step(Step.MENU, within=5)
        assert failures["left"] == 0
    finally:
        task.cancel()


async def test_any_touch_ends_the_countdown(devices: Any, backend: Any) -> None:
    config = make_config(step_timeouts={"progress_entry": 0.2}, countdown_s=5)
    f = Flow(config, devices, backend, tick_s=0.02)
    task = asyncio.create_task(f.run())
    try:
        await to_menu(f, devices)
        f.tap("errand", "progress")
        await f.until(lambda v: v.countdown is not None, within=3)
        f.tap("key", "7")
        assert f.view.countdown is None and f.view.typed == "7"
    finally:
        task.cancel()


async def test_attract_says_when_the_devices_are_away(
    devices: Any, backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiosk.hall import flow as flow_module
    from kiosk.hall.errors import DeviceError

    monkeypatch.setattr(flow_module, "RETRY_EVENTS_S", 0.01)
    monkeypatch.setattr(flow_module, "MAX_RETRY_EVENTS_S", 0.02)
    away = {"on": True}
    real_events = devices.events

    def events() -> Any:
        if away["on"]:
            raise DeviceError("the device service did not answer /v1/events")
        return real_events()

    devices.events = events
    f = Flow(make_config(), devices, backend, tick_s=0.02)
    task = asyncio.create_task(f.run())
    try:
        view = await f.until(lambda v: not v.devices_ok, within=3)
        assert view.step is Step.ATTRACT
        away["on"] = False
        await devices.insert_card()
        await f.until_step(Step.MENU, within=5)
        assert f.view.devices_ok
    finally:
        task.cancel()


async def test_errands_are_fetched_during_the_face_check(
    flow: Flow, devices: Any, backend: Any
) -> None:
    asked_in: list[Step] = []
    real = backend.errands

    async def errands(lang: str) -> Any:
        asked_in.append(flow.step)
        return await real(lang)

    backend.errands = errands
    devices.face_verdicts = ["ok", "ok"]  # two visits
    await to_menu(flow, devices)
    assert asked_in == [Step.FACE] and backend.errand_calls == ["zh-CN"]
    flow.tap("finish")
    await flow.until_step(Step.ATTRACT)
    flow.tap("lang", "en")
    await devices.insert_card()
    await flow.until_step(Step.MENU)
    assert backend.errand_calls == ["zh-CN", "en"]
