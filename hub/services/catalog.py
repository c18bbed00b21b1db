"""The errand catalog: kept as data in the hub's database, seeded from catalog_data, edited by
an admin, served in one language at a time."""

from __future__ import annotations

import re
import time
from typing import Any, Literal

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.services.catalog_data import ERRANDS, LANGS, PROOF_TYPES
from hub.services.errors import BadRequest, UnknownItem
from hub.services.tables import errands

ERRAND_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")

Texts = dict[str, str]


class Errand(msgspec.Struct, forbid_unknown_fields=True):
    """An errand as an admin writes it: every text in every language."""

    id: str
    kind: Literal["proof", "progress", "guide"]
    name: Texts
    summary: Texts
    materials: dict[str, list[str]]
    where: Texts
    fees: Texts
    proof_type: str | None = None


def check_errand(errand: Errand) -> None:
    """Refuse an errand whose id is malformed or that lacks a language's text."""
    if not ERRAND_ID.fullmatch(errand.id):
        raise BadRequest("id: lower-case letters, digits and '-', at most 64 characters")
    for name in ("name", "summary", "materials", "where", "fees"):
        texts = getattr(errand, name)
        missing = [lang for lang in LANGS if lang not in texts]
        if missing:
            raise BadRequest(f"{name}: missing the {', '.join(missing)} text")
        extra = [lang for lang in texts if lang not in LANGS]
        if extra:
            raise BadRequest(f"{name}: unknown language {', '.join(extra)}")
    if errand.kind == "proof" and errand.proof_type not in PROOF_TYPES:
        raise BadRequest(
            f"proof_type: an errand of kind 'proof' needs one of {', '.join(PROOF_TYPES)}"
        )
    if errand.kind != "proof" and errand.proof_type is not None:
        raise BadRequest("proof_type: only an errand of kind 'proof' issues a proof")


def localize(doc: dict[str, Any], lang: str) -> dict[str, Any]:
    """The errand in one language (contract C's shape)."""
    return {
        "id": doc["id"],
        "kind": doc["kind"],
        "proof_type": doc.get("proof_type"),
        "name": doc["name"][lang],
        "summary": doc["summary"][lang],
        "materials": list(doc["materials"][lang]),
        "where": doc["where"][lang],
        "fees": doc["fees"][lang],
    }


def check_lang(lang: str) -> str:
    """``lang`` when it is one the catalog holds, else BadRequest."""
    if lang not in LANGS:
        raise BadRequest(f"lang must be one of {', '.join(LANGS)}")
    return lang


class Catalog:
    """The errands the kiosks offer, in every language."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def seed(self) -> None:
        """Write the default errands into an empty catalog (once, whichever worker starts first)."""
        try:
            self._seed()
        except sa.exc.IntegrityError:
            pass

    def _seed(self) -> None:
        with self.engine.begin() as conn:
            if conn.execute(sa.select(errands.c.id).limit(1)).first() is not None:
                return
            now = time.time()
            conn.execute(
                errands.insert(),
                [
                    {"id": e["id"], "doc": e, "position": i, "updated": now}
                    for i, e in enumerate(ERRANDS)
                ],
            )

    def all(self, lang: str) -> list[dict[str, Any]]:
        """Every errand in one language, in the catalog's order; BadRequest for a language it
        lacks."""
        check_lang(lang)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(errands.c.doc).order_by(errands.c.position, errands.c.id))
            return [localize(r.doc, lang) for r in rows]

    def raw(self, errand_id: str) -> dict[str, Any]:
        """An errand as stored, every text in every language (what an admin edits); UnknownItem if
        there is none."""
        with self.engine.connect() as conn:
            doc = conn.execute(sa.select(errands.c.doc).where(errands.c.id == errand_id)).scalar()
        if doc is None:
            raise UnknownItem(f"no errand {errand_id!r}")
        return dict(doc)

    def get(self, errand_id: str, lang: str) -> dict[str, Any]:
        """An errand in one language; UnknownItem or BadRequest."""
        check_lang(lang)
        return localize(self.raw(errand_id), lang)

    def exists(self, errand_id: str) -> bool:
        """Whether the catalog holds the errand (checked before an application or rating names
        it)."""
        with self.engine.connect() as conn:
            return (
                conn.execute(sa.select(errands.c.id).where(errands.c.id == errand_id)).first()
                is not None
            )

    def put(self, errand: Errand) -> dict[str, Any]:
        """Create or replace an errand (admin)."""
        check_errand(errand)
        doc = msgspec.to_builtins(errand)
        with self.engine.begin() as conn:
            updated = conn.execute(
                errands.update()
                .where(errands.c.id == errand.id)
                .values(doc=doc, updated=time.time())
            )
            if updated.rowcount == 0:
                position = conn.execute(sa.select(sa.func.count()).select_from(errands)).scalar()
                conn.execute(
                    errands.insert().values(
                        id=errand.id, doc=doc, position=int(position or 0), updated=time.time()
                    )
                )
        return dict(doc)

    def delete(self, errand_id: str) -> None:
        """Remove an errand from the catalog; UnknownItem if there is none."""
        with self.engine.begin() as conn:
            if conn.execute(errands.delete().where(errands.c.id == errand_id)).rowcount == 0:
                raise UnknownItem(f"no errand {errand_id!r}")
