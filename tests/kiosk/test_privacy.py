"""The kiosk leaves no trace of a citizen: complete visits (done, cancelled, timed out, and the app
killed with SIGKILL mid-visit), then a search for the citizen's name, ID number, address and card
photo in every log, database, outbox and temporary file of the kiosk, the agent and the hub, and
in everything a wildcard MQTT subscriber saw. Only the errand's own record (the hub's proof row)
may mention the citizen, and it holds the masked ID number."""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from drivers.idcard.photo import SIM_PHOTO_MAGIC
from govedge.broker import BrokerURL
from govedge.logs import JsonFormatter
from govedge.privacy import mask_id_number
from kiosk.hall.flow import Step
from sim.kiosk.people import person

WHO = "astronaut"
SLOW = 30000


class Sniffer:
    """A wildcard MQTT subscriber: keeps every payload it sees."""

    def __init__(self, url: str) -> None:
        broker = BrokerURL.parse(url)
        self.payloads: list[bytes] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"sniffer-{os.getpid()}"
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def _on_connect(self, client: Any, *_: Any) -> None:
        client.subscribe("#", qos=1)
        self.ready.set()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self.lock:
            self.payloads.append(msg.topic.encode() + b" " + bytes(msg.payload))

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def sniffer(mqtt_broker: Any) -> Iterator[Sniffer]:
    s = Sniffer(mqtt_broker.url)
    yield s
    s.stop()


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process's temporary files (the in-process kiosk, the rig's agent) go to a folder of
    the test's own, which the search covers."""
    folder = tmp_path / "process-tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def process_log(tmp_path: Path) -> Iterator[Path]:
    """Everything this process logs (the in-process kiosk and the rig's agent) as JSON lines."""
    path = tmp_path / "logs" / "kiosk-and-agent.log"
    path.parent.mkdir()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(old_level)
    handler.close()


