"""Records: primary data with immutable versions, entity tags and subjects, and the lookups that find them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, select, update

from expunge.catalog import _tables as t
from expunge.catalog._model import (
    LEGAL_BASES,
    RecordInfo,
    as_utc,
    check_choice,
    check_consent,
    check_sha256,
    check_tenant,
    check_token,
    check_utc,
    new_id,
)
from expunge.catalog._pseudonym import Identifier
from expunge.catalog._subjects import Subjects
from expunge.catalog._suppress import refuse_tombstoned
from expunge.db import utcnow
from expunge.errors import CatalogError, UnknownAssetError

__all__ = ["Records", "check_tags"]

# Built once (constructing a statement costs several times what executing a cached one does).
_IDS = bindparam("ids", expanding=True)
_TENANT = bindparam("tenant")
# Driven by the subject index; a join lets SQLite start from the tenant's records and read them all.
_RECORDS_OF_SUBJECTS = select(t.record_subjects.c.record_id).where(
    t.record_subjects.c.subject_id.in_(_IDS),
    select(t.records.c.id)
    .where(t.records.c.id == t.record_subjects.c.record_id, t.records.c.tenant == _TENANT)
    .exists(),
)
# No DISTINCT (deduplicated in Python): with one, SQLite walks the tenant's (tenant, content_sha256) index.
_CONTENT_OF_RECORDS = select(t.record_versions.c.content_sha256).where(
    t.record_versions.c.tenant == _TENANT, t.record_versions.c.record_id.in_(_IDS)
)


class Records:
    """Register, version and find records (``catalog.records``).

    Args:
        subjects: Links a record to the subjects its identifiers name.
    """

    def __init__(self, subjects: Subjects) -> None:
        self.subjects = subjects

    def register(
        self,
        conn: Connection,
        tenant: str,
        *,
        source: str,
        content_sha256: str,
        purpose: str,
        legal_basis: str,
        subjects: Sequence[Identifier] = (),
        consent: dict[str, bool] | None = None,
        retention_until: datetime | None = None,
        tags: Sequence[str] = (),
    ) -> RecordInfo:
        """Register a record at version 1 and link it to its subjects and entity tags.

        ``retention_until`` must be timezone-aware; it is stored in UTC, so the retention policy erases
        the record at that instant whatever offset it was given in.

        Raises:
            CatalogError: A field is malformed, or ``retention_until`` is naive.
            TombstonedContentError: The same content was erased before in this tenant.
        """
        check_tenant(tenant)
        retention_until = check_utc(retention_until, what="retention date")
        digest = check_sha256(content_sha256)
        if not isinstance(source, str) or not 0 < len(source) <= 512:
            raise CatalogError(f"The record source must be 1-512 characters. Got {len(str(source))}.")
        tags = check_tags(tags)
        refuse_tombstoned(conn, tenant, digest)
        now = utcnow()
        record_id = new_id("rec")
        conn.execute(
            insert(t.records).values(
                id=record_id,
                tenant=tenant,
                source=source,
                status="active",
                current_version=1,
                created_at=now,
                updated_at=now,
            )
        )
        self._insert_version(
            conn,
            tenant,
            record_id,
            1,
            digest=digest,
            purpose=purpose,
            legal_basis=legal_basis,
            consent=consent or {},
            retention_until=retention_until,
        )
        if subjects:
            subject_id = self.subjects.ensure(conn, tenant, subjects)
            conn.execute(insert(t.record_subjects).values(record_id=record_id, subject_id=subject_id))
        if tags:
            conn.execute(insert(t.record_tags), [{"record_id": record_id, "tenant": tenant, "tag": g} for g in tags])
        return self.get(conn, tenant, record_id)

    def add_version(
        self,
        conn: Connection,
        tenant: str,
        record_id: str,
        *,
        content_sha256: str | None = None,
        purpose: str | None = None,
        legal_basis: str | None = None,
        consent: dict[str, bool] | None = None,
        retention_until: datetime | None = None,
    ) -> RecordInfo:
        """Add a new immutable version of a record; unspecified fields carry over from the current one.

        Raises:
            UnknownAssetError: No such record in this tenant.
            CatalogError: The record is erased, a field is malformed, or ``retention_until`` is naive
                (it must be timezone-aware; it is stored in UTC).
        """
        retention_until = check_utc(retention_until, what="retention date")
        current = self.get(conn, tenant, record_id)
        if current.status == "erased":
            raise CatalogError(f"Record {record_id} is erased; it cannot get a new version.")
        digest = check_sha256(content_sha256) if content_sha256 is not None else current.content_sha256
        if digest != current.content_sha256:
            refuse_tombstoned(conn, tenant, digest)
        version = current.version + 1
        self._insert_version(
            conn,
            tenant,
            record_id,
            version,
            digest=digest,
            purpose=purpose or current.purpose,
            legal_basis=legal_basis or current.legal_basis,
            consent=current.consent if consent is None else consent,
            retention_until=retention_until or current.retention_until,
        )
        conn.execute(
            update(t.records).where(t.records.c.id == record_id).values(current_version=version, updated_at=utcnow())
        )
        return self.get(conn, tenant, record_id)

    def _insert_version(self, conn: Connection, tenant: str, record_id: str, version: int, **fields: Any) -> None:
        conn.execute(
            insert(t.record_versions).values(
                record_id=record_id,
                version=version,
                tenant=tenant,
                content_sha256=fields["digest"],
                purpose=check_token(fields["purpose"], what="purpose"),
                legal_basis=check_choice(fields["legal_basis"], LEGAL_BASES, what="legal basis"),
                consent=check_consent(fields["consent"]),
                retention_until=fields["retention_until"],
                created_at=utcnow(),
            )
        )

    def get(self, conn: Connection, tenant: str, record_id: str) -> RecordInfo:
        """Return a record with its current version.

        Raises:
            UnknownAssetError: No such record in this tenant.
        """
        rec = conn.execute(select(t.records).where(t.records.c.id == record_id, t.records.c.tenant == tenant)).first()
        if rec is None:
            raise UnknownAssetError(f"No record {record_id!r} in tenant {tenant!r}.")
        ver = conn.execute(
            select(t.record_versions).where(
                t.record_versions.c.record_id == record_id, t.record_versions.c.version == rec.current_version
            )
        ).first()
        tags = conn.execute(
            select(t.record_tags.c.tag).where(t.record_tags.c.record_id == record_id).order_by("tag")
        ).scalars()
        return RecordInfo(
            id=rec.id,
            tenant=rec.tenant,
            source=rec.source,
            status=rec.status,
            version=rec.current_version,
            content_sha256=ver.content_sha256 if ver else None,
            purpose=ver.purpose if ver else None,
            legal_basis=ver.legal_basis if ver else None,
            consent=dict(ver.consent) if ver else {},
            retention_until=as_utc(ver.retention_until) if ver else None,
            tags=tuple(tags),
        )

    def versions(self, conn: Connection, tenant: str, record_id: str) -> list[dict[str, object]]:
        """Return every stored version of a record, oldest first."""
        rows = conn.execute(
            select(t.record_versions)
            .where(t.record_versions.c.record_id == record_id, t.record_versions.c.tenant == tenant)
            .order_by(t.record_versions.c.version)
        ).mappings()
        return [dict(r) for r in rows]

    def by_subjects(self, conn: Connection, tenant: str, subject_ids: Sequence[str]) -> list[str]:
        """Return the IDs of records linked to any of the subjects."""
        rows = conn.execute(_RECORDS_OF_SUBJECTS, {"tenant": tenant, "ids": list(subject_ids)}).scalars()
        return sorted(set(rows))

    def by_content(self, conn: Connection, tenant: str, digests: Sequence[str]) -> list[str]:
        """Return the IDs of records any version of which has one of the content hashes."""
        digests = [check_sha256(d) for d in digests]
        rows = conn.execute(
            select(t.record_versions.c.record_id)
            .where(t.record_versions.c.tenant == tenant, t.record_versions.c.content_sha256.in_(digests))
            .distinct()
        ).scalars()
        return sorted(rows)

    def by_tags(self, conn: Connection, tenant: str, tags: Sequence[str]) -> list[str]:
        """Return the IDs of records carrying any of the entity tags."""
        rows = conn.execute(
            select(t.record_tags.c.record_id)
            .where(t.record_tags.c.tenant == tenant, t.record_tags.c.tag.in_(check_tags(tags)))
            .distinct()
        ).scalars()
        return sorted(rows)

    def content_hashes(self, conn: Connection, tenant: str, record_ids: Sequence[str]) -> list[str]:
        """Return every content hash of every version of the records."""
        rows: set[str] = set()
        ids = list(record_ids)
        for i in range(0, len(ids), 500):
            rows.update(conn.execute(_CONTENT_OF_RECORDS, {"tenant": tenant, "ids": ids[i : i + 500]}).scalars())
        return sorted(rows)

    def expired(self, conn: Connection, tenant: str, *, now: datetime | None = None) -> list[str]:
        """Return active records whose current version's retention date has passed.

        Raises:
            CatalogError: ``now`` is naive.
        """
        rows = conn.execute(
            select(t.records.c.id)
            .join(
                t.record_versions,
                and_(
                    t.record_versions.c.record_id == t.records.c.id,
                    t.record_versions.c.version == t.records.c.current_version,
                ),
            )
            .where(
                t.records.c.tenant == tenant,
                t.records.c.status != "erased",
                t.record_versions.c.retention_until <= (check_utc(now, what="time") or utcnow()),
            )
        ).scalars()
        return sorted(rows)


def check_tags(tags: Sequence[str]) -> list[str]:
    """Return entity tags sorted and deduplicated.

    Raises:
        CatalogError: ``tags`` is a single string, or a tag is empty, longer than 256 characters or padded.
    """
    if isinstance(tags, str):
        raise CatalogError(f"Entity tags must be a list of strings. Got the single string {tags[:80]!r}.")
    out = []
    for tag in tags:
        if not isinstance(tag, str) or not 0 < len(tag) <= 256 or tag != tag.strip():
            raise CatalogError(
                f"An entity tag must be 1-256 characters without surrounding spaces. Got {str(tag)[:80]!r}."
            )
        out.append(tag)
    return sorted(set(out))
