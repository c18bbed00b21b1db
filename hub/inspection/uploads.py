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
BLOCK = 256 * 1024
"""Most bytes taken from the request at a time, written and hashed as they come: the body comes
off TLS in pieces of up to 256 KB, and a piece is written to the page cache and added to the
running hash in well under a millisecond (both release the GIL)."""


def parse_metadata(header: str) -> dict[str, str]:
    """The key-value pairs of a tus Upload-Metadata header (values in base64)."""
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
    """``sha`` when it is a SHA-256 in lower-case hex, so it can name a file safely."""
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
        """Where a whole, checked photo lives (it may not exist yet); InspectionError unless ``sha``
        is a SHA-256 in lower-case hex, so a request cannot name a path outside the folder."""
        return self.folder / check_sha(sha)

    def part(self, sha: str) -> Path | None:
        """The part file of an upload in progress, or None when there is none."""
        found = sorted(self.partial.glob(check_sha(sha) + ".*.part"))
        return found[0] if found else None

    def state(self, sha: str) -> tuple[int, int, bool] | None:
        """(offset, length, complete), or None when unknown."""
        found = self._find(sha)
        return None if found is None else (found[0], found[1], found[2] is None)

    def _find(self, sha: str) -> tuple[int, int, Path | None] | None:
        """(offset, length, the part file or None once whole), or None when unknown."""
        try:
            size = self.path(sha).stat().st_size
        except FileNotFoundError:
            pass
        else:
            return size, size, None
        part = self.part(sha)
        if part is None:
            return None
        return part.stat().st_size, int(part.name.split(".")[1]), part

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

    def create(self, sha: str, length: int) -> tuple[int, int, Path | None]:
        """Make the upload unless the hub has it: (offset, length, part file or None once
        whole), as :meth:`_find`."""
        if not 0 < length <= MAX_PHOTO:
            raise InspectionError(f"Upload-Length must be 1..{MAX_PHOTO} bytes")
        found = self._find(sha)
        if found is not None:
            if found[1] != length:
                raise InspectionError(f"upload {sha} exists with length {found[1]}, not {length}")
            return found
        part = self.partial / f"{sha}.{length}.part"
        part.touch()
        self.counters["uploads_created"] += 1
        return 0, length, part

    def complete(self, sha: str) -> bool:
        """True when the photo is held whole and matches its hash."""
        return self.path(sha).exists()

    def finish(self, sha: str, got: str, part: Path | None = None) -> bool:
        """The last byte is in and hashes to ``got``: keep the file or drop the upload."""
        part = part or self.part(sha)
        assert part is not None  # noqa: S101 - narrowing: only called for an upload that has begun
        if got != sha:
            part.unlink(missing_ok=True)
            self.counters["hash_mismatch"] += 1
            return False
        os.replace(part, self.path(sha))  # made durable by sync_folder() before any ack
        return True

    def sync_folder(self) -> None:
        """Fsync the folder so every rename to a whole photo survives a power cut. Called once per
        batch of records, before they (and so their photos) are acknowledged."""
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    async def head(self, sha: str) -> web.Response:
        """The tus HEAD answer: the upload's offset and length, or 404 when the hub has no such
        upload."""
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
        """The tus PATCH answer: append the body at its ``Upload-Offset``. A wrong content type
        (415), an offset that is not the hub's (409), an unknown upload (404) or a whole that does
        not hash to ``sha`` (460) is raised as UploadRefused with the offset to resume from."""
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

        Each piece is written to the part file and added to the running hash as it comes off
        the connection, on the event loop, as a plain upload handler writes: a piece of up to
        BLOCK takes a fraction of a millisecond, with the GIL released for the write and the
        hash. The writes and the hashing went to worker threads before (four calls per 2 MB
        photo), each call a hand-over of the GIL and a wake-up of the loop in the photo's round
        trip; the one thread call left is the end of a whole upload (fsync, hash check, rename),
        as the fsync blocks for milliseconds. ``create``: the Upload-Length of an upload made by
        this request (creation-with-upload). A cut connection leaves every byte read written,
        and the running hash kept for the next append."""
        lock = self.locks.setdefault(sha, asyncio.Lock())
        async with lock:
            # a stat, a listing of the few partial uploads and, for a new upload, its creation:
            # metadata calls of microseconds, made on the loop like the plain handler's open
            found = self.create(sha, create) if create is not None else self._find(sha)
            if found is None:
                return 404, 0
            offset, length, part = found
            if part is None or claimed != offset:
                return 409, offset
            held = self.hashers.pop(sha, None)
            if held is not None and held[0] == offset:
                digest = held[1]
            elif offset:  # the running hash was lost (a restart): taken again from the part
                digest = await asyncio.to_thread(self._hash_part, part)
            else:
                digest = hashlib.sha256()
            fh = part.open("ab")
            try:
                async for piece in request.content.iter_chunked(BLOCK):
                    if offset + len(piece) > length:
                        raise InspectionError("the body goes past Upload-Length")
                    fh.write(piece)
                    digest.update(piece)
                    offset += len(piece)
                    self.counters["bytes_received"] += len(piece)
            except BaseException:
                # a cut: every byte read is written; the next append goes on from here
                fh.close()
                self.hashers[sha] = (offset, digest)
                raise
            if offset < length:
                fh.close()
                self.hashers[sha] = (offset, digest)
                return 204, offset
            return await asyncio.to_thread(self._seal, sha, part, fh, digest, offset)

    def _seal(self, sha: str, part: Path, fh: Any, digest: Any, offset: int) -> tuple[int, int]:
        """The last byte is in: fsync and close the part file, and keep it under its address
        only if it hashes to it: (204, offset), or (460, 0) with the upload dropped. Durable
        once whole (fsync, then the rename, whose folder is fsync'd before any record naming
        the photo is acknowledged); a partial upload lost to a power cut is sent again, and any
        bytes it lost or garbled fail the hash check."""
        try:
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fh.close()
        if not self.finish(sha, digest.hexdigest(), part):
            return 460, 0
        return 204, offset

    def _hash_part(self, part: Path) -> Any:
        digest = hashlib.sha256()
        with part.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest
