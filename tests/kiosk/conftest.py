"""Fixtures of the kiosk tests.

In-process stand-ins for the flow's own Python protocols (DeviceClient, ServiceBackend).

Used only by the flow's unit tests, which drive the state machine directly; the wire clients and
the real agent, rig and hub are exercised by the rig tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton

from govedge.broker import free_port, wait_for_port
from kiosk.hall.errors import BackendNotFound, BackendUnavailable, DeviceError
from kiosk.hall.flow import Step
from kiosk.hall.models import (
    Application,
    CardData,
    DeviceEvent,
    Errand,
    FaceStep,
    FingerResult,
    Proof,
    RatingChoices,
    TimelineEntry,
)

CITIZEN_NAME = "测试甲"
CITIZEN_ID = "110101199003071233"
CITIZEN_ADDRESS = "北京市东城区示例大街1号"
PHOTO = b"\xff\xd8\xff\xe0FAKEJPEGPHOTOBYTES" * 20


@dataclass
class FakeDevices:
    """Scripted devices: face verdicts to play in order, a finger result, printer trouble."""

    face_verdicts: list[str] = field(default_factory=lambda: ["ok"])
    finger_matches: bool = True
    printer_state: str = "ready"
    print_fails_with: str = ""  # "paper_out" -> the next print fails with 409
    qr_text: str | None = "A20260001"
    document_photo: bytes = PHOTO
    events_queue: asyncio.Queue[DeviceEvent] = field(default_factory=asyncio.Queue)
    printed: list[dict[str, Any]] = field(default_factory=list)
    face_calls: int = 0
    finger_calls: int = 0

    async def insert_card(self, document: str = "resident_id") -> None:
        await self.events_queue.put(DeviceEvent("card_inserted", "idcard", document))

    async def remove_card(self) -> None:
        await self.events_queue.put(DeviceEvent("card_removed", "idcard"))

    async def events(self) -> AsyncIterator[DeviceEvent]:
        while True:
            yield await self.events_queue.get()

    async def read_id_card(self) -> CardData:
        return CardData(
            "resident_id", CITIZEN_NAME, CITIZEN_ID, CITIZEN_ADDRESS, bytearray(self.document_photo)
        )

    async def read_social_security_card(self) -> CardData:
        return CardData(
            "social_security", CITIZEN_NAME, CITIZEN_ID, "", bytearray(self.document_photo)
        )

    async def face_session(self, reference: bytes, attempt: int) -> AsyncIterator[FaceStep]:
        self.face_calls += 1
        assert reference == self.document_photo
        reason = self.face_verdicts.pop(0) if self.face_verdicts else "mismatch"
        yield FaceStep("look", text_key="face.look")
        yield FaceStep("challenge", text_key="face.blink", action="blink")
        for v in (0.5, 1.0):
            await asyncio.sleep(0)
            yield FaceStep("progress", value=v)
        ok = reason == "ok"
        yield FaceStep(
            "verdict",
            matched=ok or reason == "not_live",
            live=reason != "not_live",
            passed=ok,
            reason=reason,
        )

    async def match_fingerprint(self) -> FingerResult:
        self.finger_calls += 1
        return FingerResult(self.finger_matches, 120 if self.finger_matches else 3)

    async def printer_status(self) -> str:
        return self.printer_state

    async def print_receipt(self, receipt: dict[str, Any]) -> None:
        if self.print_fails_with:
            state, self.print_fails_with = self.print_fails_with, ""
            self.printer_state = state
            raise DeviceError("printer says no", 409, "PaperOutError", state)
        self.printed.append(receipt)

    async def scan_qr(self, timeout_s: float) -> str:
        if self.qr_text is None:
            raise DeviceError("no QR", 409, "NoQrError")
        return self.qr_text

    async def health(self) -> dict[str, Any]:
        return {
            "device_id": "kiosk-1",
            "connected": True,
            "drivers": {"printer": {"kind": "printer", "state": "online", "detail": ""}},
        }

    async def close(self) -> None:
        return None


ERRANDS = [
    Errand(
        "residence-proof",
        "居住证明",
        "开具居住证明",
        "proof",
        ("身份证",),
        "一楼 3 号窗口",
        "免费",
        "residence",
    ),
    Errand("progress", "进度查询", "查询申请进度", "progress"),
    Errand(
        "passport-guide",
        "护照办理指南",
        "护照办理需要什么",
        "guide",
        ("身份证", "照片"),
        "二楼 出入境窗口",
        "120 元",
    ),
]


@dataclass
class FakeBackend:
    """The hall's services in memory, keyed like the hub: one proof per request_id."""

    down: bool = False
    proofs: dict[str, Proof] = field(default_factory=dict)
    subjects: list[tuple[str, str]] = field(default_factory=list)
    ratings: list[tuple[int, list[str], str]] = field(default_factory=list)
    errand_calls: list[str] = field(default_factory=list)

    def _check(self) -> None:
        if self.down:
            raise BackendUnavailable("hub unreachable: connection refused")

    async def errands(self, lang: str) -> list[Errand]:
        self.errand_calls.append(lang)
        self._check()
        return list(ERRANDS)

    async def application(self, number: str, lang: str) -> Application:
        self._check()
        if number != "A20260001":
            raise BackendNotFound(f"no application {number}")
        return Application(
            number,
            "居住证签注",
            "under_review",
            (
                TimelineEntry("received", "已受理", "2026-12-01T09:00:00+08:00"),
                TimelineEntry("under_review", "审核中", "2026-12-02T10:00:00+08:00"),
            ),
        )

    async def issue_proof(
        self, request_id: str, proof_type: str, id_number: str, name: str, hall: str, lang: str
    ) -> Proof:
        self._check()
        if request_id not in self.proofs:
            self.subjects.append((id_number, name))
            self.proofs[request_id] = Proof(
                f"P{len(self.proofs) + 1:04d}",
                "HC1:FAKE",
                "居住证明",
                "2026-12-06T10:00:00+08:00",
                "2027-03-06T10:00:00+08:00",
                id_number[:6] + "********" + id_number[-4:],
                name[:1] + "**",
            )
        return self.proofs[request_id]

    async def rating_choices(self, lang: str) -> RatingChoices:
        self._check()
        return RatingChoices(
            ((1, "非常不满意"), (2, "不满意"), (3, "基本满意"), (4, "满意"), (5, "非常满意")),
            (("fast", "办得快"), ("kind", "态度好")),
        )

    async def rate(self, level: int, tags: list[str], hall: str, errand_id: str) -> None:
        self._check()
        self.ratings.append((level, tags, errand_id))

    async def close(self) -> None:
        return None


