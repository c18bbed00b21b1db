"""The services' routes under /api/v1/services (contract C), with their roles and OpenAPI.

A kiosk calls with a token of role ``kiosk`` whose name is its device id; proofs and ratings are
attributed to that device. Checking a proof and reading its revocation status are public.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from aiohttp import web

from hub.api.routing import ApiRoutes, body_of, one_of, query_of
from hub.api.util import blocking, hub_of, json_ok, parse_time
from hub.auth import ADMIN, KIOSK, OPERATE, PUBLIC, READ
from hub.context import ExtensionKey
from hub.services.applications import (
    ApplicationBackend,
    EmbeddedApplications,
    check_number,
    present,
)
from hub.services.catalog import Catalog, Errand
from hub.services.catalog_data import LANGS
from hub.services.codec import verify_qr
from hub.services.errors import BadRequest, UnknownItem
from hub.services.keys import ProofKeyring
from hub.services.ledger import Ledger
from hub.services.proofs import ProofRequest, ProofService, iso
from hub.services.ratings import GROUPS, RatingIn, RatingService, tags_catalog


@dataclass
class Services:
    """The citizen services of one hub worker."""

    catalog: Catalog
    applications: ApplicationBackend
    embedded: EmbeddedApplications
    proofs: ProofService
    ledger: Ledger
    keyring: ProofKeyring
    ratings: RatingService


SERVICES = ExtensionKey("citizen services", Services, "hub.services.setup")

routes = ApiRoutes("services")

KIOSK_OR_READ = KIOSK | READ


def _svc(request: web.Request) -> Services:
    return hub_of(request).extensions[SERVICES]


class LangQuery(msgspec.Struct, forbid_unknown_fields=True):
    """The language of the answer's texts."""

    lang: Annotated[str, one_of(LANGS, "zh-CN (default) or en")] = "zh-CN"


def _lang(request: web.Request) -> str:
    return query_of(request, LangQuery).lang


async def _device(request: web.Request) -> str:
    """The acting device: a kiosk token's name; other roles act as "<role>:<name>"."""
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else request.query.get("access_token", "")
    role, name = await blocking(hub_of(request).tokens.identity_of, token)
    return name if role == "kiosk" else f"{role}:{name}"[:64]


# --- errands ---------------------------------------------------------------------------------


@routes.get("/services/errands", roles=KIOSK_OR_READ, summary="The errand catalog", query=LangQuery)
async def list_errands(request: web.Request) -> web.Response:
    """The catalog of errands, in the asked language."""
    return json_ok({"errands": await blocking(_svc(request).catalog.all, _lang(request))})


@routes.get(
    "/services/errands/{errand_id}",
    roles=KIOSK_OR_READ,
    summary="One errand",
    query=LangQuery,
)
async def get_errand(request: web.Request) -> web.Response:
    """One errand, in the asked language."""
    errand_id = request.match_info["errand_id"]
    return json_ok(await blocking(_svc(request).catalog.get, errand_id, _lang(request)))


@routes.get(
    "/services/errands/{errand_id}/source",
    roles=ADMIN,
    summary="One errand with its texts in every language, as an admin edits it",
)
async def errand_source(request: web.Request) -> web.Response:
    """One errand as stored, in every language (for editing)."""
    return json_ok(await blocking(_svc(request).catalog.raw, request.match_info["errand_id"]))


@routes.put(
    "/services/errands/{errand_id}",
    roles=ADMIN,
    summary="Create or replace an errand (texts in zh-CN and en)",
    body=Errand,
)
async def put_errand(request: web.Request) -> web.Response:
    """Create or replace an errand."""
    errand = body_of(request, Errand)
    if errand.id != request.match_info["errand_id"]:
        raise BadRequest("id: the body's id differs from the path's", "$.id")
    return json_ok(await blocking(_svc(request).catalog.put, errand))


@routes.delete(
    "/services/errands/{errand_id}",
    roles=ADMIN,
    summary="Remove an errand",
)
async def delete_errand(request: web.Request) -> web.Response:
    """Delete an errand."""
    await blocking(_svc(request).catalog.delete, request.match_info["errand_id"])
    return json_ok({"deleted": request.match_info["errand_id"]})


# --- applications ----------------------------------------------------------------------------


@routes.get(
    "/services/applications/{number}",
    roles=KIOSK_OR_READ,
    summary="An application's status and timeline",
    query=LangQuery,
    errors={502: "the city platform failed"},
)
async def get_application(request: web.Request) -> web.Response:
    """An application's status and timeline, with its errand's name."""
    svc = _svc(request)
    lang = _lang(request)
    app = await svc.applications.get(check_number(request.match_info["number"]))
    try:
        name = (await blocking(svc.catalog.get, app.errand_id, lang))["name"]
    except UnknownItem:
        name = app.errand_id
    return json_ok(present(app, lang, name))


