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
from dataclasses import dataclass
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
BLOCK = 512 * 1024
"""Bytes gathered from the request before a worker thread writes and hashes them while the loop
reads the next: the body comes off TLS in pieces of 64 to 256 KB, and each thread call costs the
event loop a GIL hand-over; a larger block would leave more to write and hash after the last
byte, when the terminal is waiting for the answer."""


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

        The hash is taken as the bytes arrive, so finishing costs no second read. The body comes
        off TLS in pieces of 64 to 256 KB; they are gathered into blocks of BLOCK bytes and each
        block is written and hashed in a worker thread, the next block read meanwhile. A thread
        call costs the event loop a hand-over of the GIL, so an append makes as few as the
        body's size allows: the first call checks the upload's state (``create``: the
        Upload-Length of an upload made by this request, creation-with-upload), opens its part
        file and writes the first block, and the last writes the last bytes, then fsyncs,
        checks the hash and renames; a photo up to BLOCK takes one call in all. A cut
        connection still writes every byte that came before the part file is closed."""
        lock = self.locks.setdefault(sha, asyncio.Lock())
        async with lock:
            calls = _Calls()
            held: list[bytes] = []
            held_bytes = 0
            received = 0
            try:
                async for piece in request.content.iter_chunked(BLOCK):
                    upload = calls.upload
                    if (
                        upload is not None
                        and upload.offset + held_bytes + len(piece) > upload.length
                    ):
                        raise InspectionError("the body goes past Upload-Length")
                    held.append(piece)
                    held_bytes += len(piece)
                    received += len(piece)
                    self.counters["bytes_received"] += len(piece)
                    if held_bytes < BLOCK or received == request.content_length:
                        continue  # the last bytes go with the end
                    if calls.begun is None:
                        calls.begun = asyncio.ensure_future(
                            asyncio.to_thread(self._begin, sha, claimed, create, held, False)
                        )
                        held, held_bytes = [], 0
                        continue
                    refused = await calls.opened()
                    if refused is not None:
                        return refused
                    upload = calls.upload
                    assert upload is not None  # noqa: S101 - narrowing: not refused, so begun
                    if upload.offset + held_bytes < upload.length:
                        if calls.pending is not None:
                            await calls.pending
                        calls.pending = asyncio.ensure_future(
                            asyncio.to_thread(_write_and_hash, upload.fh, upload.digest, held)
                        )
                        upload.offset += held_bytes
                        held, held_bytes = [], 0
            except BaseException:
                # a cut: every byte that came is written before the part file closes
                if calls.begun is not None or held:
                    await asyncio.shield(self._close(sha, claimed, create, calls, held))
                raise
            return await self._close(sha, claimed, create, calls, held)

    async def _close(
        self, sha: str, claimed: int, create: int | None, calls: _Calls, held: list[bytes]
    ) -> tuple[int, int]:
        """The append's last thread call: its last bytes, and once whole the fsync, the hash
        check and the rename (the whole of an append that gathered less than BLOCK)."""
        refused = await calls.opened()
        if refused is not None:
            return refused
        if calls.pending is not None:
            await asyncio.shield(calls.pending)
        if calls.upload is None:
            ended = await asyncio.to_thread(self._begin, sha, claimed, create, held, True)
            assert isinstance(ended, tuple)  # noqa: S101 - narrowing: _begin(..., True) ends it
            return ended
        return await asyncio.to_thread(self._end, calls.upload, held)

    def _begin(
        self, sha: str, claimed: int, create: int | None, pieces: list[bytes], last: bool
    ) -> tuple[int, int] | _Upload:
        """Check the upload's state against the claimed offset (created first when ``create``
        gives its length), open its part file with its running hash and write ``pieces``:
        the open upload, or (status, offset) when refused or, with ``last``, once ended."""
        found = self.create(sha, create) if create is not None else self._find(sha)
        if found is None:
            return 404, 0
        offset, length, part = found
        if part is None or claimed != offset:
            return 409, offset
        if offset + sum(len(piece) for piece in pieces) > length:
            raise InspectionError("the body goes past Upload-Length")
        hasher = self.hashers.get(sha)
        if hasher is None or hasher[0] != offset:
            hasher = (offset, self._hash_part(part) if offset else hashlib.sha256())
        upload = _Upload(sha, part, part.open("ab"), hasher[1], offset, length)
        if last:
            return self._end(upload, pieces)
        try:
            _write_and_hash(upload.fh, upload.digest, pieces)
        except BaseException:
            upload.fh.close()
            raise
        upload.offset += sum(len(piece) for piece in pieces)
        return upload

    def _end(self, upload: _Upload, tail: list[bytes]) -> tuple[int, int]:
        """Write and hash the last bytes and close the part file; once whole, fsync it and keep
        it only if it hashes to its address: (204, offset), or (460, 0)."""
        try:
            if upload.offset + sum(len(piece) for piece in tail) > upload.length:
                raise InspectionError("the body goes past Upload-Length")
            _write_and_hash(upload.fh, upload.digest, tail)
            upload.offset += sum(len(piece) for piece in tail)
            upload.fh.flush()
            whole = upload.offset == upload.length
            if whole:
                os.fsync(upload.fh.fileno())
        finally:
            upload.fh.close()
        if not whole:
            self.hashers[upload.sha] = (upload.offset, upload.digest)
            return 204, upload.offset
        self.hashers.pop(upload.sha, None)
        # durable once whole (fsync, then the rename to its address); a partial upload lost to
        # a power cut is re-sent, and any bytes it lost or garbled fail the hash check
        if not self.finish(upload.sha, upload.digest.hexdigest(), upload.part):
            return 460, 0
        return 204, upload.offset

    def _hash_part(self, part: Path) -> Any:
        digest = hashlib.sha256()
        with part.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest


@dataclass(slots=True)
class _Upload:
    """An append in progress: its part file open, the running hash, the bytes handed to it."""

    sha: str
    part: Path
    fh: Any
    digest: Any
    offset: int
    length: int


@dataclass(slots=True)
class _Calls:
    """An append's thread calls in flight: the first (state, part file, first block) and the
    last block's write; the loop gathers the next block meanwhile."""

    begun: asyncio.Future[_Upload | tuple[int, int]] | None = None
    upload: _Upload | None = None
    pending: asyncio.Future[None] | None = None

    async def opened(self) -> tuple[int, int] | None:
        """Wait for the first call: None once the upload is open, else the refusal."""
        if self.begun is None or self.upload is not None:
            return None
        begun = await asyncio.shield(self.begun)
        if isinstance(begun, tuple):
            return begun
        self.upload = begun
        return None


def _write_and_hash(fh: Any, digest: Any, pieces: list[bytes]) -> None:
    """Write pieces and add them to the running hash (both release the GIL: a worker's job)."""
    for piece in pieces:
        fh.write(piece)
        digest.update(piece)
