"""The service backend: HTTP to the hub's services API (contract C) with a kiosk-role token.

A hub that does not answer within ``timeout_s`` or answers 5xx is ``BackendUnavailable`` (the
citizen sees "service cannot be reached" and a way back); 404 is ``BackendNotFound``; other 4xx
are ``BackendRefused``. The full name and ID number go to the hub only in the proof request body,
over the kiosk's token, because the errand needs them; the hub keeps only the masked forms.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp
from typing_extensions import override

from kiosk.hall.errors import BackendNotFound, BackendRefused, BackendUnavailable
from kiosk.hall.models import Application, Errand, Proof, RatingChoices, TimelineEntry
from kiosk.hall.protocols import ServiceBackend

KINDS = ("proof", "progress", "guide")


class HubServiceBackend(ServiceBackend):
    """``ServiceBackend`` over HTTP."""

    def __init__(self, url: str, token: str, timeout_s: float = 6.0) -> None:
        self.base = url.rstrip("/") + "/api/v1/services"
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})

    @override
    async def close(self) -> None:
        await self.session.close()

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, **query: str
    ) -> dict[str, Any]:
        try:
            async with self.session.request(
                method, self.base + path, json=body, params=query or None, timeout=self.timeout
            ) as resp:
                try:
                    data = await resp.json(content_type=None)
                except ValueError:
                    data = None
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BackendUnavailable(f"hub {path}: {type(exc).__name__}") from None
        finally:
            if body is not None:
                body.clear()
        if status >= 500:
            raise BackendUnavailable(f"hub {path}: HTTP {status}")
        message = data.get("error", "") if isinstance(data, dict) else ""
        if status == 404:
            raise BackendNotFound(f"hub {path}: {message or 'not found'}")
        if status >= 400:
            raise BackendRefused(f"hub {path}: HTTP {status}: {message}")
        if not isinstance(data, dict):
            raise BackendUnavailable(f"hub {path}: answer is not a JSON object")
        return data

    @override
    async def errands(self, lang: str) -> list[Errand]:
        data = await self._call("GET", "/errands", lang=lang)
        return [_errand(e) for e in data.get("errands", []) if isinstance(e, dict)]

    @override
    async def application(self, number: str, lang: str) -> Application:
        data = await self._call("GET", f"/applications/{quote(number, safe='')}", lang=lang)
        timeline = tuple(
            TimelineEntry(
                str(t.get("status", "")),
                str(t.get("label", "")),
                str(t.get("at", "")),
                str(t.get("note") or ""),
            )
            for t in data.get("timeline", [])
            if isinstance(t, dict)
        )
        return Application(
            str(data.get("number", number)),
            str(data.get("errand_name", "")),
            str(data.get("status", "")),
            timeline,
        )

    @override
    async def issue_proof(
        self, request_id: str, proof_type: str, id_number: str, name: str, hall: str, lang: str
    ) -> Proof:
        body = {
            "request_id": request_id,
            "proof_type": proof_type,
            "subject": {"id_number": id_number, "name": name},
            "hall": hall,
            "lang": lang,
        }
        data = await self._call("POST", "/proofs", body)
        masked = data.get("subject_masked") or {}
        return Proof(
            proof_id=str(data.get("proof_id", "")),
            qr_text=str(data.get("qr_text", "")),
            title=str(data.get("title", "")),
            issued_at=str(data.get("issued_at", "")),
            expires_at=str(data.get("expires_at", "")),
            subject_id_masked=str(masked.get("id_number", "")),
            subject_name_masked=str(masked.get("name", "")),
        )

    @override
    async def rating_choices(self, lang: str) -> RatingChoices:
        data = await self._call("GET", "/rating-tags", lang=lang)
        levels = tuple(
            (int(x.get("level", 0)), str(x.get("label", "")))
            for x in data.get("levels", [])
            if isinstance(x, dict)
        )
        tags = tuple(
            (str(x.get("id", "")), str(x.get("label", "")))
            for x in data.get("tags", [])
            if isinstance(x, dict)
        )
        return RatingChoices(levels or tuple((n, "") for n in range(1, 6)), tags)

    @override
    async def rate(self, level: int, tags: list[str], hall: str, errand_id: str) -> None:
        await self._call(
            "POST",
            "/ratings",
            {"level": level, "tags": tags, "hall": hall, "errand_id": errand_id},
        )


def _errand(e: dict[str, Any]) -> Errand:
    kind = str(e.get("kind", "guide"))
    return Errand(
        id=str(e.get("id", "")),
        name=str(e.get("name", "")),
        summary=str(e.get("summary", "")),
        kind=kind if kind in KINDS else "guide",  # type: ignore[arg-type]
        materials=tuple(str(m) for m in e.get("materials", []) or []),
        where=str(e.get("where", "")),
        fees=str(e.get("fees", "")),
        proof_type=e.get("proof_type") or None,
    )
