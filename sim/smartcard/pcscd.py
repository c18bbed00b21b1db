"""A private PC/SC stack: pcscd with the vpcd reader driver, started and stopped by us.

pcscd runs in the foreground (``pcscd -f``) with its own reader configuration directory
(``-c``), in new mount and network namespaces (see ``sim.smartcard.netns``): its socket,
/run/pcscd/pcscd.comm inside, is a file in our work directory outside, which clients reach by
setting PCSCLITE_CSOCK_NAME; vpcd's TCP ports exist only on that namespace's loopback, and the
simulated card connects from a thread that entered the namespace. So a system pcscd, or one left
over from another run, neither blocks nor sees this one, and no port is opened on the host. The
child gets SIGTERM when its parent dies, so a crashed run leaves no pcscd behind. Needs root
(CAP_SYS_ADMIN), pcscd and vsmartcard-vpcd.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sim.smartcard.errors import PcscStackError
from sim.smartcard.netns import isolate_child
from sim.smartcard.vpcd import DEFAULT_PORT

VPCD_LIBRARY_CANDIDATES = (
    "/usr/lib/pcsc/drivers/serial/libifdvpcd.so",
    "/usr/lib64/pcsc/drivers/serial/libifdvpcd.so",
    "/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so",
)
SLOTS = 2  # vpcd opens two reader slots, on port and port + 1
WORKDIR_PREFIX = "govedge-pcscd-"


def reap_stale_workdirs(root: Path | None = None) -> list[Path]:
    """Remove the work directories of SharedPcscd users that no longer run (a crashed run)."""
    removed = []
    for path in (root or Path(tempfile.gettempdir())).glob(f"{WORKDIR_PREFIX}*"):
        pid = path.name[len(WORKDIR_PREFIX) :]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def find_vpcd_library() -> str:
    """The vpcd reader driver's path; PcscStackError if vsmartcard-vpcd is not installed."""
    for path in VPCD_LIBRARY_CANDIDATES:
        if os.path.exists(path):
            return path
    raise PcscStackError("vpcd reader driver not found (install the package vsmartcard-vpcd)")


def reader_conf(port: int, library: str, name: str = "Virtual PCD") -> str:
    """A reader.conf.d entry for vpcd in server mode on ``port`` (Debian's, with its port)."""
    return (
        f'FRIENDLYNAME "{name}"\n'
        f"DEVICENAME   /dev/null:0x{port:04X}\n"
        f"LIBPATH      {library}\n"
        f"CHANNELID    0x{port:04X}\n"
    )


class PrivatePcscd:
    """One private pcscd with vpcd; ``reader_names[i]`` is the slot on ``vpcd_port + i``."""

    def __init__(
        self,
        workdir: Path | None = None,
        vpcd_port: int = DEFAULT_PORT,
        remove_workdir: bool | None = None,
    ) -> None:
        self._own_workdir = workdir is None if remove_workdir is None else remove_workdir
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=WORKDIR_PREFIX + "tmp-"))
        self.vpcd_port = vpcd_port
        self.run_dir = self.workdir / "run"
        self.conf_dir = self.workdir / "reader.conf.d"
        self.log_path = self.workdir / "pcscd.log"
        self.reader_names = [f"Virtual PCD 00 {i:02d}" for i in range(SLOTS)]
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> str:
        """The pcscd socket, for PCSCLITE_CSOCK_NAME."""
        return str(self.run_dir / "pcscd.comm")

    @property
    def pid(self) -> int:
        """The process id of pcscd; raises PcscStackError when it is not running."""
        if self._proc is None:
            raise PcscStackError("pcscd is not running")
        return self._proc.pid

    @property
    def netns(self) -> str:
        """The network namespace vpcd listens in (for VirtualCard and `sim smartcard --netns`)."""
        return f"/proc/{self.pid}/ns/net"

    def environ(self) -> dict[str, str]:
        """Environment that points a PC/SC client (pyscard, a subprocess) at this pcscd."""
        return {"PCSCLITE_CSOCK_NAME": self.socket_path}

    @property
    def running(self) -> bool:
        """Whether pcscd was started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> PrivatePcscd:
        """Start pcscd and wait until its socket accepts connections."""
        pcscd = shutil.which("pcscd") or next(
            (p for p in ("/usr/sbin/pcscd", "/sbin/pcscd") if os.path.exists(p)), None
        )
        if pcscd is None:
            raise PcscStackError("pcscd not found (install the package pcscd)")
        library = find_vpcd_library()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("pcscd.comm", "pcscd.pid"):
            with contextlib.suppress(FileNotFoundError):
                (self.run_dir / stale).unlink()
        (self.conf_dir / "vpcd").write_text(reader_conf(self.vpcd_port, library))
        run_dir = str(self.run_dir)
        error_path = self.workdir / "isolate-error"
        with contextlib.suppress(FileNotFoundError):
            error_path.unlink()
        with open(self.log_path, "ab") as log:
            try:
                self._proc = subprocess.Popen(  # noqa: S603 - argv of pcscd, no shell
                    [pcscd, "--foreground", "--config", str(self.conf_dir)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=lambda: isolate_child(run_dir, str(error_path)),
                    close_fds=True,
                )
            except (OSError, subprocess.SubprocessError) as exc:
                try:
                    reason = error_path.read_text().strip()
                except OSError:
                    reason = str(exc)
                self.close()
                raise PcscStackError(
                    f"cannot start pcscd in private namespaces ({reason}); this needs root with "
                    "CAP_SYS_ADMIN (a VM, or a container run with --privileged)"
                ) from exc
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                message = f"pcscd exited with {self._proc.returncode}: {self._tail()}"
                self.close()
                raise PcscStackError(message)
            if os.path.exists(self.socket_path):
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    try:
                        probe.connect(self.socket_path)
                        return
                    except OSError:
                        pass
            time.sleep(0.02)
        message = f"pcscd did not become ready in {timeout:g} s: {self._tail()}"
        self.close()
        raise PcscStackError(message)

    def _tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-3:])

    def stop(self) -> None:
        """Stop pcscd (SIGTERM, then SIGKILL); safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def close(self) -> None:
        """Stop pcscd and remove the work directory if this object made it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PrivatePcscd:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()


class SharedPcscd:
    """One private pcscd per process, shared by its users and stopped when the last leaves.

    The PC/SC client library reads PCSCLITE_CSOCK_NAME once per process, so every PC/SC user in
    a process must talk to the same pcscd; ``acquire`` starts it (and sets the variable) on first
    use, ``release`` stops it after the last user.
    """

    _stack: PrivatePcscd | None = None
    _users = 0

    @classmethod
    def workdir(cls) -> Path:
        """This process's work directory: the same socket path however often it restarts."""
        return Path(tempfile.gettempdir()) / f"{WORKDIR_PREFIX}{os.getpid()}"

    @classmethod
    def acquire(cls) -> PrivatePcscd:
        """The process's pcscd, started (and PCSCLITE_CSOCK_NAME set) on first use or after it
        died; pair every call with ``release``.
        """
        if cls._stack is None or not cls._stack.running:
            reap_stale_workdirs()
            stack = PrivatePcscd(workdir=cls.workdir(), remove_workdir=True).start()
            os.environ.update(stack.environ())
            cls._stack = stack
        cls._users += 1
        return cls._stack

    @classmethod
    def release(cls) -> None:
        """Leave the shared pcscd; the last user to leave stops it."""
        cls._users = max(0, cls._users - 1)
        if cls._users == 0 and cls._stack is not None:
            cls._stack.close()
            cls._stack = None
