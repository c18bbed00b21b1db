"""Issuing, replaying, revoking and checking proofs.

The hub keeps, per proof, its masked subject, the hash of its signed document and the key that
signed it; never the document (it may carry the full ID number the proof type needs). A retried
request (same device, same request id) rebuilds the document from the request and the stored
facts; Ed25519 being deterministic, the QR text comes out the same, and its hash proves it.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from govedge.logs import fields, get_logger
from govedge.privacy import mask_id_number, mask_name
from hub.api.routing import one_of
from hub.services.catalog_data import LANGS, PROOF_TYPES
from hub.services.codec import Signer, cbor_dumps, document_hash
from hub.services.errors import BadRequest, Conflict, UnknownItem
from hub.services.group_commit import GroupCommit
from hub.services.ids import SERIAL_RANDOM_BYTES, id_number_ok, new_proof_id
from hub.services.keys import ProofKeyring
from hub.services.ledger import Ledger
from hub.services.tables import driver_sql, insert_tuples, proofs
from hub.settings import ServicesConfig

log = get_logger(__name__)

# The idempotency lookup of every issue, as plain SQL (see tables.driver_sql).
_FIND = (
    f"SELECT {', '.join(proofs.c.keys())} FROM {proofs.name} "  # noqa: S608 - names from code
    "WHERE request_key = ?"
)
# A new proof's row: these columns, in this order (revoked_at stays NULL).
_PROOF_COLUMNS = (
    "proof_id",
    "request_key",
    "proof_type",
    "kid",
    "doc_hash",
    "subject_id_masked",
    "subject_name_masked",
    "hall",
    "device",
    "lang",
    "issued_at",
    "expires_at",
    "revoked",
    "revoke_reason",
)
ProofRow = tuple[str, str, str, str, str, str, str, str, str, str, int, int, bool, str]


class Subject(msgspec.Struct, forbid_unknown_fields=True):
    """The person a proof is about; answers show it masked."""

    id_number: str
    name: str


Facts = Annotated[
    dict[Annotated[str, msgspec.Meta(max_length=32)], Annotated[str, msgspec.Meta(max_length=200)]],
    msgspec.Meta(max_length=8),
]


class ProofRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /services/proofs (contract C)."""

    request_id: str
    proof_type: Annotated[str, one_of(PROOF_TYPES)]
    subject: Subject
    hall: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    lang: Annotated[str, one_of(LANGS)] = "zh-CN"
    facts: Facts = msgspec.field(default_factory=dict)  # attested facts, on paper only


@dataclass(slots=True)
class IssuedProof:
    """A proof as issued: its QR text and what the kiosk prints beside it."""

    proof_id: str
    qr_text: str
    issued_at: int
    expires_at: int
    title: str
    subject_masked: dict[str, str]
    proof_type: str
    kid: str
    doc_hash: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """What the kiosk prints: QR text, times in ISO 8601 UTC, title, masked subject and kid."""
        return {
            "proof_id": self.proof_id,
            "qr_text": self.qr_text,
            "issued_at": iso(self.issued_at),
            "expires_at": iso(self.expires_at),
            "title": self.title,
            "subject_masked": self.subject_masked,
            "proof_type": self.proof_type,
            "kid": self.kid,
        }


def iso(ts: float) -> str:
    """``ts`` as an ISO 8601 UTC time."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def canonical_keys(mapping: dict[str, Any]) -> dict[str, Any]:
    """``mapping`` with its text keys in canonical CBOR order: shorter first, then bytewise (for
    text keys, RFC 7049 §3.9's order and RFC 8949 §4.2.1's are this same one)."""
    return dict(sorted(mapping.items(), key=lambda kv: (len(kv[0].encode()), kv[0].encode())))


_TITLES = {code: canonical_keys(ptype["title"]) for code, ptype in PROOF_TYPES.items()}


def check_request(req: ProofRequest) -> None:
    """Refuse what the hub cannot issue, naming the field: the struct's own constraints (run
    again here, as a request made in the process was never decoded), then what they cannot say."""
    try:
        msgspec.convert(msgspec.to_builtins(req), ProofRequest)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"body: {exc}") from None
    _check_fields(req)


def check_requests(reqs: Sequence[ProofRequest]) -> None:
    """``check_request`` for each of ``reqs``, the struct constraints checked in one pass for
    all; a refusal names the first bad request's field as ``check_request`` does."""
    try:
        msgspec.convert(msgspec.to_builtins(reqs), list[ProofRequest])
    except msgspec.ValidationError:
        for req in reqs:
            check_request(req)
        raise  # not reached: one request failed above
    for req in reqs:
        _check_fields(req)


