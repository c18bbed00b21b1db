"""Photo uploads by the tus 1.0 core protocol, each addressed by the photo's SHA-256.

Creation (``POST /uploads`` with ``Upload-Length`` and ``Upload-Metadata: sha256 <base64>``)
answers ``Location: .../uploads/<sha256>``; ``HEAD`` gives the offset the hub holds; ``PATCH``
appends from that offset. Bytes are written as they arrive, so a connection cut mid-PATCH leaves
what came, and the next HEAD says where to go on. When the last byte is in, the file's SHA-256
must equal its address, or the upload is dropped with 460 (the tus checksum extension's code).

Written here rather than taken from aiohttp-tus (1.1.0, last released 2022): that library keeps
uploads under its own ids and its own auth hook, not addressed by content nor tied to a device
certificate, and does not check content against a hash. The protocol is small; tuspy, the tus
client, is run against this server in the tests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from pathlib import Path

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.engine import Engine

from hub.inspection.db import uploads
from hub.inspection.errors import InspectionError

TUS_VERSION = "1.0.0"
MAX_PHOTO = 32 * 1024 * 1024
TUS_HEADERS = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}


def parse_metadata(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in header.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, value = pair.partition(" ")
        try:
            out[key] = base64.b64decode(value, validate=True).decode() if value else ""
        except ValueError:
            raise InspectionError(f"Upload-Metadata {key!r} is not base64") from None
    return out


def check_sha(sha: str) -> str:
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise InspectionError(f"{sha[:80]!r} is not a SHA-256 in lower-case hex")
    return sha


class PhotoStore:
    """Upload state in the database, bytes in ``folder/<sha256>`` (``.part`` while partial)."""

    def __init__(self, engine: Engine, folder: Path) -> None:
        self.engine = engine
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.locks: dict[str, asyncio.Lock] = {}
        self.counters = {"uploads_created": 0, "bytes_received": 0, "hash_mismatch": 0}

    def path(self, sha: str) -> Path:
        return self.folder / check_sha(sha)

    def part(self, sha: str) -> Path:
        return self.folder / (check_sha(sha) + ".part")

    def state(self, sha: str) -> tuple[int, int, bool] | None:
        """(offset, length, complete), or None when unknown."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(uploads).where(uploads.c.sha256 == sha)).first()
        if row is None:
            return None
        if row.complete:
            return row.length, row.length, True
        part = self.part(sha)
        return (part.stat().st_size if part.exists() else 0), row.length, False

    def create(self, sha: str, length: int, device_id: str) -> None:
        if not 0 < length <= MAX_PHOTO:
            raise InspectionError(f"Upload-Length must be 1..{MAX_PHOTO} bytes")
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(uploads).where(uploads.c.sha256 == sha)).first()
            if row is not None:
                if row.length != length:
                    raise InspectionError(
                        f"upload {sha} exists with length {row.length}, not {length}"
                    )
                return
            conn.execute(
                uploads.insert().values(
                    sha256=sha,
                    length=length,
                    complete=False,
                    device_id=device_id,
                    created=time.time(),
                )
            )
        self.part(sha).touch()
        self.counters["uploads_created"] += 1

    def complete(self, sha: str) -> bool:
        """True when the photo is held whole and matches its hash."""
        state = self.state(sha)
        return state is not None and state[2]

    def finish(self, sha: str) -> bool:
        """The last byte is in: check the hash; keep the file or drop the upload."""
        part = self.part(sha)
        digest = hashlib.sha256()
        with part.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != sha:
            part.unlink(missing_ok=True)
            with self.engine.begin() as conn:
                conn.execute(uploads.delete().where(uploads.c.sha256 == sha))
            self.counters["hash_mismatch"] += 1
            return False
        os.replace(part, self.path(sha))
        with self.engine.begin() as conn:
            conn.execute(uploads.update().where(uploads.c.sha256 == sha).values(complete=True))
        return True

    async def head(self, sha: str) -> web.Response:
        state = await asyncio.to_thread(self.state, check_sha(sha))
        if state is None:
            return web.Response(status=404, headers=TUS_HEADERS)
        offset, length, _ = state
        return web.Response(
            status=200,
            headers={**TUS_HEADERS, "Upload-Offset": str(offset), "Upload-Length": str(length)},
        )

    async def patch(self, sha: str, request: web.Request) -> web.Response:
        check_sha(sha)
        if request.headers.get("Content-Type") != "application/offset+octet-stream":
            return web.Response(status=415, headers=TUS_HEADERS)
        lock = self.locks.setdefault(sha, asyncio.Lock())
        async with lock:
            state = await asyncio.to_thread(self.state, sha)
            if state is None:
                return web.Response(status=404, headers=TUS_HEADERS)
            offset, length, complete = state
            try:
                claimed = int(request.headers.get("Upload-Offset", ""))
            except ValueError:
                raise InspectionError("Upload-Offset must be an integer") from None
            if complete or claimed != offset:
                return web.Response(
                    status=409, headers={**TUS_HEADERS, "Upload-Offset": str(offset)}
                )
            with self.part(sha).open("ab") as fh:
                try:
                    async for block in request.content.iter_chunked(256 * 1024):
                        if offset + len(block) > length:
                            raise InspectionError("PATCH goes past Upload-Length")
                        fh.write(block)
                        offset += len(block)
                        self.counters["bytes_received"] += len(block)
                finally:
                    fh.flush()
                    os.fsync(fh.fileno())
            if offset == length and not await asyncio.to_thread(self.finish, sha):
                return web.Response(
                    status=460,
                    text=f"the bytes received do not hash to {sha}",
                    headers=TUS_HEADERS,
                )
        return web.Response(status=204, headers={**TUS_HEADERS, "Upload-Offset": str(offset)})