def needles(photo: bytes) -> dict[str, list[bytes]]:
    """What must not be found, in the encodings a file could hold it."""
    citizen = person(WHO)
    b64 = base64.b64encode(photo)
    middle = len(b64) // 2
    text = {
        "name": citizen.name,
        "id_number": citizen.id_number,
        "address": citizen.address,
    }
    out: dict[str, list[bytes]] = {}
    for key, value in text.items():
        out[key] = [
            value.encode("utf-8"),
            json.dumps(value).encode()[1:-1],  # \uXXXX escapes
            value.encode("utf-16-le"),
        ]
    out["photo"] = [photo[len(photo) // 3 : len(photo) // 3 + 48], b64[middle : middle + 48]]
    return out


def card_photos() -> list[bytes]:
    """The photo as the card holds it (the simulator's wrapper) and the image inside it."""
    packed = bytes(person(WHO).card().photo)
    head = len(SIM_PHOTO_MAGIC)
    size = int.from_bytes(packed[head : head + 2], "big")
    return [packed, packed[head + 2 : head + 2 + size]]


def hits(blobs: dict[str, bytes]) -> list[str]:
    found = []
    for photo in card_photos():
        for place, data in blobs.items():
            for what, forms in needles(photo).items():
                if any(form and form in data for form in forms):
                    found.append(f"{what} in {place}")
    return sorted(set(found))


def files_under(*roots: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                try:
                    out[str(path)] = path.read_bytes()
                except OSError:
                    continue
    return out


def test_no_trace_of_the_citizen(
    private_tmp: Path,
    start_hall: Callable[..., Any],
    rig: Any,
    hub_process: Any,
    sniffer: Sniffer,
    process_log: Path,
    tmp_path: Path,
) -> None:
    citizen = person(WHO)
    rig.citizen.face(WHO)

    # 1. done: a proof printed, rated, card taken.
    d = start_hall(step_timeouts={"proof_confirm": 1.0}, countdown_s=1.0)
    rig.citizen.insert_card(WHO)
    d.wait_step(Step.MENU, SLOW)
    d.touch("errand_residence-proof")
    d.touch("action_print")
    d.wait_step(Step.RATE, SLOW)
    d.touch("level_5", SLOW)
    d.qtbot.waitUntil(lambda: d.button("action_submit").isEnabled())
    d.touch("action_submit")
    d.wait_step(Step.GOODBYE)
    rig.citizen.remove_card()
    d.wait_step(Step.ATTRACT, SLOW)
    time.sleep(1.0)

    # 2. cancelled: the citizen touches "finish" at the menu.
    rig.citizen.insert_card(WHO)
    d.wait_step(Step.MENU, SLOW)
    d.touch("action_finish")
    d.wait_step(Step.ATTRACT, SLOW)
    rig.citizen.remove_card()
    time.sleep(1.0)  # the reader's poll sees the card go before it comes back

    # 3. timed out: the citizen walks away at the confirmation.
    rig.citizen.insert_card(WHO)
    d.wait_step(Step.MENU, SLOW)
    d.touch("errand_residence-proof")
    d.wait_step(Step.PROOF_CONFIRM)
    d.wait_step(Step.ATTRACT, SLOW)
    assert d.kiosk.runner.flow.last_visit_end == "timeout"
    rig.citizen.remove_card()
    d.kiosk.stop()
    time.sleep(1.0)

    # 4. killed: the app as its own process, SIGKILLed with the citizen verified at the menu.
    kiosk_dir = tmp_path / "kiosk"
    kiosk_tmp = kiosk_dir / "tmp"
    kiosk_tmp.mkdir(parents=True)
    (kiosk_dir / "hub.token").write_text(hub_process.kiosk_token)
    config = {
        "hall": "hall-1",
        "agent": {"url": rig.api_url, "token_file": str(rig.token_file)},
        "hub": {"url": hub_process.url, "token_file": "hub.token"},
    }
    (kiosk_dir / "kiosk.json").write_text(json.dumps(config))
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        TMPDIR=str(kiosk_tmp),
        XDG_RUNTIME_DIR=str(kiosk_tmp),
        XDG_CACHE_HOME=str(kiosk_dir / "cache"),
        HOME=str(kiosk_dir),
    )
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    app_log = kiosk_dir / "kiosk-app.log"

    def start_app() -> subprocess.Popen[bytes]:
        with app_log.open("ab") as out:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "govedge",
                    "--log-format",
                    "json",
                    "--log-level",
                    "debug",
                    "kiosk",
                    "--config",
                    str(kiosk_dir / "kiosk.json"),
                    "--windowed",
                ],
                cwd=kiosk_dir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_log(event: str, count: int = 1, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if app_log.exists() and app_log.read_text().count(f'"{event}"') >= count:
                return
            time.sleep(0.1)
        raise AssertionError(f"no {event} in the app's log:\n{app_log.read_text()[-3000:]}")

    app = start_app()
    try:
        wait_log("kiosk_started")
        time.sleep(1.0)  # the app's event stream is connected
        rig.citizen.insert_card(WHO)
        wait_log("identity_verified")
        time.sleep(0.5)  # the menu is loading from the hub
        app.send_signal(signal.SIGKILL)
        app.wait(10)
        # A restart begins at the attract screen with nothing of the killed visit.
        app = start_app()
        wait_log("kiosk_started", count=2)
        time.sleep(1.0)
        assert app.poll() is None
        log_after_restart = app_log.read_text().split('"kiosk_started"')[-1]
        assert "visit_started" not in log_after_restart
    finally:
        rig.citizen.remove_card()
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(15)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait(5)
    hub_process.stop()  # flush and close the hub's databases and log

    # The errand's own record: the hub's proof row, with the masked ID number.
    with sqlite3.connect(hub_process.data / "registry.db") as db:
        masked = [r[0] for r in db.execute("SELECT subject_id_masked FROM service_proofs")]
    assert masked == [mask_id_number(citizen.id_number)]

    blobs = files_under(
        tmp_path / "rig", hub_process.data, kiosk_dir, process_log.parent, private_tmp
    )
    # The agent's state (its outbox and sequence files) is among them.
    assert any("/rig/state/" in place for place in blobs), sorted(blobs)[:20]
    with sniffer.lock:
        blobs["mqtt (wildcard subscriber)"] = b"\n".join(sniffer.payloads)
    assert len(blobs) > 5 and blobs["mqtt (wildcard subscriber)"]
    assert any("registry.db" in place for place in blobs)
    assert (
        b'"visit_ended"' in blobs[str(process_log)]
        and b"hub_listening" in blobs[str(hub_process.log_path)]
    )
    found = hits(blobs)
    assert found == [], found


def test_the_search_finds_each_form_it_looks_for() -> None:
    citizen = person(WHO)
    inner = card_photos()[1]
    planted = {
        "log": f'{{"event": "x", "name": {json.dumps(citizen.name)}}}'.encode(),
        "db": citizen.id_number.encode("utf-16-le"),
        "outbox": b"..." + citizen.address.encode() + b"...",
        "tmp": b"xx" + base64.b64encode(inner) + b"yy",
        "clean": mask_id_number(citizen.id_number).encode(),
    }
    assert hits(planted) == ["address in outbox", "id_number in db", "name in log", "photo in tmp"]
