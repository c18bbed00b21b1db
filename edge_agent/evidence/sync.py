"""Sync of the evidence store to the hub over HTTPS with the device certificate.

Photos go by the tus 1.0 core protocol (creation, HEAD for the offset, PATCH to append) at
``/api/v1/inspection/uploads/<sha256>``: the upload's address is the photo's hash, so after a
dropped connection the next attempt learns how many bytes the hub holds and sends only the rest.
One request first asks the hub what it holds of every waiting photo (``uploads/offsets``), so a
photo costs one request, its creation with all its bytes, and a resumed one a PATCH of the rest.
Then the records, oldest first, in batches that go while later photos are still travelling:
each once its first FIRST records' photos are in, with every following record whose photo is in
(so the last is small and the sync ends soon after the last photo). The hub answers with the
last seq it holds (``acked_through``) and, when it refused one, the first bad record and why.
Records stay in the store until acknowledged.

The client is a small aiohttp one rather than tuspy: tuspy 1.1 checks the server's certificate
only against the system's CA bundle (``verify_tls_cert`` is a bool in its PATCH path) so it
cannot trust the fleet CA without a process-wide environment variable, and its requests calls
would block the agent's event loop. The protocol is the same; tests drive the hub's server with
tuspy too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from edge_agent.evidence.store import EvidenceError, EvidenceStore
from govedge.logs import fields, get_logger

log = get_logger(__name__)

TUS_VERSION = "1.0.0"
CHUNK = 8 * 1024 * 1024
"""Most bytes per request: a photo in one. A cut costs no more with a larger request, since the
hub writes every byte as it reads it and a HEAD (or ``uploads/offsets``) says where it stopped;
only what was still in the network's buffers is sent again."""
PIECE = 256 * 1024
"""Bytes of a request's body handed to the connection at a time. A photo given to aiohttp whole
is encrypted whole, read whole out of TLS's buffer into a new 2 MB string and copied again into
the socket's backlog, all on the loop with the GIL held; handed over in pieces (views, no copy)
with the connection drained between them, each piece goes out as it is encrypted."""
BATCH = 100
"""Most records per POST."""
FIRST = 25
"""Records a POST waits for (their photos in) before it goes, unless fewer are left: each POST
then takes every following record whose photo is in, up to BATCH. The last POST, sent once the
last photo is in, so carries only the few that finished during the one before it, and the
sync's tail (the hub's checks, the terminal's acknowledgement dropping those photos) is short."""
PARALLEL = 4
"""Photos in flight at once: the hub's fsync of one overlaps the transfer of the next."""
UPLOADS = "/api/v1/inspection/uploads"
OFFSETS = "/api/v1/inspection/uploads/offsets"
RECORDS = "/api/v1/inspection/evidence"
TASKS = "/api/v1/inspection/device/tasks"


class SyncError(EvidenceError):
    """The hub did not take what was sent (status and its words)."""


@dataclass(slots=True)
class SyncReport:
    """What one evidence sync sent and what the hub answered."""

    photos_sent: int = 0
    bytes_sent: int = 0
    bytes_resumed: int = 0  # bytes the hub already held when an upload was resumed
    acked_through: int = 0
    refused: dict[str, Any] | None = None
    tasks: list[dict[str, Any]] = field(default_factory=list)


