"""The catalog: register records, artifacts, lineage and holds; erase and restrict them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, bindparam, exists, func, insert, or_, select, update

from expunge.catalog import _tables as t
from expunge.catalog._actions import Erasure, activate, erase_many, lock, restrict_many, statuses, tombstoned
from expunge.catalog._holds import HoldsMixin
from expunge.catalog._lineage import descendants
from expunge.catalog._model import (
    ARTIFACT_KINDS,
    LEGAL_BASES,
    ArtifactInfo,
    RecordInfo,
    Tombstone,
    as_utc,
    check_choice,
    check_consent,
    check_sha256,
    check_tenant,
    check_token,
    check_uri,
    check_utc,
    new_id,
)
from expunge.catalog._pseudonym import Identifier, Pseudonymizer
from expunge.catalog._suppress import suppress, suppressed, tombstoned_content
from expunge.db import utcnow
from expunge.errors import CatalogError, SuppressedSubjectError, TombstonedContentError, UnknownAssetError

__all__ = ["Catalog"]

# Built once (constructing a statement costs several times what executing a cached one does).
_IDS = bindparam("ids", expanding=True)
_TENANT = bindparam("tenant")
_SUBJECTS_BY_PSEUDONYMS = select(t.subject_pseudonyms.c.subject_id).where(
    t.subject_pseudonyms.c.tenant == _TENANT, t.subject_pseudonyms.c.pseudonym.in_(_IDS)
)
_PSEUDONYMS_OF = select(t.subject_pseudonyms.c.pseudonym).where(
    t.subject_pseudonyms.c.tenant == _TENANT, t.subject_pseudonyms.c.subject_id.in_(_IDS)
)
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


class Catalog(HoldsMixin):
    """Identity and lineage of everything personal data lands in, one tenant at a time.

    Every method takes an open connection, so the caller decides the transaction: a case update and
    its outbox rows commit together.

    Args:
        pseudonymizer: Turns subject identifiers into pseudonyms; raw identifiers are never stored.
    """

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self.pseudonymizer = pseudonymizer

    # --- subjects ---------------------------------------------------------------------------------

    def pseudonyms(self, tenant: str, identifiers: Iterable[Identifier]) -> list[str]:
        """Return the pseudonym of each identifier within ``tenant``, in order."""
        check_tenant(tenant)
        return [self.pseudonymizer.pseudonym(tenant, ident) for ident in identifiers]

    def ensure_subject(self, conn: Connection, tenant: str, identifiers: Sequence[Identifier]) -> str:
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

    def link_subject(self, conn: Connection, tenant: str, record_id: str, identifiers: Sequence[Identifier]) -> str:
        """Link one more subject, known by ``identifiers``, to a record (a document may mention many people).

        Idempotent; returns the subject ID.

        Raises:
            UnknownAssetError: No such record in this tenant.
        """
        if self.asset_kinds(conn, tenant, [record_id]).get(record_id) != "record":
            raise UnknownAssetError(f"No record {record_id!r} in tenant {tenant!r}.")
        subject_id = self.ensure_subject(conn, tenant, identifiers)
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

    def tombstoned_content(self, conn: Connection, tenant: str, digests: Sequence[str]) -> set[str]:
        """Return which content fingerprints were erased before in ``tenant`` (and so are refused)."""
        return tombstoned_content(conn, tenant, digests)

    def find_subjects(self, conn: Connection, tenant: str, identifiers: Sequence[Identifier]) -> list[str]:
        """Return the IDs of subjects known by any of ``identifiers`` (empty if none)."""
        pseudonyms = self.pseudonyms(tenant, identifiers)
        rows = conn.execute(
            select(t.subject_pseudonyms.c.subject_id)
            .where(t.subject_pseudonyms.c.tenant == tenant, t.subject_pseudonyms.c.pseudonym.in_(pseudonyms))
            .distinct()
        ).scalars()
        return sorted(rows)

    def subjects_by_pseudonyms(self, conn: Connection, tenant: str, pseudonyms: Sequence[str]) -> list[str]:
        """Return the IDs of subjects linked to any of the pseudonyms (empty if none)."""
        rows = conn.execute(_SUBJECTS_BY_PSEUDONYMS, {"tenant": tenant, "ids": list(pseudonyms)}).scalars()
        return sorted(set(rows))

    def subject_pseudonyms(self, conn: Connection, tenant: str, subject_ids: Sequence[str]) -> list[str]:
        """Return every pseudonym linked to the given subjects."""
        return sorted(conn.execute(_PSEUDONYMS_OF, {"tenant": tenant, "ids": list(subject_ids)}).scalars())

    # --- records ----------------------------------------------------------------------------------

    def register_record(
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
        tags = _check_tags(tags)
        self._refuse_tombstoned(conn, tenant, digest)
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
            subject_id = self.ensure_subject(conn, tenant, subjects)
            conn.execute(insert(t.record_subjects).values(record_id=record_id, subject_id=subject_id))
        if tags:
            conn.execute(insert(t.record_tags), [{"record_id": record_id, "tenant": tenant, "tag": g} for g in tags])
        return self.get_record(conn, tenant, record_id)

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
        current = self.get_record(conn, tenant, record_id)
        if current.status == "erased":
            raise CatalogError(f"Record {record_id} is erased; it cannot get a new version.")
        digest = check_sha256(content_sha256) if content_sha256 is not None else current.content_sha256
        if digest != current.content_sha256:
            self._refuse_tombstoned(conn, tenant, digest)
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
        return self.get_record(conn, tenant, record_id)

    def _insert_version(self, conn: Connection, tenant: str, record_id: str, version: int, **fields) -> None:  # type: ignore[no-untyped-def]
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

    def _refuse_tombstoned(self, conn: Connection, tenant: str, digest: str) -> None:
        row = conn.execute(
            select(t.tombstoned_content.c.tombstone_id).where(
                t.tombstoned_content.c.tenant == tenant, t.tombstoned_content.c.content_sha256 == digest
            )
        ).first()
        if row is not None:
            raise TombstonedContentError(
                f"Content {digest} was erased in this tenant (tombstone {row.tombstone_id}); "
                "it cannot be registered again."
            )

    def get_record(self, conn: Connection, tenant: str, record_id: str) -> RecordInfo:
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

    def linked_pseudonyms(self, conn: Connection, tenant: str, pseudonyms: Sequence[str]) -> set[str]:
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

    def records_by_subjects(self, conn: Connection, tenant: str, subject_ids: Sequence[str]) -> list[str]:
        """Return the IDs of records linked to any of the subjects."""
        rows = conn.execute(_RECORDS_OF_SUBJECTS, {"tenant": tenant, "ids": list(subject_ids)}).scalars()
        return sorted(set(rows))

    def records_by_content(self, conn: Connection, tenant: str, digests: Sequence[str]) -> list[str]:
        """Return the IDs of records any version of which has one of the content hashes."""
        digests = [check_sha256(d) for d in digests]
        rows = conn.execute(
            select(t.record_versions.c.record_id)
            .where(t.record_versions.c.tenant == tenant, t.record_versions.c.content_sha256.in_(digests))
            .distinct()
        ).scalars()
        return sorted(rows)

    def records_by_tags(self, conn: Connection, tenant: str, tags: Sequence[str]) -> list[str]:
        """Return the IDs of records carrying any of the entity tags."""
        rows = conn.execute(
            select(t.record_tags.c.record_id)
            .where(t.record_tags.c.tenant == tenant, t.record_tags.c.tag.in_(_check_tags(tags)))
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

    def expired_records(self, conn: Connection, tenant: str, *, now: datetime | None = None) -> list[str]:
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

    # --- artifacts --------------------------------------------------------------------------------

    def register_artifact(
        self,
        conn: Connection,
        tenant: str,
        *,
        kind: str,
        uri: str,
        derived_from: Sequence[str] = (),
        content_sha256: str | None = None,
        pending: bool = False,
    ) -> ArtifactInfo:
        """Register an artifact held at ``uri`` and its ``derived_from`` parents.

        ``content_sha256`` fingerprints its content (after whatever normalisation the writer applies):
        erasing the artifact tombstones it, and registering tombstoned content again is refused.
        With ``pending``, the artifact is not stored yet: its writer stores it later under
        :meth:`lock` and then calls :meth:`activate`, so an erasure accepted meanwhile wins.

        Raises:
            CatalogError: Unknown kind or malformed URI or fingerprint.
            UnknownAssetError: A parent is not a record or artifact of this tenant.
            TombstonedContentError: The same content was erased before in this tenant.
        """
        check_tenant(tenant)
        check_choice(kind, ARTIFACT_KINDS, what="artifact kind")
        check_uri(uri)
        digest = check_sha256(content_sha256) if content_sha256 is not None else None
        if digest is not None:
            self._refuse_tombstoned(conn, tenant, digest)
        now = utcnow()
        artifact_id = new_id("art")
        conn.execute(
            insert(t.artifacts).values(
                id=artifact_id,
                tenant=tenant,
                kind=kind,
                uri=uri,
                status="pending" if pending else "active",
                created_at=now,
                updated_at=now,
                content_sha256=digest,
            )
        )
        if derived_from:
            self.link(conn, tenant, artifact_id, derived_from)
        return self.get_artifact(conn, tenant, artifact_id)

    def get_artifact(self, conn: Connection, tenant: str, artifact_id: str) -> ArtifactInfo:
        """Return an artifact.

        Raises:
            UnknownAssetError: No such artifact in this tenant.
        """
        row = conn.execute(
            select(t.artifacts).where(t.artifacts.c.id == artifact_id, t.artifacts.c.tenant == tenant)
        ).first()
        if row is None:
            raise UnknownAssetError(f"No artifact {artifact_id!r} in tenant {tenant!r}.")
        return ArtifactInfo(id=row.id, tenant=row.tenant, kind=row.kind, uri=row.uri, status=row.status)

    def link(self, conn: Connection, tenant: str, child_id: str, parent_ids: Sequence[str]) -> None:
        """Record that ``child_id`` is derived from each of ``parent_ids`` (idempotent).

        Raises:
            UnknownAssetError: The child or a parent is not an asset of this tenant.
            CatalogError: An edge would make an asset derived from itself.
        """
        wanted = {child_id, *parent_ids}
        known = self.asset_kinds(conn, tenant, wanted)
        if missing := sorted(wanted - known.keys()):
            raise UnknownAssetError(f"No asset {missing[0]!r} in tenant {tenant!r}; register it first.")
        if known[child_id] == "record":
            raise CatalogError(f"Record {child_id} is primary data; only artifacts can be derived_from.")
        below = descendants(conn, tenant, [child_id])
        if cycle := sorted(set(parent_ids) & below):
            raise CatalogError(f"{cycle[0]} is already derived from {child_id}; the edge would make a cycle.")
        existing = set(
            conn.execute(select(t.lineage_edges.c.parent_id).where(t.lineage_edges.c.child_id == child_id)).scalars()
        )
        rows = [
            {"tenant": tenant, "child_id": child_id, "parent_id": p, "created_at": utcnow()}
            for p in sorted(set(parent_ids) - existing)
        ]
        if rows:
            conn.execute(insert(t.lineage_edges), rows)

    def asset_kinds(self, conn: Connection, tenant: str, ids: Iterable[str]) -> dict[str, str]:
        """Return ``{id: kind}`` for the given IDs that are records ("record") or artifacts here."""
        ids = list(ids)
        out = {
            r: "record"
            for r in conn.execute(
                select(t.records.c.id).where(t.records.c.tenant == tenant, t.records.c.id.in_(ids))
            ).scalars()
        }
        for row in conn.execute(
            select(t.artifacts.c.id, t.artifacts.c.kind).where(
                t.artifacts.c.tenant == tenant, t.artifacts.c.id.in_(ids)
            )
        ):
            out[row.id] = row.kind
        return out

    # --- actions ----------------------------------------------------------------------------------

    def erase(
        self, conn: Connection, tenant: str, asset_id: str, *, case_id: str | None, event_id: str | None
    ) -> tuple[Tombstone, bool]:
        """Erase an asset: drop a record's versions, tags and subject links and leave a tombstone.

        Idempotent: erasing an erased asset returns its tombstone and ``False``.

        Returns:
            The tombstone, and whether this call erased the asset.

        Raises:
            UnknownAssetError: No such asset in this tenant.
            CatalogError: The asset is under an active legal hold.
        """
        (result,) = self.erase_many(conn, tenant, [(asset_id, case_id, event_id)])
        return result.tombstone, result.fresh

    def erase_many(
        self, conn: Connection, tenant: str, items: Sequence[tuple[str, str | None, str | None]]
    ) -> list[Erasure]:
        """Erase many assets at once; ``items`` are ``(asset_id, case_id, event_id)``.

        Raises:
            UnknownAssetError: An asset is not a record or artifact of this tenant.
            CatalogError: An asset not yet erased is under an active legal hold.
        """
        held = set(self.holds_for(conn, tenant, list(dict.fromkeys(i for i, _, _ in items))))
        return erase_many(conn, tenant, items, held=held)

    def restrict(self, conn: Connection, tenant: str, asset_id: str) -> bool:
        """Quarantine an asset from retrieval and training without deleting it.

        Returns:
            Whether the status changed (``False`` if already restricted or erased).

        Raises:
            UnknownAssetError: No such asset in this tenant.
        """
        return restrict_many(conn, tenant, [asset_id])[0]

    def restrict_many(self, conn: Connection, tenant: str, asset_ids: Sequence[str]) -> list[bool]:
        """Quarantine many assets; return per asset whether its status changed.

        Raises:
            UnknownAssetError: An asset is not a record or artifact of this tenant.
        """
        return restrict_many(conn, tenant, asset_ids)

    def allowed(self, conn: Connection, tenant: str, asset_ids: Sequence[str], *, use: str) -> set[str]:
        """Return which assets may be used for ``use`` right now: the hard filter for retrieval and training.

        An asset is allowed when it is active (not restricted, not erased); a record must also not have
        its current consent flag for ``use`` set to false. Unknown IDs are not allowed.

        Args:
            conn: An open connection.
            tenant: The tenant that owns the assets.
            asset_ids: Candidate record or artifact IDs (e.g. retrieval hits, a training manifest).
            use: ``retrieval`` or ``training``.

        Raises:
            CatalogError: ``use`` is not retrieval or training.
        """
        check_choice(use, ("retrieval", "training"), what="use")
        states = statuses(conn, tenant, list(dict.fromkeys(asset_ids)))
        active = {i for i, (_, status) in states.items() if status == "active"}
        records = [i for i in active if states[i][0] == "record"]
        for i in range(0, len(records), 500):
            for row in conn.execute(
                select(t.record_versions.c.record_id, t.record_versions.c.consent)
                .join(
                    t.records,
                    and_(
                        t.records.c.id == t.record_versions.c.record_id,
                        t.records.c.current_version == t.record_versions.c.version,
                    ),
                )
                .where(t.records.c.id.in_(records[i : i + 500]))
            ):
                if row.consent.get(use) is False:
                    active.discard(row.record_id)
        return active

    def statuses(self, conn: Connection, tenant: str, asset_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Return ``{id: (kind, status)}`` for the given IDs that are records or artifacts of this tenant."""
        return statuses(conn, tenant, list(dict.fromkeys(asset_ids)))

    def lock(self, conn: Connection, tenant: str, asset_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Lock the assets' catalog rows for the rest of the transaction; return ``{id: (kind, status)}``.

        A writer of derived copies (the RAG ingest) and the deliveries of erasures both lock the
        assets they act on, so an accepted erasure and a concurrent write are ordered, never
        interleaved (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time).
        """
        return lock(conn, tenant, list(asset_ids))

    def activate(self, conn: Connection, tenant: str, asset_ids: Sequence[str]) -> int:
        """Mark ``pending`` artifacts ``active`` once stored (call under :meth:`lock`); return how many changed."""
        return activate(conn, tenant, list(asset_ids))

    def tombstoned(self, conn: Connection, tenant: str, asset_ids: Sequence[str]) -> set[str]:
        """Return which of the given assets have a tombstone."""
        return tombstoned(conn, tenant, list(dict.fromkeys(asset_ids)))

    def tombstone_exists(self, tenant: ColumnElement[str], asset_id: ColumnElement[str]) -> ColumnElement[bool]:
        """Return an SQL ``EXISTS`` that is true when the asset has a tombstone (to check many in one query)."""
        return exists().where(t.tombstones.c.tenant == tenant, t.tombstones.c.asset_id == asset_id)

    def quarantined(self, tenant: ColumnElement[str], asset_id: ColumnElement[str]) -> ColumnElement[bool]:
        """Return an SQL expression that is true when the record or artifact exists and is restricted or erased."""
        return or_(
            *(
                exists().where(
                    table.c.tenant == tenant, table.c.id == asset_id, table.c.status.in_(("restricted", "erased"))
                )
                for table in (t.records, t.artifacts)
            )
        )

    def tombstone(self, conn: Connection, tenant: str, asset_id: str) -> Tombstone | None:
        """Return the tombstone of an erased asset, or ``None``."""
        row = conn.execute(
            select(t.tombstones).where(t.tombstones.c.asset_id == asset_id, t.tombstones.c.tenant == tenant)
        ).first()
        if row is None:
            return None
        data = dict(row._mapping)
        data["versions"] = tuple(data["versions"])
        return Tombstone(**data)

    def count(self, conn: Connection, tenant: str) -> dict[str, int]:
        """Return how many records and artifacts the tenant has, by status."""
        out: dict[str, int] = {}
        for name, table in (("records", t.records), ("artifacts", t.artifacts)):
            for status, n in conn.execute(
                select(table.c.status, func.count()).where(table.c.tenant == tenant).group_by(table.c.status)
            ):
                out[f"{name}_{status}"] = n
        return out


def _check_tags(tags: Sequence[str]) -> list[str]:
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
