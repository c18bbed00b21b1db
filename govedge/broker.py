"""Finding and running an MQTT broker: Mosquitto when installed, else the embedded amqtt.

Tests, the demo and the benchmarks start Mosquitto from its binary on a free loopback port with
a generated configuration. The embedded broker (amqtt, MQTT 3.1.1 only) serves a one-machine demo
where Mosquitto is not installed.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from govedge.errors import ConfigError, GovedgeError


class BrokerError(GovedgeError):
    """A broker could not be started or reached."""


@dataclass(frozen=True, slots=True)
class BrokerURL:
    """``mqtt://host:port`` or ``mqtts://host:port`` (TLS)."""

    host: str
    port: int
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerURL:
        """Parse ``mqtt://``/``mqtts://`` (or ``tcp://``/``ssl://``) URLs; the port defaults to
        1883, or 8883 with TLS. ConfigError naming the URL for another scheme or no host."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ConfigError(f"broker URL {url!r}: scheme must be mqtt:// or mqtts://")
        tls = parts.scheme in ("mqtts", "ssl")
        if not parts.hostname:
            raise ConfigError(f"broker URL {url!r} has no host")
        return cls(parts.hostname, parts.port or (8883 if tls else 1883), tls)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """True once something accepts TCP connections at host:port, False after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def mosquitto_binary() -> str | None:
    """Path of the mosquitto binary, if installed."""
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None
    )


def raise_nofile_limit(wanted: int = 65536) -> int:
    """Raise this process's open-file limit towards ``wanted``; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


class MosquittoBroker:
    """A Mosquitto process on a loopback port with a generated configuration."""

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        extra_config: str = "",
        workdir: str | Path | None = None,
        binary: str | None = None,
        defaults: bool = True,
    ) -> None:
        """``defaults`` False runs ``extra_config`` as the whole configuration (a generated
        mosquitto.conf, say), adding only where to log and, as root, ``user root``."""
        found = binary or mosquitto_binary()
        if not found:
            raise BrokerError("mosquitto is not installed (apt-get install mosquitto)")
        self.binary: str = found
        self.host = host
        self.port = port or free_port(host)
        self.extra_config = extra_config
        self.defaults = defaults
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="govedge-mosquitto-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``mqtt://host:port`` for clients of this broker."""
        return f"mqtt://{self.host}:{self.port}"

    def config_text(self) -> str:
        """The mosquitto.conf that :meth:`start` writes: the defaults (loopback listener,
        anonymous, no persistence, large queues) then ``extra_config``, or ``extra_config``
        alone when ``defaults`` is False."""
        if not self.defaults:
            return f"{self.extra_config}\nlog_dest file {self.workdir / 'mosquitto.log'}\n"
        if self.extra_config.lstrip().startswith("listener"):
            listener = ""  # the caller defines its own listener(s)
        else:
            listener = f"listener {self.port} {self.host}\nallow_anonymous true\n"
        return (
            "per_listener_settings false\n"
            f"{listener}"
            "persistence false\n"
            "max_queued_messages 1000000\n"
            "max_inflight_messages 1000\n"
            "set_tcp_nodelay true\n"
            "log_type error\nlog_type warning\n"
            f"log_dest file {self.workdir / 'mosquitto.log'}\n"
            f"{self.extra_config}\n"
        )

    def start(self, timeout: float = 10.0) -> None:
        """Write the configuration and start Mosquitto; return once it accepts connections.

        BrokerError with Mosquitto's own words and log when it does not listen within
        ``timeout`` seconds (the process is stopped then)."""
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config_text())
        if os.geteuid() == 0 and "user " not in self.extra_config:
            with conf.open("a") as handle:
                handle.write("user root\n")
        self.proc = subprocess.Popen(  # noqa: S603 - argv of the mosquitto binary, no shell
            [self.binary, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=lambda: raise_nofile_limit(1 << 17) and None,
        )
        if not wait_for_port(self.host, self.port, timeout):
            err = b""
            if self.proc.poll() is not None and self.proc.stderr is not None:
                err = self.proc.stderr.read()
            self.stop()
            log = self.workdir / "mosquitto.log"
            detail = err.decode(errors="replace") + (log.read_text() if log.exists() else "")
            raise BrokerError(
                f"mosquitto did not listen on {self.host}:{self.port}: {detail.strip()}"
            )

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash or power loss would."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> None:
        """Stop the process (SIGTERM, SIGKILL after 5 s); the working directory is kept, so a
        :meth:`start` runs the same broker again. Safe to call when not running."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def restart(self, timeout: float = 10.0) -> None:
        """Stop, then start again on the same port with the same configuration."""
        self.stop()
        self.start(timeout)

    def close(self) -> None:
        """Stop the process and remove the working directory if this broker made it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
