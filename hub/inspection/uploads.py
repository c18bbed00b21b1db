"""Photo uploads by the tus 1.0 core protocol, each addressed by the photo's SHA-256.

Creation (``POST /uploads``, ``Upload-Length`` and ``Upload-Metadata: sha256 <base64>``,
and with the creation-with-upload extension the first bytes in the same request) answers
``Location: .../uploads/<sha256>`` and ``Upload-Offset``; ``HEAD`` gives the offset the hub
holds; ``PATCH`` appends from that offset. Bytes are written as they arrive, so a connection
cut mid-PATCH leaves what came, and the next HEAD says where to go on. The SHA-256 is taken as
the bytes arrive; when the last is in it must equal the upload's address, or the upload is
dropped with 460 (the tus checksum extension's code). Beside tus, ``offsets`` answers for many
photos at once what the hub holds of each, so a terminal with hundreds of photos waiting asks
once rather than once a photo.

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
from pathlib import Path
from typing import Any

from aiohttp import web

from hub.inspection.errors import InspectionError, UploadRefused

TUS_VERSION = "1.0.0"
MAX_PHOTO = 32 * 1024 * 1024
TUS_HEADERS = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}
REFUSALS = {
    404: "no upload {sha}: create it first",
    409: "the upload {sha} is at offset {offset}: resume from there",
    460: "the bytes received do not hash to {sha}",
}
BLOCK = 1024 * 1024
"""Most bytes taken from the request per write: the body arrives as fast as TLS decrypts it."""


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
    """Uploads as files: ``partial/<sha256>.<length>.part`` while partial, ``<sha256>`` once
    whole and checked. The file system is the upload state (no database write per photo): the
    part file's size is the offset, its name the promised length, and a rename makes it whole.
    Partial uploads have a folder of their own, so finding one lists only the few in progress,
    never the hub's every photo."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.partial = folder / "partial"
        self.partial.mkdir(parents=True, exist_ok=True)
        self.locks: dict[str, asyncio.Lock] = {}
        self.hashers: dict[str, tuple[int, Any]] = {}  # sha -> (offset, running SHA-256)
        self.counters = {"uploads_created": 0, "bytes_received": 0, "hash_mismatch": 0}

    def path(self, sha: str) -> Path:
        return self.folder / check_sha(sha)

    def part(self, sha: str) -> Path | None:
        found = sorted(self.partial.glob(check_sha(sha) + ".*.part"))
        return found[0] if found else None

    def state(self, sha: str) -> tuple[int, int, bool] | None:
        """(offset, length, complete), or None when unknown."""
        try:
            size = self.path(sha).stat().st_size
        except FileNotFoundError:
            pass
        else:
            return size, size, True
        part = self.part(sha)
        if part is None:
            return None
        return part.stat().st_size, int(part.name.split(".")[1]), False

    def offsets(self, shas: list[str]) -> dict[str, dict[str, int]]:
        """What the hub holds of each upload it knows: {sha: {"offset", "length"}}. The partial
        folder is listed once for all of them, not searched once a photo."""
        parts: dict[str, Path] = {}
        with os.scandir(self.partial) as entries:
            for entry in entries:
                sha, _, rest = entry.name.partition(".")
                if rest.endswith(".part") and (sha not in parts or entry.name < parts[sha].name):
                    parts[sha] = Path(entry.path)
        out = {}
        for sha in shas:
            try:
                size = self.path(sha).stat().st_size
            except FileNotFoundError:
                part = parts.get(sha)
                if part is None:
                    continue
                try:
                    out[sha] = {
                        "offset": part.stat().st_size,
                        "length": int(part.name.split(".")[1]),
                    }
                except FileNotFoundError:  # made whole (or dropped) since the listing
                    state = self.state(sha)
                    if state is not None:
                        out[sha] = {"offset": state[0], "length": state[1]}
            else:
                out[sha] = {"offset": size, "length": size}
        return out

    def create(self, sha: str, length: int) -> None:
        if not 0 < length <= MAX_PHOTO:
            raise InspectionError(f"Upload-Length must be 1..{MAX_PHOTO} bytes")
        state = self.state(sha)
        if state is not None:
            if state[1] != length:
                raise InspectionError(f"upload {sha} exists with length {state[1]}, not {length}")
            return
        (self.partial / f"{sha}.{length}.part").touch()
        self.counters["uploads_created"] += 1

    def complete(self, sha: str) -> bool:
        """True when the photo is held whole and matches its hash."""
        return self.path(sha).exists()

    def finish(self, sha: str, got: str) -> bool:
        """The last byte is in and hashes to ``got``: keep the file or drop the upload."""
        part = self.part(sha)
        assert part is not None
        if got != sha:
            part.unlink(missing_ok=True)
            self.counters["hash_mismatch"] += 1
            return False
        os.replace(part, self.path(sha))  # made durable by sync_folder() before any ack
        return True

    def sync_folder(self) -> None:
        """fsync the folder: every rename to a whole photo survives a power cut. Called once per
        batch of records, before they (and so their photos) are acknowledged."""
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    async def head(self, sha: str) -> web.Response:
        state = await asyncio.to_thread(self.state, check_sha(sha))
        # an explicit empty length: aiohttp leaves it off a bodiless HEAD answer, and its client
        # then cannot reuse the connection (a new TLS handshake per photo)
        if state is None:
            return web.Response(status=404, headers={**TUS_HEADERS, "Content-Length": "0"})
        offset, length, _ = state
        return web.Response(
            status=200,
            headers={
                **TUS_HEADERS,
                "Upload-Offset": str(offset),
                "Upload-Length": str(length),
                "Content-Length": "0",
            },
        )

    async def patch(self, sha: str, request: web.Request) -> web.Response:
        check_sha(sha)
        if request.headers.get("Content-Type") != "application/offset+octet-stream":
            raise UploadRefused(
                "a tus PATCH is sent as application/offset+octet-stream", 415, TUS_HEADERS
            )
        try:
            claimed = int(request.headers.get("Upload-Offset", ""))
        except ValueError:
            raise InspectionError("Upload-Offset must be an integer") from None
        status, offset = await self.append(sha, request, claimed)
        headers = {**TUS_HEADERS, "Upload-Offset": str(offset)}
        if status >= 400:
            raise UploadRefused(REFUSALS[status].format(sha=sha, offset=offset), status, headers)
        return web.Response(status=status, headers=headers)

    async def append(
        self, sha: str, request: web.Request, claimed: int, create: int | None = None
    ) -> tuple[int, int]:
        """Append the body at ``claimed``: (204, new offset), (409, offset) when the offset is
        not the hub's, (404, 0) unknown, (460, 0) when the whole does not hash to ``sha``.

        The hash is taken as the bytes arrive, so finishing costs no second read. Each block is
        written and hashed in a worker thread while the event loop reads the next one (and the
        other photos in flight): the loop only moves bytes, and one thread call begins the
        append and one ends it. ``create``: the Upload-Length of an upload created by this
        request (creation-with-upload), made in the same thread call that begins the append."""
        lock = self.locks.setdefault(sha, asyncio.Lock())
        async with lock:
            begun = await asyncio.to_thread(self._begin, sha, claimed, create)
            if isinstance(begun[0], int):
                return begun[0], begun[1]
            fh, digest, offset, length = begun
            written = offset
            pending: asyncio.Future[None] | None = None
            try:
                async for block in request.content.iter_chunked(BLOCK):
                    if offset + len(block) > length:
                        raise InspectionError("the body goes past Upload-Length")
                    if pending is not None:
                        await pending
                        written = offset
                    pending = asyncio.ensure_future(
                        asyncio.to_thread(_write_and_hash, fh, digest, block)
                    )
                    offset += len(block)
                    self.counters["bytes_received"] += len(block)
                if pending is not None:
                    await pending
                    written = offset
            finally:
                if pending is not None and not pending.done():
                    # a cut mid-block: the block's write still finishes before the file closes
                    await asyncio.shield(pending)
                    written = offset
                self.hashers[sha] = (written, digest)
                done = written == length
                # durable once whole (fsync, then the rename to its address); a partial upload
                # lost to a power cut is re-sent, and any bytes it lost or garbled fail the
                # hash check
                matched = await asyncio.to_thread(self._end, sha, fh, digest, done)
            if done:
                self.hashers.pop(sha, None)
                if not matched:
                    return 460, 0
        return 204, written

    def _begin(self, sha: str, claimed: int, create: int | None = None) -> tuple[Any, ...]:
        """The upload's state checked against the claimed offset (created first when ``create``
        gives its length), its part file opened for appending and its running hash:
        (fh, digest, offset, length), or (status, offset)."""
        if create is not None:
            self.create(sha, create)
        state = self.state(sha)
        if state is None:
            return 404, 0
        offset, length, complete = state
        if complete or claimed != offset:
            return 409, offset
        hasher = self.hashers.get(sha)
        if hasher is None or hasher[0] != offset:
            hasher = (offset, self._hash_part(sha) if offset else hashlib.sha256())
        part = self.part(sha)
        assert part is not None
        return part.open("ab"), hasher[1], offset, length

    def _end(self, sha: str, fh: Any, digest: Any, whole: bool) -> bool:
        """Close the part file; once whole, fsync it and keep it only if it hashes to ``sha``."""
        try:
            fh.flush()
            if whole:
                os.fsync(fh.fileno())
        finally:
            fh.close()
        return self.finish(sha, digest.hexdigest()) if whole else False

    def _hash_part(self, sha: str) -> Any:
        digest = hashlib.sha256()
        part = self.part(sha)
        if part is not None:
            with part.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        return digest


def _write_and_hash(fh: Any, digest: Any, block: bytes) -> None:
    """Write a block and add it to the running hash (both release the GIL: a worker's job)."""
    fh.write(block)
    digest.update(block)