class NewApplication(msgspec.Struct, forbid_unknown_fields=True):
    """A new application in the embedded application store."""

    number: str
    errand_id: str


class ApplicationStep(msgspec.Struct, forbid_unknown_fields=True):
    """A step of an application: its new status and an optional note."""

    status: str
    note: str = ""


@routes.post(
    "/services/applications",
    roles=OPERATE,
    summary="Record a received application (embedded backend)",
    body=NewApplication,
    status=201,
)
async def create_application(request: web.Request) -> web.Response:
    """Create an application (embedded store) for an errand in the catalog."""
    body = body_of(request, NewApplication)
    svc = _svc(request)
    if not await blocking(svc.catalog.exists, body.errand_id):
        raise BadRequest(f"errand_id {body.errand_id!r} is not in the catalog")
    app = await blocking(svc.embedded.create, body.number, body.errand_id)
    return json_ok(present(app, "zh-CN", body.errand_id), status=201)


@routes.post(
    "/services/applications/{number}/steps",
    roles=OPERATE,
    summary="Record the next status of an application (embedded backend)",
    body=ApplicationStep,
)
async def advance_application(request: web.Request) -> web.Response:
    """Move an application on to a new status."""
    body = body_of(request, ApplicationStep)
    number = check_number(request.match_info["number"])
    app = await blocking(_svc(request).embedded.advance, number, body.status, body.note)
    return json_ok(present(app, "zh-CN", app.errand_id))


# --- proofs ----------------------------------------------------------------------------------


@routes.post(
    "/services/proofs",
    roles=KIOSK,
    summary="Issue a proof (idempotent per request_id: a retry gets the same proof, 200)",
    body=ProofRequest,
    status=(200, 201),
    errors={409: "request_id reused for another proof"},
)
async def issue_proof(request: web.Request) -> web.Response:
    """Issue a signed proof; a retried request gets the same proof."""
    req = body_of(request, ProofRequest)
    device = await _device(request)
    issued, created = await blocking(_svc(request).proofs.issue, req, device)
    return json_ok(issued.as_json(), status=201 if created else 200)


@routes.get(
    "/services/proofs/{proof_id}/status",
    roles=PUBLIC,
    summary="Whether a proof is known and revoked (public; no personal data)",
)
async def proof_status(request: web.Request) -> web.Response:
    """A proof's status as the hub holds it (revoked or not)."""
    return json_ok(await blocking(_svc(request).proofs.status, request.match_info["proof_id"]))


class Revocation(msgspec.Struct, forbid_unknown_fields=True):
    """Why a proof is revoked."""

    reason: str


@routes.post(
    "/services/proofs/{proof_id}/revoke",
    roles=OPERATE,
    summary="Revoke a proof; the revocation is appended to the ledger",
    body=Revocation,
)
async def revoke_proof(request: web.Request) -> web.Response:
    """Revoke a proof; the ledger records it."""
    body = body_of(request, Revocation)
    status = await blocking(
        _svc(request).proofs.revoke, request.match_info["proof_id"], body.reason
    )
    return json_ok(status)


class VerifyIn(msgspec.Struct, forbid_unknown_fields=True):
    """The text of a proof's QR code."""

    qr_text: str


@routes.post(
    "/services/verify",
    roles=PUBLIC,
    summary="Check a proof's QR text: offline with the public keys, then its revocation status",
    body=VerifyIn,
)
async def verify(request: web.Request) -> web.Response:
    """Check a proof: offline (signature, dates), then its revocation status here."""
    body = body_of(request, VerifyIn)
    svc = _svc(request)
    trust = await blocking(svc.keyring.trust)
    verdict = verify_qr(body.qr_text, trust)
    out: dict[str, Any] = {"offline": verdict.as_json(), "revoked": None, "status": None}
    valid = verdict.valid
    doc = verdict.document
    if doc:
        out["summary"] = _summary(doc)
    if verdict.valid:
        try:
            status = await blocking(svc.proofs.status, str(doc.get("id", "")))
        except UnknownItem:
            status = None
        if status is not None:
            out["status"] = status
            out["revoked"] = status["revoked"]
            if status["document_hash"] != verdict.document_hash:
                valid = False
                out["offline"]["reason"] = "unknown_document"
            elif status["revoked"]:
                valid = False
    out["valid"] = valid
    out["checked_at"] = iso(time.time())
    return json_ok(out)


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    """What a proof attests, for a person: titles, subject, issuer, times."""
    issuer = doc.get("is") or {}
    subject = doc.get("sb") or {}
    return {
        "proof_id": doc.get("id"),
        "proof_type": doc.get("pt"),
        "title": doc.get("ti") or {},
        "subject": {"id_number": subject.get("id"), "name": subject.get("nm")},
        "issuer": {
            "code": issuer.get("cd"),
            "name": issuer.get("nm"),
            "name_en": issuer.get("en"),
            "hall": issuer.get("hl"),
        },
        "facts": doc.get("at") or {},
        "issued_at": iso(int(doc["iat"])) if "iat" in doc else None,
        "expires_at": iso(int(doc["exp"])) if "exp" in doc else None,
    }


