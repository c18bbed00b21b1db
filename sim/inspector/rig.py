"""The simulated inspector terminal: a handheld's hardware on the wire and a REAL edge agent.

``InspectorRig`` starts a GNSS receiver simulator (NMEA 0183 on a pty, standing at the task's
street corner) and a camera (an MJPEG network camera showing a street scene), gives the
terminal a device identity (its own fleet CA unless one is given: the P-256 key that signs its
evidence), writes the device config and runs ``edge_agent`` with its local device API on
loopback in a thread of its own. ``rig.tunnel(True)`` loses the fix as in a tunnel.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from govedge.errors import GovedgeError
from provisioning.ca import FleetCA, IdentityPaths

DEAD_BROKER = "mqtts://127.0.0.1:1"
HOME = (31.2304, 121.4737)


class RigError(GovedgeError):
    """The inspector rig could not start."""


def street_scene(seed: int = 0) -> np.ndarray:
    """A 640x480 BGR picture: sky, a wall with a green exit sign, a door, some noise."""
    rng = np.random.default_rng(seed)
    img = np.zeros((480, 640, 3), np.uint8)
    img[:200] = (200, 160, 110)  # sky
    img[200:] = (90, 100, 110)  # wall
    img[260:440, 260:380] = (40, 50, 60)  # door
    img[215:245, 280:360] = (60, 170, 40)  # exit sign
    noise = rng.integers(0, 12, img.shape, dtype=np.uint8)
    out: np.ndarray = img + noise
    return out


class InspectorRig:
    """One simulated terminal; ``start()``/``stop()`` or a context manager."""

    def __init__(
        self,
        workdir: Path,
        *,
        device_id: str = "insp-sim-1",
        hub_url: str = "",
        ca: FleetCA | None = None,
        hub_ca_file: str = "",
    ) -> None:
        self.workdir = workdir
        self.device_id = device_id
        self.hub_url = hub_url
        self.ca = ca
        self.hub_ca_file = hub_ca_file
        self.sims: dict[str, Any] = {}
        self.agent: Any = None
        self.token = ""
        self.api_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready: Future[None] = Future()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> InspectorRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def tunnel(self, inside: bool) -> None:
        """Lose (True) or regain (False) the GNSS fix."""
        self.sims["gnss"].set_fix(0 if inside else 1)

    def start(self) -> InspectorRig:
        """Start the simulators and the terminal's agent; returns once every driver is online.

        Raises RigError (after stopping what started) when the drivers do not come online.
        """
        from sim.camera.mjpeg import MjpegCamera
        from sim.gnss import GnssSimulator
        from sim.gnss.track import Track

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sims["gnss"] = GnssSimulator(Track.still(*HOME), rate_hz=5.0).start()
        counter = iter(range(1 << 30))
        self.sims["camera"] = MjpegCamera(
            fps=5.0, source=lambda: street_scene(next(counter))
        ).start()
        if self.ca is None:
            self.ca = FleetCA.init(self.workdir / "ca")
        paths = self.ca.issue_device(self.device_id, model="inspector-h1").write(
            IdentityPaths(self.workdir / "identity")
        )
        config = self.device_config(paths)
        path = self.workdir / "device.json"
        path.write_text(json.dumps(config, indent=2))
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()
        try:
            self._ready.result(30)
        except Exception:
            self.stop()
            raise
        self.token = (self.workdir / "api.token").read_text().strip()
        self.api_url = self.agent.local_api.url
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            states = {n: s.state.value for n, s in self.agent.supervisors.items()}
            if all(v == "online" for v in states.values()):
                return self
            time.sleep(0.05)
        self.stop()
        raise RigError(f"the terminal's drivers did not come online: {states}")

    def device_config(self, paths: IdentityPaths) -> dict[str, Any]:
        """The terminal's device config: its simulators, identity ``paths`` and a broker that is
        never there (the terminal works offline).
        """
        return {
            "device_id": self.device_id,
            "model": "inspector-h1",
            "site": "sim-district",
            "state_dir": str(self.workdir / "state"),
            "broker": {
                "url": DEAD_BROKER,
                "reconnect_min_s": 1.0,
                "reconnect_max_s": 30.0,
                "tls": {
                    "ca_file": str(paths.ca),
                    "cert_file": str(paths.cert),
                    "key_file": str(paths.key),
                },
            },
            "drivers": [
                {
                    "name": "gnss",
                    "kind": "gnss",
                    "url": self.sims["gnss"].url,
                    "poll_interval_s": 1.0,
                    "backoff_max_s": 2.0,
                },
                {
                    "name": "camera",
                    "kind": "camera",
                    "url": self.sims["camera"].url,
                    "poll_interval_s": 2.0,
                    "backoff_max_s": 2.0,
                },
            ],
            "publish": {"health_interval_s": 60.0},
            "local_api": {
                "host": "127.0.0.1",
                "port": 0,
                "token_file": str(self.workdir / "api.token"),
            },
            "identity": {"hub_url": self.hub_url, "hub_ca_file": self.hub_ca_file},
        }

    def _run(self, config_path: Path) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(config_path))
        except BaseException as exc:  # noqa: BLE001 - any failure is handed to the thread waiting for the rig
            if not self._ready.done():
                self._ready.set_exception(RigError(f"the terminal's agent did not start: {exc}"))
        finally:
            loop.close()

    async def _main(self, config_path: Path) -> None:
        from edge_agent.runtime import build_agent

        self._stop = asyncio.Event()
        self.agent = await asyncio.to_thread(build_agent, config_path)
        task = asyncio.create_task(self.agent.run(self._stop))
        for _ in range(2000):
            api = self.agent.local_api
            if task.done() or (api is not None and api.runner is not None and api.url):
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()
        self._ready.set_result(None)
        await task

    def stop(self) -> None:
        """Stop the agent and wait up to 20 s for its thread; safe before start and twice."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:
                pass
        if self._thread is not None:
            self._thread.join(20)
            self._thread = None
        for sim in self.sims.values():
            (sim.stop if hasattr(sim, "stop") else sim.close)()
        self.sims.clear()