@pytest.fixture
def devices() -> FakeDevices:
    return FakeDevices()


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def citizen() -> dict[str, str]:
    return {"name": CITIZEN_NAME, "id_number": CITIZEN_ID, "address": CITIZEN_ADDRESS}


@pytest.fixture(autouse=True)
def _offscreen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")


# -- a real hub with the services, as its own process ------------------------------------------

HUB_DEVICE = "kiosk-hall1-01"


@dataclass
class HubProcess:
    """``govedge hub`` in a subprocess with its SQLite databases and log in one folder."""

    url: str
    kiosk_token: str
    admin_token: str
    data: Path
    log_path: Path
    proc: subprocess.Popen[bytes]

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.public(method, path, body, self.admin_token)

    def public(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str = ""
    ) -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.url + "/api/v1" + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers=headers,
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _govedge(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "govedge", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@pytest.fixture
def hub_process(tmp_path: Path, mqtt_broker: Any) -> Iterator[HubProcess]:
    data = tmp_path / "hub"
    data.mkdir()
    port = free_port()
    config = {
        "broker_url": mqtt_broker.url,
        "client_id": f"hub-{uuid.uuid4().hex[:8]}",
        "database_url": f"sqlite:///{data / 'registry.db'}",
        "telemetry_url": f"sqlite:///{data / 'telemetry.db'}",
        "http_port": port,
        "services": {"proof_keys_dir": str(data / "proof-keys")},
    }
    cfg = data / "hub.json"
    cfg.write_text(json.dumps(config))
    log_path = data / "hub.log"
    with log_path.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "govedge", "hub", "--config", str(cfg)],
            cwd=data,
            env=_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    hub = HubProcess(f"http://127.0.0.1:{port}", "", "", data, log_path, proc)
    try:
        assert wait_for_port("127.0.0.1", port, 30), log_path.read_text()[-2000:]
        # Tokens go into the database the running hub reads, as an operator would make them.
        hub.kiosk_token = _govedge(
            "hub",
            "token",
            "create",
            "--role",
            "kiosk",
            "--name",
            HUB_DEVICE,
            "--config",
            str(cfg),
            cwd=data,
        )
        hub.admin_token = _govedge(
            "hub",
            "token",
            "create",
            "--role",
            "admin",
            "--name",
            "tests",
            "--config",
            str(cfg),
            cwd=data,
        )
        yield hub
    finally:
        hub.stop()


