"""``govedge demo``: broker, hub and a small simulated fleet on one machine.

Uses Mosquitto when installed (or the broker URL given), else the embedded amqtt broker. Each
simulated sensor cabinet is a real edge agent process reading a Modbus RTU simulator on a pty.
Ctrl-C stops everything and leaves no process behind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govedge.broker import BrokerURL, MosquittoBroker, free_port, mosquitto_binary, wait_for_port
from govedge.errors import GovedgeError
from govedge.logs import fields
from sim.fleet.cli import TOKEN_ENV

log = logging.getLogger("govedge.demo")

CITY_CENTRE = (30.2741, 120.1551)
SITES = ("riverside-pumping-station", "city-hall-service-hall-1", "old-town-district")
RESOURCES: tuple[dict[str, Any], ...] = (
    {
        "kind": "team",
        "name": "河道抢险一队 River rescue 1",
        "capacity": 12,
        "available": 12,
        "location": {"lat": 30.2701, "lon": 120.1492},
        "contact": "0571-0000-0101",
    },
    {
        "kind": "team",
        "name": "城东消防站 East fire station",
        "capacity": 20,
        "available": 20,
        "location": {"lat": 30.2812, "lon": 120.1703},
    },
    {
        "kind": "supply",
        "name": "防汛沙袋 Sandbags",
        "capacity": 2000,
        "available": 1500,
        "unit": "bags",
        "location": {"lat": 30.2655, "lon": 120.1588},
    },
    {
        "kind": "shelter",
        "name": "第一中学 No. 1 school",
        "capacity": 300,
        "available": 300,
        "unit": "beds",
        "location": {"lat": 30.2790, "lon": 120.1420},
    },
)


class DemoError(GovedgeError):
    """The demo could not start one of its parts."""


def register(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options to ``parser``."""
    parser.add_argument("--devices", type=int, default=4, help="simulated sensor cabinets (1-50)")
    parser.add_argument("--http-port", type=int, default=8080, help="hub port (0: any free port)")
    parser.add_argument(
        "--fleet",
        type=int,
        default=40,
        help="lightweight simulated devices playing the scenario (0: none)",
    )
    parser.add_argument(
        "--scenario",
        default="flood",
        help="scenario the fleet plays on a loop (see 'govedge sim fleet --help')",
    )
    parser.add_argument("--speed", type=float, default=20.0, help="scenario seconds per second")
    parser.add_argument("--broker", help="use this broker instead of starting one")
    parser.add_argument(
        "--embedded-broker", action="store_true", help="use amqtt even if Mosquitto is installed"
    )
    parser.add_argument(
        "--no-kiosk", action="store_true", help="no simulated hall kiosk (rig and kiosk app)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("var/demo"),
        help="folder for the demo's databases and device state (wiped at start)",
    )
    parser.set_defaults(func=run)


