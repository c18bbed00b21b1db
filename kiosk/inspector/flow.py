"""The inspector's flow, free of Qt: what is on screen and what each touch does."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kiosk.inspector.client import ApiError, LocalApiClient

TASKS, TASK, SYNC = "tasks", "task", "sync"


@dataclass
class ItemAnswer:
    """An inspector's answer to one checklist item."""

    answer: str
    note: str
    seq: int
    fix: bool
    fix_detail: str
    photo: bool


@dataclass
class InspectorFlow:
    """The inspector app's state: screen, tasks, answers and messages, read from the agent."""

    api: LocalApiClient
    inspector_id: str
    screen: str = TASKS
    tasks: list[dict[str, Any]] = field(default_factory=list)
    pending_states: dict[str, str] = field(default_factory=dict)
    task_id: str = ""
    answers: dict[tuple[str, str], ItemAnswer] = field(default_factory=dict)
    fix: dict[str, Any] = field(default_factory=lambda: {"fix": False, "detail": "unknown"})
    status: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    error: str = ""
    sync_asked_at: float = 0.0

    # -- reads ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Tasks (as last fetched from the hub), fix and sync state; never raises."""
        try:
            got = self.api.tasks()
            self.tasks = [t for t in got["items"] if t["inspector_id"] == self.inspector_id]
            self.pending_states = dict(got.get("pending_states", {}))
            self.fix = self.api.fix()
            self.status = self.api.status()
            self.error = ""
        except ApiError as exc:
            self.error = str(exc)

    def poll(self) -> None:
        """Re-read the fix and sync state (on the timer); reports a sync asked for; never raises."""
        try:
            self.fix = self.api.fix()
            self.status = self.api.status()
            self.error = ""
        except ApiError as exc:
            self.error = str(exc)
            return
        last = self.status.get("last_sync") or {}
        if self.sync_asked_at and float(last.get("at", 0)) >= self.sync_asked_at:
            self.sync_asked_at = 0.0
            if last.get("ok"):
                self.message = "同步完成"
            else:
                reason = last.get("error") or (last.get("refused") or {}).get("reason", "")
                self.message = f"同步未完成：{reason}"

    @property
    def task(self) -> dict[str, Any] | None:
        """The open task, or None when none is open or it has left the task list."""
        return next((t for t in self.tasks if t["id"] == self.task_id), None)

    def state_of(self, task: dict[str, Any]) -> str:
        """The task's state, counting changes queued on this terminal but not yet at the hub."""
        state: str = self.pending_states.get(task["id"], task["state"])
        return state

    def done_items(self, task: dict[str, Any]) -> int:
        """How many of the task's checklist items have an answer recorded."""
        return sum(1 for item in task["checklist"] if (task["id"], item["id"]) in self.answers)

    def waiting(self) -> int:
        """How many records still wait to reach the hub."""
        return int(self.status.get("pending_records", 0))

    def online(self) -> bool:
        """Whether the last sync with the hub succeeded (False before any sync)."""
        last = self.status.get("last_sync") or {}
        return bool(last.get("ok"))

    # -- touches ----------------------------------------------------------------------------

    def open_task(self, task_id: str) -> None:
        """Show a task with the answers the agent holds for it; an assigned task is accepted."""
        self.task_id = task_id
        self.screen = TASK
        self.message = ""
        task = self.task
        try:  # answers recorded before (an app restart): the agent holds them
            for row in self.api.task_records(task_id):
                self.answers[(task_id, row["item_id"])] = ItemAnswer(
                    row["answer"], row["note"], int(row["seq"]), bool(row["fix"]), "", row["photo"]
                )
        except ApiError as exc:
            self.error = str(exc)
        if task is not None and self.state_of(task) == "assigned":
            self._state(task_id, "accepted")

    def back(self) -> None:
        """Return to the task list."""
        self.screen = TASKS
        self.message = ""

    def show_sync(self) -> None:
        """Show the sync screen."""
        self.screen = SYNC

    def answer(
        self, item_id: str, answer: str, note: str = "", photo: bool = True
    ) -> ItemAnswer | None:
        """One checklist answer with a photo, the fix of now and the time, signed by the agent."""
        task = self.task
        if task is None:
            return None
        try:
            out = self.api.record(
                task_id=task["id"],
                item_id=item_id,
                answer=answer,
                note=note,
                inspector_id=self.inspector_id,
                photo=photo,
            )
        except ApiError as exc:
            self.error = f"not recorded: {exc}"
            return None
        done = ItemAnswer(
            answer, note, int(out["seq"]), bool(out["fix"]), str(out["fix_detail"]), photo
        )
        self.answers[(task["id"], item_id)] = done
        self.message = f"已记录 #{done.seq}" + ("" if done.fix else " · 无定位：已如实标注")
        if self.state_of(task) in ("assigned", "accepted"):
            self._state(task["id"], "in_progress")
        self.poll()
        return done

    def submit(self) -> bool:
        """Queue the open task as submitted; False (with a message) while an item is unanswered."""
        task = self.task
        if task is None or self.done_items(task) < len(task["checklist"]):
            self.message = "还有检查项未完成"
            return False
        self._state(task["id"], "submitted")
        self.message = "已提交，等待同步"
        return True

    def sync_now(self) -> None:
        """Ask the agent to sync now; ``poll`` reports the outcome once the agent has tried."""
        try:
            self.sync_asked_at = time.time()
            self.api.sync()
            self.message = "正在同步…"
        except ApiError as exc:
            self.error = str(exc)

    def _state(self, task_id: str, state: str) -> None:
        try:
            self.api.set_state(task_id, state)
            self.pending_states[task_id] = state
        except ApiError as exc:
            self.error = str(exc)