# -- the real hall: the simulated kiosk rig (real agent + simulators) and the kiosk app ---------


@pytest.fixture
def rig(mqtt_broker: Any, tmp_path: Path) -> Iterator[Any]:
    from sim.kiosk.rig import KioskRig

    with KioskRig(broker_url=mqtt_broker.url, workdir=tmp_path / "rig") as running:
        running.citizen.follow_challenges(True)
        yield running


def hall_config(rig: Any, hub_url: str, hub_token: str, **extra: Any) -> Any:
    from kiosk.hall.config import parse_config

    data = {
        "hall": "hall-1",
        "agent": {"url": rig.api_url, "token_file": str(rig.token_file)},
        "hub": {"url": hub_url, "token": hub_token, "timeout_s": 3},
        **extra,
    }
    return parse_config(json.dumps(data).encode(), "test config")


@pytest.fixture
def start_hall(qtbot: Any, rig: Any, hub_process: Any) -> Iterator[Callable[..., Driver]]:
    """Start the kiosk app wired to the real rig and hub (``hub_url`` may point elsewhere)."""
    from kiosk.hall.app import client_factory
    from kiosk.hall.ui.kiosk import Kiosk
    from kiosk.hall.ui.speech import SilentSpeaker

    started: list[Kiosk] = []

    def start(orientation: str = "portrait", hub_url: str = "", **extra: Any) -> Driver:
        config = hall_config(rig, hub_url or hub_process.url, hub_process.kiosk_token, **extra)
        kiosk = Kiosk(
            config,
            client_factory(config, Path.cwd()),
            orientation,
            SilentSpeaker("test"),
            tick_s=0.05,
        )
        qtbot.addWidget(kiosk.window)
        kiosk.start(full_screen=False)
        started.append(kiosk)
        driver = Driver(kiosk, qtbot, None)
        driver.wait_step(Step.ATTRACT)
        return driver

    yield start
    for kiosk in started:
        kiosk.stop()


@pytest.fixture
def start_kiosk(
    qtbot: Any, devices: FakeDevices, backend: FakeBackend
) -> Iterator[Callable[..., Driver]]:
    """Start the kiosk app on the in-process stand-ins of its protocols."""
    from kiosk.hall.config import KioskConfig
    from kiosk.hall.ui.kiosk import Kiosk
    from kiosk.hall.ui.speech import SilentSpeaker

    started: list[Kiosk] = []

    def start(orientation: str = "portrait", **config: Any) -> Driver:
        async def make() -> tuple[Any, Any]:
            return devices, backend

        kiosk = Kiosk(KioskConfig(**config), make, orientation, SilentSpeaker("test"), tick_s=0.02)
        qtbot.addWidget(kiosk.window)
        kiosk.start(full_screen=False)
        started.append(kiosk)
        driver = Driver(kiosk, qtbot, devices)
        driver.wait_step(Step.ATTRACT)
        return driver

    yield start
    for kiosk in started:
        kiosk.stop()


class Driver:
    """Touches the screen and waits for what it shows."""

    def __init__(self, kiosk: Any, qtbot: Any, devices: Any) -> None:
        self.kiosk = kiosk
        self.window = kiosk.window
        self.qtbot = qtbot
        self.devices = devices

    def wait_step(self, step: Step, timeout: int = 5000) -> None:
        self.qtbot.waitUntil(
            lambda: self.window.view is not None and self.window.view.step is step, timeout=timeout
        )

    def button(self, name: str, timeout: int = 5000) -> QPushButton:
        self.qtbot.waitUntil(lambda: self.window.button(name) is not None, timeout=timeout)
        button = self.window.button(name)
        assert button is not None
        return button

    def touch(self, name: str, timeout: int = 5000) -> None:
        button = self.button(name, timeout)
        assert button.isEnabled(), name
        assert button.height() >= 44 and button.width() >= 44, (name, button.size())
        self.qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    def label(self, name: str) -> QLabel:
        body = self.window._body
        assert body is not None
        label = body.findChild(QLabel, name)
        assert label is not None, name
        return label

    def device(self, event: str, document: str = "resident_id") -> None:
        """Play a device event through the stand-in devices (fake-backed kiosks only)."""
        queue = self.devices.events_queue
        self.kiosk.runner.call(lambda _: queue.put_nowait(DeviceEvent(event, "idcard", document)))

    def to_menu(self) -> None:
        self.device("card_inserted")
        self.wait_step(Step.MENU)