@dataclass
class Demo:
    """The demo's running processes and simulators, stopped together."""

    data: Path
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    sims: list[Any] = field(default_factory=list)
    broker: MosquittoBroker | None = None

    def spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``python -m ARGS``; secrets go in ``env`` (added to ours), never in ARGS."""
        logfile = (self.data / f"{name}.log").open("ab")
        proc = subprocess.Popen(  # noqa: S603 - argv of this Python, no shell
            [sys.executable, "-m", *args],
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
        self.procs.append((name, proc))
        return proc

    def stop(self) -> None:
        """SIGTERM every process (last started first), kill those still running after 8 s,
        then stop the simulators and the broker.
        """
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 8
        for _, proc in reversed(self.procs):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for sim in self.sims:
            sim.stop()
        if self.broker:
            self.broker.close()


def _start_broker(demo: Demo, args: argparse.Namespace) -> tuple[str, str]:
    """Return (broker URL, MQTT version) after starting or choosing the broker."""
    if args.broker:
        BrokerURL.parse(args.broker)
        log.info("broker_in_use", extra=fields(kind="external", url=args.broker))
        return args.broker, "5"
    if mosquitto_binary() and not args.embedded_broker:
        demo.broker = MosquittoBroker(workdir=demo.data / "mosquitto")
        demo.broker.workdir.mkdir(parents=True, exist_ok=True)
        demo.broker.start()
        log.info("broker_in_use", extra=fields(kind="mosquitto", url=demo.broker.url))
        return demo.broker.url, "5"
    port = free_port()
    demo.spawn("broker", ["govedge.embedded_broker", "--port", str(port)])
    if not wait_for_port("127.0.0.1", port, 20):
        raise DemoError("the embedded broker did not start; see broker.log in the data folder")
    url = f"mqtt://127.0.0.1:{port}"
    log.info("broker_in_use", extra=fields(kind="amqtt (embedded, MQTT 3.1.1)", url=url))
    return url, "3.1.1"


def _device_plan(n: int) -> list[dict[str, Any]]:
    plan = []
    for i in range(n):
        lat = CITY_CENTRE[0] + 0.01 * ((i % 5) - 2)
        lon = CITY_CENTRE[1] + 0.012 * ((i // 5) - 1)
        plan.append(
            {
                "id": f"cabinet-{i + 1:04d}",
                "model": "sensor-cabinet-sht20",
                "site": SITES[i % len(SITES)],
                "location": {"lat": round(lat, 5), "lon": round(lon, 5)},
                "labels": {"district": "old-town" if i % 2 else "riverside"},
            }
        )
    return plan


def run(args: argparse.Namespace) -> int:
    """Run the whole system on this machine until interrupted."""
    from sim.modbus import ModbusBusSimulator, SimDevice

    if not 1 <= args.devices <= 50:
        raise DemoError("--devices must be between 1 and 50 (use 'govedge sim fleet' for more)")
    data: Path = args.data
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    demo = Demo(data)
    stop = {"now": False}

    def on_signal(signum: int, _frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        broker_url, mqtt_version = _start_broker(demo, args)
        plan = _device_plan(args.devices)
        (data / "devices.json").write_text(json.dumps(plan, indent=2))
        http_port = args.http_port or free_port()
        hub_config: dict[str, Any] = {
            "broker_url": broker_url,
            "mqtt_version": mqtt_version,
            "database_url": f"sqlite:///{(data / 'registry.db').resolve()}",
            "telemetry_url": f"sqlite:///{(data / 'telemetry.db').resolve()}",
            "http_host": "127.0.0.1",
            "http_port": http_port,
            "devices_file": str((data / "devices.json").resolve()),
        }
        (data / "hub.json").write_text(json.dumps(hub_config, indent=2))
        token = _admin_token(str(hub_config["database_url"]))
        demo.spawn(
            "hub", ["govedge", "--log-format", "json", "hub", "--config", str(data / "hub.json")]
        )
        if not wait_for_port("127.0.0.1", http_port, 30):
            raise DemoError(f"the hub did not listen on port {http_port}; see {data / 'hub.log'}")
        for i, device in enumerate(plan):
            sim = ModbusBusSimulator(
                devices=[
                    SimDevice(
                        unit=1,
                        profile="sht20",
                        curves={
                            "temperature": {
                                "baseline": 18.0 + i,
                                "amplitude": 3.0,
                                "period": 120,
                                "noise": 0.3,
                                "seed": i,
                            },
                            "humidity": {
                                "baseline": 55.0,
                                "amplitude": 8.0,
                                "period": 300,
                                "noise": 1.0,
                                "seed": 100 + i,
                            },
                        },
                    )
                ]
            ).start()
            demo.sims.append(sim)
            agent_config = {
                "schema_version": 1,
                "device_id": device["id"],
                "model": device["model"],
                "site": device["site"],
                "state_dir": str((data / "agents" / device["id"]).resolve()),
                "broker": {"url": broker_url, "mqtt_version": mqtt_version, "keepalive_s": 10},
                "drivers": [
                    {
                        "name": "climate",
                        "kind": "modbus",
                        "url": sim.url,
                        "options": {"profile": "sht20", "unit": 1},
                        "poll_interval_s": 2.0,
                    }
                ],
                "publish": {"health_interval_s": 15.0},
                "config_signing": {"allow_unsigned": True},  # a demo: no hub key
            }
            path = data / "agents" / f"{device['id']}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(agent_config, indent=2))
            demo.spawn(
                f"agent-{device['id']}",
                ["govedge", "--log-format", "json", "agent", "--config", str(path)],
            )
        hub_url = f"http://127.0.0.1:{http_port}/"
        _add_resources(hub_url, token)
        if args.fleet > 0:
            demo.spawn(
                "fleet",
                [
                    "govedge",
                    "--log-format",
                    "json",
                    "sim",
                    "fleet",
                    "--devices",
                    str(args.fleet),
                    "--broker",
                    broker_url,
                    "--hub",
                    hub_url.rstrip("/"),
                    "--scenario",
                    args.scenario,
                    "--speed",
                    str(args.speed),
                    "--loop",
                ],
                env={TOKEN_ENV: token},
            )
        kiosk_line = "" if args.no_kiosk else _start_kiosk(demo, broker_url, hub_url, data)
        print(f"broker   {broker_url}", flush=True)
        print(f"hub      {hub_url}", flush=True)
        print(f"console  {hub_url}?token={token}", flush=True)
        print(f"alarms   {hub_url}emergency?token={token}", flush=True)
        print(f"token    {token}", flush=True)
        print(
            f"devices  {len(plan)} sensor cabinets (real agents over Modbus simulators) and "
            f"{args.fleet} fleet devices playing '{args.scenario}' on a loop; logs in {data}/",
            flush=True,
        )
        if kiosk_line:
            print(kiosk_line, flush=True)
        print("Ctrl-C stops everything.", flush=True)
        while not stop["now"]:
            for name, proc in demo.procs:
                if proc.poll() is not None:
                    raise DemoError(
                        f"{name} exited with code {proc.returncode}; see {data}/{name}.log"
                    )
            time.sleep(0.5)
        print("stopping…", flush=True)
        return 0
    finally:
        demo.stop()


def _add_resources(hub_url: str, token: str) -> None:
    """Response teams, supplies and a shelter near the demo's gauges, for the emergency console."""
    import urllib.request

    for resource in RESOURCES:
        request = urllib.request.Request(  # noqa: S310 - the demo hub's own http URL
            f"{hub_url}api/v1/resources",
            data=json.dumps(resource).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the demo hub's own http URL
            response.read()


KIOSK_DEVICE = "kiosk-demo-1"


def _start_kiosk(demo: Demo, broker_url: str, hub_url: str, data: Path) -> str:
    """One simulated hall kiosk: the rig (real agent over simulators) and the kiosk app on it,
    in a window where there is a display, offscreen otherwise. Returns the line to print."""
    rig_dir = (data / "kiosk-rig").resolve()
    app_dir = (data / "kiosk").resolve()
    app_dir.mkdir(parents=True, exist_ok=True)
    demo.spawn(
        "kiosk-rig",
        [
            "govedge",
            "--log-format",
            "json",
            "sim",
            "kiosk",
            "--broker",
            broker_url,
            "--device-id",
            KIOSK_DEVICE,
            "--workdir",
            str(rig_dir),
        ],
    )
    rig_file = rig_dir / "rig.json"
    deadline = time.monotonic() + 60
    while not rig_file.exists():
        if time.monotonic() > deadline:
            raise DemoError(f"the kiosk rig did not start; see {data / 'kiosk-rig.log'}")
        time.sleep(0.2)
    time.sleep(0.2)  # written in one go, but give the writer a moment to close it
    rig = json.loads(rig_file.read_text())
    hub_config = json.loads((data / "hub.json").read_text())
    token_file = app_dir / "hub.token"
    token_file.write_text(_token(str(hub_config["database_url"]), "kiosk", KIOSK_DEVICE))
    token_file.chmod(0o600)
    config = {
        "hall": "city-hall-service-hall-1",
        "hall_name": "政务服务中心",
        "agent": {"url": rig["api_url"], "token_file": rig["token_file"]},
        "hub": {"url": hub_url.rstrip("/"), "token_file": str(token_file)},
        "staff_pin_sha256": hashlib.sha256(b"2468").hexdigest(),
    }
    (app_dir / "kiosk.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
    windowed = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    demo.spawn(
        "kiosk-app",
        [
            "govedge",
            "--log-format",
            "json",
            "kiosk",
            "--config",
            str(app_dir / "kiosk.json"),
            *(["--windowed"] if windowed else []),
        ],
    )
    where = "a window" if windowed else "offscreen (no display)"
    return (
        f"kiosk    hall kiosk app in {where}; staff PIN 2468; play a citizen with: "
        f"govedge sim visit --control {rig['control_url']}"
    )


def _token(database_url: str, role: str, name: str) -> str:
    from hub.auth import TokenStore
    from hub.db import create_schema, make_engine

    engine = make_engine(database_url)
    create_schema(engine)
    token = TokenStore(engine).create(role, name)
    engine.dispose()
    return token


def _admin_token(database_url: str) -> str:
    from hub.auth import TokenStore
    from hub.db import create_schema, make_engine

    engine = make_engine(database_url)
    create_schema(engine)
    token = TokenStore(engine).create("admin", "demo")
    engine.dispose()
    return token
