"""``govedge hub --workers N``: N hub worker processes of one configuration, kept running.

The workers share MQTT ingestion through an MQTT 5 shared subscription (docs/scale.md). Worker
``i`` (1..N) runs the same configuration with its own client id ``<client_id>-<i>``, its own
HTTP port ``http_port + i - 1`` and the group ``shared_group`` ("hub" when none is set).

The supervisor restarts a worker that exits, however it exits (``kill -9`` included), at once and
with the same client id: Mosquitto keeps a dead member's in-flight and queued QoS 1 messages in
its persistent session and hands them to no other member, only to the next client with that id
(docs/hub.md, "Several workers"). A worker that keeps dying soon after its start is restarted
after a growing pause instead, so a worker that cannot start (its database down) does not spin.
SIGTERM and SIGINT are passed on to every worker; the supervisor exits once they all have.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import msgspec

from govedge.errors import ConfigError
from govedge.logs import fields
from hub.settings import HubConfig

log = logging.getLogger("govedge.hub.workers")

DEFAULT_GROUP = "hub"
"""The shared subscription group of ``--workers N`` (N > 1) when the config sets none."""

STABLE_S = 10.0
"""A worker that ran this long before it exited is restarted at once, whatever came before."""

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
STOP_TIMEOUT_S = 30.0
"""After passing on a stop, how long the workers have before they are killed."""

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_WAITED = {signal.SIGCHLD, *_STOP_SIGNALS}
_SYSTEMD_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def check_workers(config: HubConfig, workers: int) -> None:
    """Refuse, with one line naming what to change, a configuration N workers cannot share.

    N > 1 needs MQTT 5 (on 3.1.1 there is no shared subscription: every worker would receive
    every message), a telemetry store other than SQLite (each SQLite store stages its batches in
    files beside the database that its own merger empties: two processes writing them lose
    rows), and N consecutive HTTP ports from ``http_port`` (one per worker, behind one proxy).
    """
    if workers < 1:
        raise ConfigError(f"--workers {workers}: give at least 1")
    if workers == 1:
        return
    if config.mqtt_version != "5":
        raise ConfigError(
            f"--workers {workers} needs MQTT 5 (mqtt_version is {config.mqtt_version!r}): "
            "without a shared subscription every worker would receive every message"
        )
    if config.telemetry_url.startswith("sqlite:"):
        raise ConfigError(
            f"--workers {workers} cannot share a SQLite telemetry store: several processes "
            "writing its staging files lose rows; use InfluxDB (telemetry_url influxdb://...), "
            "see docs/scale.md"
        )
    if config.http_port == 0:
        raise ConfigError(
            f"--workers {workers} needs a fixed http_port (worker i serves on http_port + i - 1)"
        )
    if config.http_port + workers - 1 > 65535:
        raise ConfigError(
            f"--workers {workers} from http_port {config.http_port} runs past port 65535"
        )


def worker_config(config: HubConfig, index: int, workers: int) -> HubConfig:
    """Worker ``index``'s (1..``workers``) configuration; with one worker, ``config`` itself."""
    if workers == 1:
        return config
    if not 1 <= index <= workers:
        raise ConfigError(f"worker {index} of {workers}: workers are numbered 1 to {workers}")
    return msgspec.structs.replace(
        config,
        client_id=f"{config.client_id}-{index}",
        shared_group=config.shared_group or DEFAULT_GROUP,
        http_port=config.http_port + index - 1,
    )


def restart_delay(failures: int) -> float:
    """The pause before restarting a worker that has exited ``failures`` times in a row, each
    within STABLE_S of its start: none the first time, then 0.5 s doubling up to 30 s."""
    if failures <= 1:
        return 0.0
    return min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2.0 ** (failures - 2))


def _libc() -> ctypes.CDLL | None:
    """The C library, for prctl (Linux); None where it cannot be loaded."""
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_PR_SET_PDEATHSIG = 1


def _child_setup(libc: ctypes.CDLL | None) -> Callable[[], None]:
    """What a worker does between fork and exec: take back the signals the supervisor blocks;
    leave the supervisor's process group (a Ctrl-C in a terminal reaches the workers once,
    passed on by the supervisor, not twice); and ask for SIGTERM when the supervisor dies
    (Linux), so that no worker is left behind."""

    def setup() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _WAITED)
        os.setpgid(0, 0)
        if libc is not None and sys.platform.startswith("linux"):
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return setup


def _describe(code: int) -> dict[str, object]:
    """An exit status as log fields: a code, or the signal that ended the process."""
    if code < 0:
        return {"signal": signal.Signals(-code).name}
    return {"exit_code": code}


@dataclass
class _Worker:
    index: int
    client_id: str
    http_port: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    starts: int = 0
    failures: int = 0  # exits in a row, each soon after its start
    due: float | None = 0.0  # when to (re)start it; None: not to be started