def _check_fields(req: ProofRequest) -> None:
    if not 1 <= len(req.request_id) <= 100 or not req.request_id.isprintable():
        raise BadRequest("request_id must be 1 to 100 printable characters", "$.request_id")
    if not id_number_ok(req.subject.id_number):
        raise BadRequest(
            "subject.id_number is not a valid 18-character resident ID number",
            "$.subject.id_number",
        )
    if not 1 <= len(req.subject.name) <= 50 or not req.subject.name.isprintable():
        raise BadRequest("subject.name must be 1 to 50 printable characters", "$.subject.name")


class ProofService:
    """Issue, look up and revoke proofs; each issue and revocation goes into the ledger."""

    def __init__(
        self, engine: Engine, keyring: ProofKeyring, ledger: Ledger, config: ServicesConfig
    ) -> None:
        self.engine = engine
        self.keyring = keyring
        self.ledger = ledger
        self.config = config
        self._signers: dict[bytes, Signer] = {}
        self._lock = threading.Lock()
        # Concurrent issues (kiosks calling at once) share one transaction and one head update.
        self._group: GroupCommit[tuple[IssuedProof, ProofRow]] = GroupCommit(self._write_group)

    def _signer(self, kid: bytes | None = None) -> Signer:
        if kid is None:
            kid, key = self.keyring.current()
        else:
            found = self.keyring.private(kid)
            if found is None:
                raise Conflict(
                    f"the key {kid.hex()} that issued this proof is retired; it cannot be "
                    "printed again"
                )
            key = found
        with self._lock:
            signer = self._signers.get(kid)
            if signer is None:
                signer = self._signers[kid] = Signer(kid, key)
            return signer

    def document(self, req: ProofRequest, proof_id: str, iat: int, exp: int) -> dict[str, Any]:
        """The proof's document, every map's keys already in canonical CBOR order (see
        ``canonical_keys``), so that ``payload`` needs no sorting encoder."""
        masked_id = mask_id_number(req.subject.id_number)
        return self._document(req, proof_id, iat, exp, masked_id, dict(_TITLES[req.proof_type]))

    def _document(
        self,
        req: ProofRequest,
        proof_id: str,
        iat: int,
        exp: int,
        masked_id: str,
        title: dict[str, str],
    ) -> dict[str, Any]:
        """``document`` with the masked ID number made already and the title map given (the
        issuing path encodes the document at once, so it shares the type's own map)."""
        config = self.config
        subject = req.subject
        return {
            "v": 1,
            "at": canonical_keys(req.facts) if req.facts else {},
            "id": proof_id,
            "is": {
                "cd": config.office_code,
                "en": config.office_name_en,
                "hl": req.hall,
                "nm": config.office_name,
            },
            "pt": req.proof_type,
            "sb": {
                "id": subject.id_number if PROOF_TYPES[req.proof_type]["full_id"] else masked_id,
                "nm": subject.name,
            },
            "ti": title,
            "exp": exp,
            "iat": iat,
        }

    def payload(self, req: ProofRequest, proof_id: str, iat: int, exp: int) -> bytes:
        """The canonical CBOR of the document: what is signed and what the ledger hashes. The
        document's keys are in canonical order already, so the plain encoder gives the canonical
        bytes (the tests compare them with ``cbor2.dumps(..., canonical=True)``)."""
        return cbor_dumps(self.document(req, proof_id, iat, exp))

    def _build(
        self, reqs: Sequence[ProofRequest], device: str, now: float
    ) -> list[tuple[IssuedProof, ProofRow]]:
        """The proofs of ``reqs`` (checked already) and their rows, signed with the current
        key, their QR texts made together."""
        signer = self._signer()
        kid = signer.kid.hex()
        office = self.config.office_code
        iat = int(now)
        # The serials' random bits, drawn for the whole batch at once.
        serials = secrets.token_bytes(SERIAL_RANDOM_BYTES * len(reqs))
        built: list[tuple[IssuedProof, ProofRow]] = []
        payloads = []
        for i, req in enumerate(reqs):
            proof_type = req.proof_type
            ptype = PROOF_TYPES[proof_type]
            at = i * SERIAL_RANDOM_BYTES
            proof_id = new_proof_id(
                ptype["code"], office, now, serials[at : at + SERIAL_RANDOM_BYTES]
            )
            exp = iat + int(ptype["valid_days"]) * 86400
            masked_id = mask_id_number(req.subject.id_number)
            masked_name = mask_name(req.subject.name)
            payload = cbor_dumps(
                self._document(req, proof_id, iat, exp, masked_id, _TITLES[proof_type])
            )
            payloads.append(payload)
            doc_hash = document_hash(payload)
            issued = IssuedProof(
                proof_id,
                "",
                iat,
                exp,
                ptype["title"][req.lang],
                {"id_number": masked_id, "name": masked_name},
                proof_type,
                kid,
                doc_hash,
            )
            row: ProofRow = (
                proof_id,
                _request_key(device, req.request_id),
                proof_type,
                kid,
                doc_hash,
                masked_id,
                masked_name,
                req.hall,
                device,
                req.lang,
                iat,
                exp,
                False,
                "",
            )
            built.append((issued, row))
        for (issued, _), text in zip(built, signer.sign_many(payloads), strict=True):
            issued.qr_text = text
        return built

    def issue(
        self, req: ProofRequest, device: str, now: float | None = None
    ) -> tuple[IssuedProof, bool]:
        """The proof of this errand request and whether it is new (False: a retry's replay)."""
        check_request(req)
        existing = self._find(device, req.request_id)
        if existing is not None:
            return self._replay(existing, req), False
        issued, row = self._build([req], device, time.time() if now is None else now)[0]
        try:
            self._group.submit((issued, row))
        except sa.exc.IntegrityError:  # the same request, at the same moment, from a retry
            existing = self._find(device, req.request_id)
            if existing is None:
                raise
            return self._replay(existing, req), False
        log.info(
            "proof_issued",
            extra=fields(proof=issued.proof_id, type=req.proof_type, device=device, hall=req.hall),
        )
        return issued, True

    def issue_many(
        self, reqs: Sequence[ProofRequest], device: str, now: float | None = None
    ) -> list[IssuedProof]:
        """Issue fresh requests in one transaction (imports, the ledger's tests, the bench)."""
        now = time.time() if now is None else now
        check_requests(reqs)
        built = self._build(reqs, device, now)
        try:
            self._write(built, now)
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"a request id of this batch was issued before: {exc.orig}") from None
        return [p for p, _ in built]

    def _write(self, built: Sequence[tuple[IssuedProof, ProofRow]], now: float) -> None:
        """Store proofs and append them to the ledger, in one transaction."""
        with self.engine.begin() as conn:
            insert_tuples(conn, proofs, _PROOF_COLUMNS, [row for _, row in built])
            self.ledger.append(conn, [("issued", p.proof_id, p.doc_hash) for p, _ in built], now)

    def _write_group(self, built: Sequence[tuple[IssuedProof, ProofRow]]) -> None:
        self._write(built, time.time())

    def _find(self, device: str, request_id: str) -> Any:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(
                driver_sql(conn, _FIND), (_request_key(device, request_id),)
            ).first()

    def _replay(self, row: Any, req: ProofRequest) -> IssuedProof:
        if row.proof_type != req.proof_type or row.hall != req.hall:
            raise Conflict(
                f"request_id {req.request_id!r} was used for another proof ({row.proof_id})"
            )
        signer = self._signer(bytes.fromhex(row.kid))
        payload = self.payload(req, row.proof_id, int(row.issued_at), int(row.expires_at))
        if document_hash(payload) != row.doc_hash:
            raise Conflict(
                f"request_id {req.request_id!r} was used for proof {row.proof_id} with other "
                "subject or facts"
            )
        ptype = PROOF_TYPES[row.proof_type]
        return IssuedProof(
            row.proof_id,
            signer.sign(payload),
            int(row.issued_at),
            int(row.expires_at),
            ptype["title"][req.lang],
            {"id_number": row.subject_id_masked, "name": row.subject_name_masked},
            row.proof_type,
            row.kid,
            row.doc_hash,
        )

    def revoke(self, proof_id: str, reason: str) -> dict[str, Any]:
        """Revoke a proof (idempotent) and append the revocation to the ledger."""
        if not 1 <= len(reason) <= 200:
            raise BadRequest("reason must be 1 to 200 characters")
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(proofs).where(proofs.c.proof_id == proof_id)).first()
            if row is None:
                raise UnknownItem(f"no proof {proof_id}")
            if not row.revoked:
                now = time.time()
                conn.execute(
                    proofs.update()
                    .where(proofs.c.proof_id == proof_id)
                    .values(revoked=True, revoked_at=int(now), revoke_reason=reason)
                )
                self.ledger.append(conn, [("revoked", proof_id, row.doc_hash)], now)
                log.info("proof_revoked", extra=fields(proof=proof_id))
        return self.status(proof_id)

    def status(self, proof_id: str) -> dict[str, Any]:
        """Whether a proof is revoked, with its type, times, hall and document hash; never its
        subject. UnknownItem if the hub issued no such proof."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(proofs).where(proofs.c.proof_id == proof_id)).first()
        if row is None:
            raise UnknownItem(f"no proof {proof_id}")
        return {
            "proof_id": row.proof_id,
            "revoked": bool(row.revoked),
            "revoked_at": iso(row.revoked_at) if row.revoked_at else None,
            "revoke_reason": row.revoke_reason,
            "proof_type": row.proof_type,
            "issued_at": iso(row.issued_at),
            "expires_at": iso(row.expires_at),
            "hall": row.hall,
            "document_hash": row.doc_hash,
        }


def _request_key(device: str, request_id: str) -> str:
    return f"{device}:{hashlib.sha256(request_id.encode()).hexdigest()[:32]}"
