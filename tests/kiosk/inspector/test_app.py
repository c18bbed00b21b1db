"""The inspector app driven offscreen with pytest-qt against a simulated terminal (real agent on
simulated GNSS and camera) and a hub over HTTPS: tasks arrive, answers are recorded with photo
and fix, a lost fix is shown and marked, the task is submitted and everything syncs. Each
screen is saved to docs/inspector/."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton

from hub.inspection.bundle import verify_bundle
from kiosk.inspector.client import LocalApiClient
from kiosk.inspector.flow import InspectorFlow
from kiosk.inspector.screens import InspectorWindow
from sim.inspector.hub import InspectionHubThread
from sim.inspector.rig import InspectorRig

SHOTS = Path(__file__).resolve().parents[3] / "docs" / "inspector"


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[tuple[InspectionHubThread, InspectorRig]]:
    hub = InspectionHubThread(tmp_path / "hub").start()
    assert hub.ca is not None
    rig = InspectorRig(
        tmp_path / "terminal",
        device_id="insp-term-qt",
        hub_url=hub.url,
        ca=hub.ca,
        hub_ca_file=str(hub.ca.chain_path),
    )
    try:
        rig.start()
        yield hub, rig
    finally:
        rig.stop()
        hub.stop()


def _task(hub: InspectionHubThread, task_id: str, site: str, items: list[str]) -> None:
    hub.call(
        "POST",
        "/api/v1/inspection/tasks",
        {
            "id": task_id,
            "site": site,
            "lat": 31.2304,
            "lon": 121.4737,
            "checklist": [{"id": f"q{i}", "text": t} for i, t in enumerate(items)],
            "due": "2026-12-07",
            "inspector_id": "insp-007",
            "device_id": "insp-term-qt",
        },
    )


def _buttons(window: InspectorWindow, text: str) -> list[QPushButton]:
    return [
        b for b in window.findChildren(QPushButton) if text in b.text() and b.isVisibleTo(window)
    ]


def _shot(window: InspectorWindow, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert window.grab().save(str(SHOTS / f"{name}.png"))


def test_a_round_on_the_terminal(qtbot, terminal) -> None:  # type: ignore[no-untyped-def]
    hub, rig = terminal
    _task(
        hub, "T-FIRE-1", "人民路 88 号 商场消防通道", ["安全出口畅通，无杂物堵塞", "疏散指示灯亮"]
    )
    _task(hub, "T-LAMP-2", "滨江大道 路灯 #A-112", ["路灯正常点亮"])
    api = LocalApiClient(rig.api_url, rig.token)
    api.sync()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not api.tasks()["items"]:
        time.sleep(0.1)
    flow = InspectorFlow(api, "insp-007")
    window = InspectorWindow(flow, poll_ms=0)
    qtbot.addWidget(window)
    window.show()
    assert window.size().width() == 720 and window.size().height() == 1280
    tasks = _buttons(window, "人民路")
    assert tasks and tasks[0].height() >= 96
    assert "GNSS 已定位" in window.gnss_chip.text()
    assert not window.banner.isVisibleTo(window)
    _shot(window, "1-tasks")

    qtbot.mouseClick(tasks[0], Qt.MouseButton.LeftButton)
    assert flow.screen == "task"
    assert flow.pending_states["T-FIRE-1"] == "accepted"
    window.notes["q0"].setText("出口畅通")
    qtbot.mouseClick(_buttons(window, "合格")[0], Qt.MouseButton.LeftButton)
    got = flow.answers[("T-FIRE-1", "q0")]
    assert got.fix and got.answer == "pass" and got.note == "出口畅通"
    assert "待同步 1" in window.sync_chip.text()
    _shot(window, "2-task")

    rig.tunnel(True)  # into the tunnel: the fix is lost
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and flow.fix.get("fix"):
        flow.poll()
        time.sleep(0.2)
    window.refresh_view()
    assert window.banner.isVisibleTo(window) and "无定位" in window.gnss_chip.text()
    fail = [b for b in _buttons(window, "不合格") if b.property("item") == "q1"]
    qtbot.mouseClick(fail[0], Qt.MouseButton.LeftButton)
    got = flow.answers[("T-FIRE-1", "q1")]
    assert not got.fix and got.answer == "fail"
    assert any("无定位（已如实标注）" in lab.text() for lab in window.findChildren(QLabel))
    _shot(window, "3-task-no-fix")

    qtbot.mouseClick(_buttons(window, "提交任务")[0], Qt.MouseButton.LeftButton)
    assert flow.pending_states["T-FIRE-1"] == "submitted"
    qtbot.mouseClick(_buttons(window, "任务列表")[0], Qt.MouseButton.LeftButton)
    flow.show_sync()
    window.refresh_view()
    assert any("待同步记录：2" in lab.text() for lab in window.findChildren(QLabel))
    _shot(window, "4-sync-waiting")

    rig.tunnel(False)
    qtbot.mouseClick(_buttons(window, "立即同步")[0], Qt.MouseButton.LeftButton)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (flow.waiting() or not flow.online()):
        flow.poll()
        time.sleep(0.2)
    window.refresh_view()
    assert flow.waiting() == 0 and flow.online()
    assert "已全部同步" in window.sync_chip.text()
    assert window.message.text() == "同步完成"
    _shot(window, "5-sync-done")
    # the app restarted: the answers come back from the agent's store
    again = InspectorFlow(api, "insp-007")
    again.refresh()
    again.open_task("T-FIRE-1")
    assert again.answers[("T-FIRE-1", "q1")].answer == "fail"
    assert not again.answers[("T-FIRE-1", "q1")].fix and again.answers[("T-FIRE-1", "q0")].fix
    task = hub.call("GET", "/api/v1/inspection/tasks/T-FIRE-1")
    assert task["state"] == "submitted"
    report = verify_bundle(hub.call("GET", "/api/v1/inspection/tasks/T-FIRE-1/bundle"))
    assert report.ok, report.text()
