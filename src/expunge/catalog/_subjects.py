"""Subjects: pseudonyms of identifiers, the subjects they name, and the erased ones refused from now on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, bindparam, insert, select

from expunge.catalog import _tables as t
from expunge.catalog._actions import asset_kinds
from expunge.catalog._model import check_tenant, new_id
from expunge.catalog._pseudonym import Identifier, Pseudonymizer
from expunge.catalog._suppress import suppress, suppressed
from expunge.db import utcnow
from expunge.errors import CatalogError, SuppressedSubjectError, UnknownAssetError

__all__ = ["Subjects"]

# Built once (constructing a statement costs several times what executing a cached one does).
_IDS = bindparam("ids", expanding=True)
_TENANT = bindparam("tenant")
_SUBJECTS_BY_PSEUDONYMS = select(t.subject_pseudonyms.c.subject_id).where(
    t.subject_pseudonyms.c.tenant == _TENANT, t.subject_pseudonyms.c.pseudonym.in_(_IDS)
)
_PSEUDONYMS_OF = select(t.subject_pseudonyms.c.pseudonym).where(
    t.subject_pseudonyms.c.tenant == _TENANT, t.subject_pseudonyms.c.subject_id.in_(_IDS)
)


class Subjects:
    """The people data is about, known only by the pseudonyms of their identifiers (``catalog.subjects``).

    Args:
        pseudonymizer: Turns subject identifiers into pseudonyms; raw identifiers are never stored.
    """

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self.pseudonymizer = pseudonymizer

    def pseudonyms(self, tenant: str, identifiers: Iterable[Identifier]) -> list[str]:
        """Return the pseudonym of each identifier within ``tenant``, in order."""
        check_tenant(tenant)
        return [self.pseudonymizer.pseudonym(tenant, ident) for ident in identifiers]

    def ensure(self, conn: Connection, tenant: str, identifiers: Sequence[Identifier]) -> str:
        """Return the subject ID known by any of ``identifiers``, creating it if none is known.

        Every identifier given is linked to the subject, so a later request by any of them finds it.

        Raises:
            SuppressedSubjectError: An identifier names a person whose erasure was accepted.
        """
        if not identifiers:
            raise CatalogError("A subject needs at least one identifier. Got none.")
        pairs = list(zip(identifiers, self.pseudonyms(tenant, identifiers), strict=True))
        if erased := suppressed(conn, tenant, [p for _, p in pairs]):
            kinds = sorted({i.kind for i, p in pairs if p in erased})
            raise SuppressedSubjectError(
                f"The subject named by this {'/'.join(kinds)} was erased by an accepted request in tenant {tenant!r}; "
                "data about them is not registered again."
            )
        known = conn.execute(
            select(t.subject_pseudonyms.c.pseudonym, t.subject_pseudonyms.c.subject_id).where(
                t.subject_pseudonyms.c.tenant == tenant,
                t.subject_pseudonyms.c.pseudonym.in_([p for _, p in pairs]),
            )
        ).all()
        found = {row.pseudonym: row.subject_id for row in known}
        subject_id = sorted(set(found.values()))[0] if found else None
        if subject_id is None:
            subject_id = new_id("sub")
            conn.execute(insert(t.subjects).values(id=subject_id, tenant=tenant, created_at=utcnow()))
        missing = [
            {"tenant": tenant, "pseudonym": p, "kind": ident.kind, "subject_id": subject_id}
            for ident, p in pairs
            if p not in found
        ]
        if missing:
            conn.execute(insert(t.subject_pseudonyms), missing)
        return subject_id

    def link(self, conn: Connection, tenant: str, record_id: str, identifiers: Sequence[Identifier]) -> str:
        """Link one more subject, known by ``identifiers``, to a record (a document may mention many people).

        Idempotent; returns the subject ID.

        Raises:
            UnknownAssetError: No such record in this tenant.
        """
        if asset_kinds(conn, tenant, [record_id]).get(record_id) != "record":
            raise UnknownAssetError(f"No record {record_id!r} in tenant {tenant!r}.")
        subject_id = self.ensure(conn, tenant, identifiers)
        linked = conn.execute(
            select(t.record_subjects.c.record_id).where(
                t.record_subjects.c.record_id == record_id, t.record_subjects.c.subject_id == subject_id
            )
        ).first()
        if linked is None:
            conn.execute(insert(t.record_subjects).values(record_id=record_id, subject_id=subject_id))
        return subject_id

    def suppress(self, conn: Connection, tenant: str, pseudonyms: Sequence[str], *, case_id: str | None) -> int:
        """Refuse, from now on, data naming these pseudonyms (an accepted erasure); return how many were new."""
        return suppress(conn, tenant, pseudonyms, case_id=case_id)

    def suppressed(self, conn: Connection, tenant: str, identifiers: Sequence[Identifier]) -> list[bool]:
        """Tell, per identifier, whether it names a person whose erasure was accepted in ``tenant``."""
        pseudonyms = self.pseudonyms(tenant, identifiers)
        found = suppressed(conn, tenant, pseudonyms)
        return [p in found for p in pseudonyms]

    def find(self, conn: Connection, tenant: str, identifiers: Sequence[Identifier]) -> list[str]:
        """Return the IDs of subjects known by any of ``identifiers`` (empty if none)."""
        pseudonyms = self.pseudonyms(tenant, identifiers)
        rows = conn.execute(
            select(t.subject_pseudonyms.c.subject_id)
            .where(t.subject_pseudonyms.c.tenant == tenant, t.subject_pseudonyms.c.pseudonym.in_(pseudonyms))
            .distinct()
        ).scalars()
        return sorted(rows)

    def by_pseudonyms(self, conn: Connection, tenant: str, pseudonyms: Sequence[str]) -> list[str]:
        """Return the IDs of subjects linked to any of the pseudonyms (empty if none)."""
        rows = conn.execute(_SUBJECTS_BY_PSEUDONYMS, {"tenant": tenant, "ids": list(pseudonyms)}).scalars()
        return sorted(set(rows))

    def pseudonyms_of(self, conn: Connection, tenant: str, subject_ids: Sequence[str]) -> list[str]:
        """Return every pseudonym linked to the given subjects."""
        return sorted(conn.execute(_PSEUDONYMS_OF, {"tenant": tenant, "ids": list(subject_ids)}).scalars())

    def linked(self, conn: Connection, tenant: str, pseudonyms: Sequence[str]) -> set[str]:
        """Return which pseudonyms name a subject that at least one record (not erased) is linked to now."""
        sp, rs = t.subject_pseudonyms.c, t.record_subjects.c
        query = select(sp.pseudonym).where(
            sp.tenant == tenant,
            sp.pseudonym.in_(bindparam("ids", expanding=True)),
            select(rs.record_id).where(rs.subject_id == sp.subject_id).exists(),
        )
        wanted = sorted(set(pseudonyms))
        out: set[str] = set()
        for i in range(0, len(wanted), 500):
            out.update(conn.execute(query, {"ids": wanted[i : i + 500]}).scalars())
        return out
