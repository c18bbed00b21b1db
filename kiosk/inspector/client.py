"""The agent's local device API as the inspector app uses it (HTTP on loopback, bearer token)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from govedge.errors import GovedgeError


class ApiError(GovedgeError):
    """The local API refused or could not be reached (status 0: not reached)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class LocalApiClient:
    """A client of the agent's local HTTP API, with its bearer token."""

    def __init__(self, url: str, token: str, timeout_s: float = 8.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    @classmethod
    def from_files(cls, url: str, token_file: str | Path) -> LocalApiClient:
        """A client with the token the agent wrote to ``token_file`` (fresh at each agent start)."""
        return cls(url, Path(token_file).read_text().strip())

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One JSON request; ``ApiError`` with the status and the agent's message when it fails."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the agent's local API URL from the terminal's config
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:  # noqa: S310 - the agent's local API URL from the terminal's config
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                message = str(exc.reason)
            raise ApiError(exc.code, str(message)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ApiError(0, f"the device service does not answer: {exc}") from None

    def tasks(self) -> dict[str, Any]:
        """The tasks as last fetched from the hub (``items``) and the state changes not yet sent."""
        return dict(self.call("GET", "/v1/inspection/tasks"))

    def fix(self) -> dict[str, Any]:
        """The GNSS fix of now: ``fix`` (bool), ``detail``, and the position when there is one."""
        return dict(self.call("GET", "/v1/gnss/fix"))

    def status(self) -> dict[str, Any]:
        """The evidence store's counts (``pending_records``...) and the outcome of the last sync."""
        return dict(self.call("GET", "/v1/evidence/status"))

    def task_records(self, task_id: str) -> list[dict[str, Any]]:
        """The evidence recorded for a task, so answers survive an app restart."""
        return list(self.call("GET", f"/v1/evidence/task/{task_id}")["items"])

    def record(self, **body: Any) -> dict[str, Any]:
        """Record one answer as evidence (photo, fix and time added and signed by the agent)."""
        return dict(self.call("POST", "/v1/evidence", body))

    def set_state(self, task_id: str, state: str) -> None:
        """Queue a task's new state (``accepted``, ``in_progress``, ``submitted``) for the hub."""
        self.call("POST", f"/v1/inspection/tasks/{task_id}/state", {"state": state})

    def sync(self) -> None:
        """Ask the agent to sync with the hub now; returns at once, ``status`` tells the outcome."""
        self.call("POST", "/v1/evidence/sync", {})
