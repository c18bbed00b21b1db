"""Resumable download of a release bundle over HTTP(S): bytes already on disk are asked for
again with ``Range``, so a link that drops (or a power cut) costs only what was in flight."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_agent.update.errors import UpdateError

CHUNK = 1 << 16
TIMEOUT_S = 30.0


def download(
    url: str,
    dest: Path,
    expected_size: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> Path:
    """Fetch ``url`` into ``dest`` (via ``dest.part``), resuming a previous partial download."""
    if dest.exists():
        return dest
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url)  # noqa: S310 - the hub's release URL (http/https) from the update command
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - the hub's release URL (http/https) from the update command
            if have and response.status != 206:
                have = 0  # the server ignored the range: start again
            with part.open("ab" if have else "wb") as f:
                while chunk := response.read(CHUNK):
                    f.write(chunk)
                    have += len(chunk)
                    if expected_size is not None and have > expected_size:
                        raise UpdateError(f"{url}: more than the {expected_size} bytes announced")
                    if on_chunk is not None:
                        f.flush()
                        on_chunk(have)
                f.flush()
                os.fsync(f.fileno())
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and expected_size is not None and have == expected_size:
            pass  # everything was already here
        else:
            raise UpdateError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise UpdateError(
            f"{url}: download interrupted ({exc}); it resumes on the next try"
        ) from None
    if expected_size is not None and have != expected_size:
        raise UpdateError(f"{url}: {have} bytes received of {expected_size}; it resumes")
    os.replace(part, dest)
    return dest


MAX_MANIFEST_BYTES = 16 * 1024 * 1024


def fetch_manifest(url: str) -> Any:
    """A release's signed manifest (JSON) from the hub; its signature is checked by the caller."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 - the hub's manifest URL; the signature is checked by the caller
            data = response.read(MAX_MANIFEST_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise UpdateError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise UpdateError(f"{url}: manifest not fetched ({exc})") from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise UpdateError(f"{url}: manifest larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        return json.loads(data)
    except ValueError:
        raise UpdateError(f"{url}: manifest is not JSON") from None