def device_tls(ca_file: str | Path, cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    """A client context trusting the fleet CA and presenting the device certificate."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


class EvidenceSync:
    """One terminal's uploads to one hub."""

    def __init__(
        self,
        store: EvidenceStore,
        hub_url: str,
        tls: ssl.SSLContext | None,
        *,
        chunk_size: int = CHUNK,
        parallel: int = PARALLEL,
    ) -> None:
        self.store = store
        self.hub_url = hub_url.rstrip("/")
        self.tls: ssl.SSLContext | bool = tls if tls is not None else True  # True: system CAs
        self.chunk_size = chunk_size
        self.parallel = parallel
        self.last_contact: float | None = None  # time.monotonic() of the hub's last answer
        self.last_report: SyncReport | None = None

    def since_contact(self) -> float | None:
        """Seconds since the hub last answered (monotonic clock), or None before its first
        answer in this run."""
        return None if self.last_contact is None else time.monotonic() - self.last_contact

    def _contact(self) -> None:
        self.last_contact = time.monotonic()

    async def sync_once(self, session: aiohttp.ClientSession) -> SyncReport:
        """Fetch the tasks, upload pending photos and records; raises on link loss."""
        report = SyncReport()
        report.tasks = await self.fetch_tasks(session)
        await self._send_states(session)
        pending = await asyncio.to_thread(self.store.pending)
        shas = list(dict.fromkeys(r.photo_sha256 for r in pending if r.photo_sha256))
        held = await self.held(session, shas)
        gate = asyncio.Semaphore(self.parallel)

        async def one(sha: str) -> None:
            async with gate:
                try:
                    await self.upload_photo(session, sha, report, held.get(sha))
                except SyncError as exc:  # a refused photo: its record is refused by name
                    log.warning("photo_refused", extra=fields(sha256=sha, reason=str(exc)))

        # every upload starts now, in record order (the gate lets PARALLEL through); each batch
        # of records waits only for its own photos (FIRST of them, then those already in)
        uploads = {sha: asyncio.ensure_future(one(sha)) for sha in shas}
        # acknowledged photos are dropped beside the next requests, one batch after the other
        dropping: asyncio.Future[int] | None = None

        async def drop(after: asyncio.Future[int] | None, photos: list[str]) -> int:
            if after is not None:
                await asyncio.gather(after, return_exceptions=True)
            return await asyncio.to_thread(self.store.drop_photos, photos)

        try:
            start = 0
            while start < len(pending):
                first = pending[start : start + min(FIRST, BATCH)]
                await asyncio.gather(*(uploads[r.photo_sha256] for r in first if r.photo_sha256))
                end = start + len(first)
                while end < min(len(pending), start + BATCH) and _sent(
                    uploads.get(pending[end].photo_sha256)
                ):
                    end += 1
                batch = pending[start:end]
                start = end
                answer = await self._post_records(session, batch)
                report.acked_through = int(answer.get("acked_through") or 0)
                if report.acked_through:
                    _, acked_photos = await asyncio.to_thread(
                        self.store.mark_acknowledged, report.acked_through
                    )
                    dropping = asyncio.ensure_future(drop(dropping, acked_photos))
                if answer.get("refused"):
                    report.refused = answer["refused"]
                    self.store.set_meta("last_refusal", str(answer["refused"]))
                    log.warning("evidence_refused", extra=fields(**answer["refused"]))
                    break
        finally:
            for task in uploads.values():
                task.cancel()
            await asyncio.gather(*uploads.values(), return_exceptions=True)
            if dropping is not None:  # the sync ends with its acknowledged photos gone
                await dropping
        self.last_report = report
        return report

    async def fetch_tasks(self, session: aiohttp.ClientSession) -> list[dict[str, Any]]:
        """Fetch the tasks from the hub and keep them for offline use; SyncError for any
        answer but 200."""
        async with session.get(self.hub_url + TASKS, ssl=self.tls) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200:
                raise SyncError(f"GET tasks: HTTP {resp.status}: {body}")
        self._contact()
        self.store.set_meta("tasks", json.dumps(body["items"], ensure_ascii=False))
        return list(body["items"])

    async def _send_states(self, session: aiohttp.ClientSession) -> None:
        raw = self.store.get_meta("task_states")
        states: dict[str, str] = json.loads(raw) if raw else {}
        for task_id, state in list(states.items()):
            url = f"{self.hub_url}{TASKS}/{task_id}/state"
            async with session.post(url, json={"state": state}, ssl=self.tls) as resp:
                if resp.status in (404, 409):  # gone, or moved on at the hub: not retried
                    log.warning(
                        "task_state_refused",
                        extra=fields(task=task_id, state=state, status=resp.status),
                    )
                elif resp.status != 200:
                    raise SyncError(f"task {task_id} state: HTTP {resp.status}")
            states.pop(task_id)
            self.store.set_meta("task_states", json.dumps(states))

    async def held(self, session: aiohttp.ClientSession, shas: list[str]) -> dict[str, int]:
        """What the hub holds of each photo it knows, in one request: {sha: offset}."""
        if not shas:
            return {}
        async with session.post(
            self.hub_url + OFFSETS, json={"sha256": shas}, ssl=self.tls
        ) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200:
                raise SyncError(f"POST upload offsets: HTTP {resp.status}: {body}")
        self._contact()
        return {sha: int(up["offset"]) for sha, up in body["uploads"].items()}

    async def _offset(self, session: aiohttp.ClientSession, sha: str) -> int | None:
        headers = {"Tus-Resumable": TUS_VERSION}
        async with session.head(
            f"{self.hub_url}{UPLOADS}/{sha}", headers=headers, ssl=self.tls
        ) as r:
            if r.status == 404:
                return None
            if r.status != 200:
                raise SyncError(f"HEAD upload {sha}: HTTP {r.status}")
            return int(r.headers["Upload-Offset"])

    async def upload_photo(
        self,
        session: aiohttp.ClientSession,
        sha: str,
        report: SyncReport,
        offset: int | None = None,
    ) -> None:
        """Send one photo from ``offset`` (what the hub holds; None: nothing, so create the
        upload with the first bytes). An offset the hub does not agree with (409) is asked for
        again by HEAD and the upload goes on from there."""
        path = self.store.photo_path(sha)
        size = path.stat().st_size
        if offset is not None and offset >= size:  # held whole already (an answer lost before)
            report.bytes_resumed += size
            return
        url = f"{self.hub_url}{UPLOADS}/{sha}"
        with path.open("rb") as fh:
            if offset is None:
                chunk = await asyncio.to_thread(fh.read, min(self.chunk_size, size))
                headers = {
                    "Tus-Resumable": TUS_VERSION,
                    "Upload-Length": str(size),
                    "Upload-Metadata": "sha256 " + base64.b64encode(sha.encode()).decode(),
                    "Content-Type": "application/offset+octet-stream",
                    "Content-Length": str(len(chunk)),
                }
                async with session.post(
                    self.hub_url + UPLOADS, data=_pieces(chunk), headers=headers, ssl=self.tls
                ) as r:
                    if r.status != 201:
                        raise SyncError(f"create upload {sha}: HTTP {r.status}: {await r.text()}")
                    offset = int(r.headers.get("Upload-Offset", "0"))
                report.bytes_sent += len(chunk)
            elif offset:
                report.bytes_resumed += offset
            self._contact()
            conflicts = 0
            while offset < size:
                fh.seek(offset)
                chunk = await asyncio.to_thread(fh.read, min(self.chunk_size, size - offset))
                headers = {
                    "Tus-Resumable": TUS_VERSION,
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                    "Content-Length": str(len(chunk)),
                }
                async with session.patch(
                    url, data=_pieces(chunk), headers=headers, ssl=self.tls
                ) as r:
                    if r.status == 409 and conflicts < 3:  # the hub holds other than we thought
                        conflicts += 1
                        held = await self._offset(session, sha)
                        if held is None:
                            raise SyncError(f"upload {sha} is gone from the hub")
                        offset = held
                        continue
                    if r.status != 204:
                        raise SyncError(f"PATCH upload {sha}: HTTP {r.status}: {await r.text()}")
                    offset = int(r.headers["Upload-Offset"])
                report.bytes_sent += len(chunk)
        report.photos_sent += 1
        self._contact()

    async def _post_records(
        self, session: aiohttp.ClientSession, batch: list[Any]
    ) -> dict[str, Any]:
        payload = {
            "device_id": self.store.device_id,
            "records": [
                {"body": base64.b64encode(r.body).decode(), "sig": base64.b64encode(r.sig).decode()}
                for r in batch
            ],
        }
        async with session.post(self.hub_url + RECORDS, json=payload, ssl=self.tls) as resp:
            body: dict[str, Any] = await resp.json(content_type=None)
            if resp.status != 200:
                raise SyncError(f"POST evidence: HTTP {resp.status}: {body.get('error', body)}")
        self._contact()
        return body


async def _pieces(data: bytes) -> AsyncIterator[memoryview]:
    """``data`` in views of PIECE bytes: the body of an upload, sent with its Content-Length."""
    view = memoryview(data)
    for start in range(0, len(view), PIECE):
        yield view[start : start + PIECE]


def _sent(upload: asyncio.Future[None] | None) -> bool:
    """A record's photo is through (or it has none): its upload finished without an error."""
    if upload is None:
        return True
    return upload.done() and not upload.cancelled() and upload.exception() is None


def queue_task_state(store: EvidenceStore, task_id: str, state: str) -> None:
    """Remember a task's new state (accepted, in_progress, submitted) until the next sync."""
    raw = store.get_meta("task_states")
    states: dict[str, str] = json.loads(raw) if raw else {}
    states[task_id] = state
    store.set_meta("task_states", json.dumps(states))
