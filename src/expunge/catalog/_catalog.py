"""The catalog: artifacts and lineage, erasure and restriction, and its parts (records, subjects, holds, tombstones)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, Connection, and_, exists, func, insert, or_, select

from expunge.catalog import _tables as t
from expunge.catalog._actions import Erasure, activate, asset_kinds, erase_many, lock, restrict_many, statuses
from expunge.catalog._holds import Holds
from expunge.catalog._lineage import descendants
from expunge.catalog._model import (
    ARTIFACT_KINDS,
    ArtifactInfo,
    Tombstone,
    check_choice,
    check_sha256,
    check_tenant,
    check_uri,
    new_id,
)
from expunge.catalog._pseudonym import Pseudonymizer
from expunge.catalog._records import Records
from expunge.catalog._subjects import Subjects
from expunge.catalog._suppress import refuse_tombstoned
from expunge.catalog._tombstones import Tombstones
from expunge.db import utcnow
from expunge.errors import CatalogError, UnknownAssetError

__all__ = ["Catalog"]


class Catalog:
    """Identity and lineage of everything personal data lands in, one tenant at a time.

    Every method takes an open connection, so the caller decides the transaction: a case update and
    its outbox rows commit together. Artifacts, lineage edges, erasure and restriction are methods of
    the catalog itself; its parts are attributes:

    - ``records`` (:class:`Records`): register, version and find records;
    - ``subjects`` (:class:`Subjects`): pseudonyms, subjects, and the erased ones refused from now on;
    - ``holds`` (:class:`Holds`): legal holds, and which holds cover which assets;
    - ``tombstones`` (:class:`Tombstones`): the marks erased assets leave.

    Args:
        pseudonymizer: Turns subject identifiers into pseudonyms; raw identifiers are never stored.
    """

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self.pseudonymizer = pseudonymizer
        self.subjects = Subjects(pseudonymizer)
        self.records = Records(self.subjects)
        self.holds = Holds()
        self.tombstones = Tombstones()

    # --- artifacts and lineage --------------------------------------------------------------------

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
            refuse_tombstoned(conn, tenant, digest)
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
        return asset_kinds(conn, tenant, ids)

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
        held = set(self.holds.direct(conn, tenant, list(dict.fromkeys(i for i, _, _ in items))))
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

    def count(self, conn: Connection, tenant: str) -> dict[str, int]:
        """Return how many records and artifacts the tenant has, by status."""
        out: dict[str, int] = {}
        for name, table in (("records", t.records), ("artifacts", t.artifacts)):
            for status, n in conn.execute(
                select(table.c.status, func.count()).where(table.c.tenant == tenant).group_by(table.c.status)
            ):
                out[f"{name}_{status}"] = n
        return out