@routes.get(
    "/services/proof-keys",
    roles=PUBLIC,
    summary="The public proof keys (the trust list an offline verifier holds)",
)
async def proof_keys(request: web.Request) -> web.Response:
    """The public keys that verify proofs, current and retired."""
    svc = _svc(request)
    return json_ok((await blocking(svc.keyring.trust)).as_json())


@routes.post(
    "/services/proof-keys/rotate",
    roles=ADMIN,
    summary="Make a new proof key; older keys stay trusted for the proofs they signed",
    status=201,
)
async def rotate_key(request: web.Request) -> web.Response:
    """Make a new signing key; the old one still verifies the proofs it signed."""
    kid = await blocking(_svc(request).keyring.rotate)
    return json_ok({"kid": kid.hex()}, status=201)


# --- ledger ----------------------------------------------------------------------------------


@routes.get(
    "/services/ledger/checkpoints/latest",
    roles=PUBLIC,
    summary="The latest signed checkpoint of the proof ledger",
    errors={404: "no checkpoint yet"},
)
async def latest_checkpoint(request: web.Request) -> web.Response:
    """The newest signed checkpoint of the ledger."""
    cp = await blocking(_svc(request).ledger.latest_checkpoint)
    if cp is None:
        raise UnknownItem("no checkpoint yet")
    return json_ok(cp)


@routes.post(
    "/services/ledger/checkpoints",
    roles=ADMIN,
    summary="Sign and publish a checkpoint of the ledger's head now",
    status=201,
)
async def make_checkpoint(request: web.Request) -> web.Response:
    """Sign a checkpoint of the ledger now."""
    cp = await blocking(_svc(request).ledger.checkpoint_now)
    if cp is None:
        raise BadRequest("the ledger is empty")
    return json_ok(cp, status=201)


@routes.get(
    "/services/ledger/verify",
    roles=ADMIN,
    summary="Walk the ledger: does every entry, checkpoint and proof row hold?",
)
async def verify_ledger(request: web.Request) -> web.Response:
    """Walk the ledger and report whether it holds."""
    svc = _svc(request)
    trust = await blocking(svc.keyring.trust)
    report = await blocking(svc.ledger.verify, trust)
    return json_ok(report.as_json())


# --- ratings ---------------------------------------------------------------------------------


@routes.get(
    "/services/rating-tags",
    roles=KIOSK_OR_READ,
    summary="The five 好差评 levels and the reason tags",
    query=LangQuery,
)
async def rating_tags(request: web.Request) -> web.Response:
    """The rating levels and tags a kiosk offers, in the asked language."""
    return json_ok(tags_catalog(_lang(request)))


@routes.post(
    "/services/ratings",
    roles=KIOSK,
    summary="Record a citizen's rating (no personal data in the comment)",
    body=RatingIn,
    status=201,
)
async def post_rating(request: web.Request) -> web.Response:
    """Record a citizen's rating of an errand from a kiosk."""
    rating = body_of(request, RatingIn)
    svc = _svc(request)
    device = await _device(request)
    if not await blocking(svc.catalog.exists, rating.errand_id):
        raise BadRequest(f"errand_id {rating.errand_id!r} is not in the catalog")
    rating_id = await blocking(svc.ratings.record, rating, device)
    return json_ok({"id": rating_id}, status=201)


class SummaryQuery(LangQuery, forbid_unknown_fields=True, kw_only=True):
    """How to aggregate ratings (per hall, errand or week) and over which time."""

    group: Annotated[str, one_of(GROUPS, "hall, errand or week")]
    since: Annotated[str, msgspec.Meta(description="Unix seconds or relative (-30d)")] = ""
    until: Annotated[str, msgspec.Meta(description="Unix seconds or relative; default now")] = ""


@routes.get(
    "/services/ratings/summary",
    roles=READ,
    summary="Ratings aggregated per hall, errand or ISO week (hall time, UTC+8)",
    query=SummaryQuery,
)
async def ratings_summary(request: web.Request) -> web.Response:
    """Ratings aggregated per hall, errand or week."""
    q = query_of(request, SummaryQuery)
    now = time.time()
    since = parse_time(q.since, "since", now - 30 * 86400)
    until = parse_time(q.until, "until", now)
    summary = await blocking(
        _svc(request).ratings.summary,
        q.group,  # one of GROUPS, checked by SummaryQuery
        since,
        until,
        q.lang,
    )
    return json_ok(summary)
