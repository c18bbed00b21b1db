"""Whole visits on the kiosk window against the REAL hall: the simulated kiosk rig (a real edge
agent with its local API over the ID-card, fingerprint, printer and camera simulators) and a real
hub process with the services. pytest-qt touches the screen; the rig's citizen acts."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLabel

from govedge.broker import free_port
from govedge.privacy import mask_id_number
from kiosk.hall.flow import Step, View
from sim.kiosk.people import person

WHO = "astronaut"
SLOW = 30000  # ms: a face session with its challenge, on a machine shared with other tests


def rows(hub: Any, table: str) -> int:
    with sqlite3.connect(hub.data / "registry.db") as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608 - table names are the test's own constants


def enter(d: Any, rig: Any, face: str = WHO) -> None:
    rig.citizen.face(face)
    rig.citizen.insert_card(WHO)


def test_happy_visit(start_hall: Callable[..., Any], rig: Any, hub_process: Any) -> None:
    d = start_hall()
    enter(d, rig)
    d.wait_step(Step.MENU, SLOW)
    citizen = person(WHO)
    assert d.label("greeting").text() == f"您好，{citizen.name[0]}***"
    d.touch("errand_residence-proof")
    d.wait_step(Step.PROOF_CONFIRM)
    d.touch("action_print")
    d.wait_step(Step.RATE, SLOW)
    receipt = rig.sims["printer"].wait_for_receipts(1)[0]
    printed = " ".join(receipt.text_lines)
    assert citizen.id_number not in printed and citizen.name not in printed
    assert citizen.id_number[-4:] in printed
    # The printed QR verifies at the hub's public endpoint, as anyone's phone would check it.
    verdict = hub_process.public("POST", "/services/verify", {"qr_text": receipt.qr_payloads[0]})
    assert verdict["valid"] is True
    d.touch("level_4", timeout=SLOW)
    d.qtbot.waitUntil(lambda: d.button("action_submit").isEnabled())
    d.touch("action_submit")
    d.wait_step(Step.GOODBYE)
    rig.citizen.remove_card()
    d.wait_step(Step.ATTRACT, SLOW)
    assert rows(hub_process, "service_proofs") == 1
    assert rows(hub_process, "service_ratings") == 1
    assert d.kiosk.runner.flow.session.empty


def test_face_fails_three_times_then_fingerprint(start_hall: Callable[..., Any], rig: Any) -> None:
    d = start_hall()
    enter(d, rig, face="grace_hopper")  # someone else's face before the camera
    for attempt in (1, 2):
        d.qtbot.waitUntil(
            lambda a=attempt: (
                d.window.view is not None
                and d.window.view.step is Step.FACE_FAILED
                and d.window.view.attempt == a
            ),
            timeout=SLOW,
        )
        # Someone else's face: mismatch (or, on a loaded machine, no face seen in time).
        assert d.window.view is not None and d.window.view.message in (
            "face.fail.mismatch",
            "face.fail.no_face",
            "face.fail.timeout",
        )
        assert d.label("message").text().startswith("⚠")
        d.touch("action_retry")
    d.wait_step(Step.FINGERPRINT, SLOW)
    rig.citizen.place_finger(WHO)
    d.wait_step(Step.MENU, SLOW)
    assert d.kiosk.runner.flow.session.verified_by == "fingerprint"
    assert d.kiosk.runner.flow.session.face_failures == 3


def test_still_photo_is_refused_by_liveness(start_hall: Callable[..., Any], rig: Any) -> None:
    d = start_hall()
    enter(d, rig, face=f"still:{WHO}")
    d.wait_step(Step.FACE_FAILED, SLOW)
    assert "不能使用照片" in d.label("message").text()
    assert not d.kiosk.runner.flow.session.verified


def test_card_removed_mid_visit(start_hall: Callable[..., Any], rig: Any) -> None:
    d = start_hall()
    enter(d, rig)
    d.wait_step(Step.MENU, SLOW)
    d.touch("errand_residence-proof")
    d.wait_step(Step.PROOF_CONFIRM)
    rig.citizen.remove_card()
    d.wait_step(Step.ATTRACT, SLOW)
    assert "证件已取走" in d.label("notice").text()
    assert d.kiosk.runner.flow.session.empty


def test_idle_timeout(start_hall: Callable[..., Any], rig: Any) -> None:
    d = start_hall(step_timeouts={"menu": 0.5}, countdown_s=1.0)
    enter(d, rig)
    d.wait_step(Step.MENU, SLOW)
    d.button("action_more_time", timeout=SLOW)
    d.wait_step(Step.ATTRACT, SLOW)
    assert "长时间没有操作" in d.label("notice").text()


def test_paper_runs_out_mid_print(
    start_hall: Callable[..., Any], rig: Any, hub_process: Any
) -> None:
    d = start_hall()
    enter(d, rig)
    d.wait_step(Step.MENU, SLOW)
    flow = d.kiosk.runner.flow
    pulled: list[bool] = []

    def pull_paper(view: View) -> None:
        # The proof is issued and the receipt about to go to the printer: the paper runs out.
        if view.step is Step.PRINTING and view.proof is not None and not pulled:
            pulled.append(True)
            rig.citizen.paper_out(True)

    flow.listeners.append(pull_paper)
    d.touch("errand_residence-proof")
    d.touch("action_print")
    d.wait_step(Step.PRINT_FAILED, SLOW)
    assert pulled and "打印机缺纸" in d.label("message").text()
    assert rows(hub_process, "service_proofs") == 1
    first_proof = flow.session.proof
    rig.citizen.paper_out(False)
    d.touch("action_retry")
    d.wait_step(Step.RATE, SLOW)
    assert rows(hub_process, "service_proofs") == 1  # never issued twice
    assert flow.session.proof == first_proof
    receipts = rig.sims["printer"].wait_for_receipts(1)
    assert [r.qr_payloads for r in receipts] == [[first_proof.qr_text]]


def test_backend_down(start_hall: Callable[..., Any], rig: Any) -> None:
    d = start_hall(hub_url=f"http://127.0.0.1:{free_port()}")
    enter(d, rig)
    d.wait_step(Step.ERROR, SLOW)
    assert "服务暂时连接不上" in d.label("message").text()
    d.button("action_retry")
    d.touch("action_finish")
    d.wait_step(Step.ATTRACT)


def test_progress_by_qr_in_english_elder_mode(
    start_hall: Callable[..., Any], rig: Any, hub_process: Any
) -> None:
    hub_process.admin(
        "POST", "/services/applications", {"number": "A20260001", "errand_id": "residence-proof"}
    )
    d = start_hall(orientation="landscape")
    d.touch("action_lang")
    d.touch("action_elder")
    d.qtbot.waitUntil(
        lambda: d.window.view is not None and d.window.view.elder and d.window.view.lang == "en"
    )
    enter(d, rig)
    d.wait_step(Step.MENU, SLOW)
    assert d.button("errand_residence-proof").text().startswith("Proof of residence")
    d.touch("errand_application-progress")
    d.wait_step(Step.PROGRESS_ENTRY)
    rig.citizen.show_qr("A20260001")
    d.touch("action_scan")
    d.wait_step(Step.PROGRESS_RESULT, SLOW)
    texts = " ".join(w.text() for w in d.window._body.findChildren(QLabel))
    assert "A20260001" in texts and "Application progress" in texts
    assert mask_id_number(person(WHO).id_number) not in texts  # not needed on this screen