class Supervisor:
    """Starts the workers, restarts each one that exits, and stops them all on SIGTERM/SIGINT.

    ``command(i)`` is worker i's command line. Single-threaded on purpose: the signals it acts
    on (a child's exit, a stop) are blocked and taken with ``sigtimedwait``, so a worker's death
    is seen at once and no handler runs in the middle of a restart.
    """

    def __init__(
        self,
        command: Callable[[int], list[str]],
        configs: list[HubConfig],
        env: Mapping[str, str] | None = None,
        stop_timeout_s: float = STOP_TIMEOUT_S,
    ) -> None:
        self.command = command
        self.workers = [
            _Worker(i, c.client_id, c.http_port) for i, c in enumerate(configs, start=1)
        ]
        base = dict(os.environ if env is None else env)
        self.notify_socket = base.get("NOTIFY_SOCKET", "")
        self.watchdog_usec = base.get("WATCHDOG_USEC", "")
        # The workers are not the unit's main process: systemd would refuse their READY=1
        # (NotifyAccess=main); the supervisor speaks for them.
        self.env = {k: v for k, v in base.items() if k not in _SYSTEMD_ENV}
        self.stop_timeout_s = stop_timeout_s
        self.stopping: float | None = None  # when the stop began
        self._setup = _child_setup(_libc())

    def run(self) -> int:
        """Supervise until stopped; the exit status (0 once every worker has exited on a stop)."""
        signal.pthread_sigmask(signal.SIG_BLOCK, _WAITED)
        try:
            return self._loop()
        finally:
            for w in self.workers:
                if w.proc is not None and w.proc.poll() is None:
                    w.proc.kill()
                    w.proc.wait()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _WAITED)

    def _loop(self) -> int:
        ready = False
        ping_every = int(self.watchdog_usec) / 2e6 if self.watchdog_usec.isdigit() else None
        next_ping = 0.0
        while True:
            now = time.monotonic()
            self._start_due(now)
            if not ready:
                ready = True
                self._notify("READY=1")
            if ping_every and now >= next_ping:
                self._notify("WATCHDOG=1")
                next_ping = now + ping_every
            if self.stopping is not None:
                if all(w.proc is None for w in self.workers):
                    log.info("hub_workers_stopped", extra=fields(workers=len(self.workers)))
                    return 0
                if now - self.stopping > self.stop_timeout_s:
                    for w in self.workers:
                        if w.proc is not None:
                            w.proc.kill()
            info = signal.sigtimedwait(_WAITED, self._timeout(now, ping_every, next_ping))
            if info is not None and info.si_signo in _STOP_SIGNALS:
                self._stop(signal.Signals(info.si_signo))
            self._reap()

    def _timeout(self, now: float, ping_every: float | None, next_ping: float) -> float:
        times = [w.due for w in self.workers if w.due is not None and w.proc is None]
        if ping_every:
            times.append(next_ping)
        if self.stopping is not None:
            times.append(self.stopping + self.stop_timeout_s)
        wait = min((t - now for t in times), default=1.0)
        return min(1.0, max(0.001, wait))

    def _start_due(self, now: float) -> None:
        for w in self.workers:
            if w.proc is None and w.due is not None and w.due <= now and self.stopping is None:
                w.proc = subprocess.Popen(  # noqa: S603 - our own command line
                    self.command(w.index), env=self.env, preexec_fn=self._setup
                )
                w.started, w.due = now, None
                w.starts += 1
                log.info(
                    "hub_worker_started",
                    extra=fields(
                        worker=w.index,
                        pid=w.proc.pid,
                        client_id=w.client_id,
                        http_port=w.http_port,
                        restarts=w.starts - 1,
                    ),
                )

    def _reap(self) -> None:
        now = time.monotonic()
        for w in self.workers:
            if w.proc is None:
                continue
            code = w.proc.poll()
            if code is None:
                continue
            ran = now - w.started
            pid, w.proc = w.proc.pid, None
            w.failures = w.failures + 1 if ran < STABLE_S else 1
            how = _describe(code)
            if self.stopping is not None:
                log.info(
                    "hub_worker_exited",
                    extra=fields(worker=w.index, pid=pid, ran_s=round(ran, 1), **how),
                )
                continue
            delay = restart_delay(w.failures)
            w.due = now + delay
            log.warning(
                "hub_worker_exited",
                extra=fields(
                    worker=w.index,
                    pid=pid,
                    ran_s=round(ran, 1),
                    restart_in_s=delay,
                    failures_in_a_row=w.failures,
                    **how,
                ),
            )

    def _stop(self, signum: signal.Signals) -> None:
        if self.stopping is None:
            self.stopping = time.monotonic()
            log.info("hub_workers_stopping", extra=fields(signal=signum.name))
        self._notify("STOPPING=1")
        for w in self.workers:
            w.due = None
            if w.proc is not None and w.proc.poll() is None:
                w.proc.send_signal(signum)

    def _notify(self, message: str) -> None:
        if self.notify_socket:
            from hub.watchdog import notify

            notify(message, self.notify_socket)


def supervise(config: HubConfig, workers: int, command: Callable[[int], list[str]]) -> int:
    """Check ``config`` for ``workers`` processes, then run and keep them; the exit status."""
    check_workers(config, workers)
    configs = [worker_config(config, i, workers) for i in range(1, workers + 1)]
    log.info(
        "hub_workers_starting",
        extra=fields(
            workers=workers,
            shared_group=configs[0].shared_group,
            http_ports=f"{configs[0].http_port}-{configs[-1].http_port}",
        ),
    )
    return Supervisor(command, configs).run()
