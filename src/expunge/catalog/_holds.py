"""Legal holds: place, lift, list, and which holds cover which assets."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Select, bindparam, insert, select, update

from expunge.catalog import _tables as t
from expunge.catalog._actions import asset_kinds
from expunge.catalog._lineage import ancestors
from expunge.catalog._model import Hold, check_id, new_id
from expunge.db import Page, keyset_page, utcnow
from expunge.errors import CatalogError, UnknownAssetError

__all__ = ["Holds", "hold_exception"]

# Built once (constructing a statement costs several times what executing a cached one does).
_IDS = bindparam("ids", expanding=True)
_OWNERS = select(t.record_subjects.c.record_id, t.record_subjects.c.subject_id).where(
    t.record_subjects.c.record_id.in_(_IDS)
)
_ACTIVE_HOLDS = select(t.holds).where(
    t.holds.c.tenant == bindparam("tenant"), t.holds.c.target_id.in_(_IDS), t.holds.c.lifted_at.is_(None)
)


def hold_exception(kind: str, asset_id: str, holds: Sequence[Hold]) -> str:
    """The sentence a case states for an asset that legal holds keep: which holds, why, and what was done."""
    ids = sorted({h.id for h in holds})
    reasons = "; ".join(sorted({h.reason for h in holds}))
    return (
        f"{kind} {asset_id} is under legal hold {', '.join(ids)} ({reasons}): "
        "restricted from retrieval and training, not erased."
    )


def _holds(tenant: str, *, active_only: bool) -> Select:
    query = select(t.holds).where(t.holds.c.tenant == tenant)
    if active_only:
        query = query.where(t.holds.c.lifted_at.is_(None))
    return query


class Holds:
    """Legal holds of the catalog (``catalog.holds``): place, lift, list, and which holds cover which assets.

    Stateless: every method takes the open connection whose transaction it joins.
    """

    def place(self, conn: Connection, tenant: str, target_id: str, *, reason: str, placed_by: str) -> Hold:
        """Place a legal hold on a record, an artifact or a subject.

        Raises:
            UnknownAssetError: The target is not an asset or subject of this tenant.
            CatalogError: The reason is empty or longer than 1024 characters.
        """
        check_id(target_id, what="hold target")
        if not isinstance(reason, str) or not 0 < len(reason.strip()) <= 1024:
            raise CatalogError("A hold needs a reason of 1-1024 characters, e.g. the matter it preserves.")
        is_subject = conn.execute(
            select(t.subjects.c.id).where(t.subjects.c.id == target_id, t.subjects.c.tenant == tenant)
        ).first()
        if not is_subject and not asset_kinds(conn, tenant, [target_id]):
            raise UnknownAssetError(f"No record, artifact or subject {target_id!r} in tenant {tenant!r}.")
        hold_id = new_id("hld")
        conn.execute(
            insert(t.holds).values(
                id=hold_id,
                tenant=tenant,
                target_id=target_id,
                reason=reason.strip(),
                placed_by=placed_by,
                placed_at=utcnow(),
            )
        )
        return self.get(conn, tenant, hold_id)

    def lift(self, conn: Connection, tenant: str, hold_id: str, *, lifted_by: str) -> Hold:
        """Lift a hold; lifting an already lifted hold changes nothing.

        Raises:
            UnknownAssetError: No such hold in this tenant.
        """
        hold = self.get(conn, tenant, hold_id)
        if hold.active:
            conn.execute(update(t.holds).where(t.holds.c.id == hold_id).values(lifted_at=utcnow(), lifted_by=lifted_by))
        return self.get(conn, tenant, hold_id)

    def get(self, conn: Connection, tenant: str, hold_id: str) -> Hold:
        """Return a hold.

        Raises:
            UnknownAssetError: No such hold in this tenant.
        """
        row = conn.execute(select(t.holds).where(t.holds.c.id == hold_id, t.holds.c.tenant == tenant)).first()
        if row is None:
            raise UnknownAssetError(f"No hold {hold_id!r} in tenant {tenant!r}.")
        return Hold(**row._mapping)

    def list(self, conn: Connection, tenant: str, *, active_only: bool = True) -> list[Hold]:
        """Return the tenant's holds, newest first."""
        query = _holds(tenant, active_only=active_only).order_by(t.holds.c.placed_at.desc())
        return [Hold(**r._mapping) for r in conn.execute(query)]

    def page(self, conn: Connection, tenant: str, *, limit: int = 100, cursor: str | None = None) -> Page[Hold]:
        """Return one page of the tenant's active holds, newest first.

        Args:
            conn: An open connection.
            tenant: The tenant whose holds are listed.
            limit: Page size, 1 to 1000.
            cursor: ``next_cursor`` of the previous page; ``None`` for the first.

        Raises:
            InvalidPageError: ``limit`` is out of range or ``cursor`` is not one this list handed out.
        """
        page = keyset_page(
            conn,
            _holds(tenant, active_only=True),
            at=t.holds.c.placed_at,
            key=t.holds.c.id,
            descending=True,
            limit=limit,
            cursor=cursor,
        )
        return page.map(lambda r: Hold(**r._mapping))

    def direct(self, conn: Connection, tenant: str, asset_ids: Sequence[str]) -> dict[str, list[Hold]]:
        """Return the active holds covering each asset: on the asset itself or on a subject of a record."""
        ids = list(asset_ids)
        owners = []
        for i in range(0, len(ids), 500):
            owners.extend(conn.execute(_OWNERS, {"ids": ids[i : i + 500]}).all())
        targets = sorted(set(ids) | {o.subject_id for o in owners})
        active = []
        for i in range(0, len(targets), 500):
            chunk = targets[i : i + 500]
            active.extend(Hold(**r._mapping) for r in conn.execute(_ACTIVE_HOLDS, {"tenant": tenant, "ids": chunk}))
        by_target: dict[str, list[Hold]] = {}
        for hold in active:
            by_target.setdefault(hold.target_id, []).append(hold)
        subjects_of: dict[str, list[str]] = {}
        for owner in owners:
            subjects_of.setdefault(owner.record_id, []).append(owner.subject_id)
        out: dict[str, list[Hold]] = {}
        for asset_id in asset_ids:
            found = list(by_target.get(asset_id, []))
            for subject_id in subjects_of.get(asset_id, ()):
                found.extend(by_target.get(subject_id, []))
            if found:
                out[asset_id] = found
        return out

    def covering(self, conn: Connection, tenant: str, asset_ids: Sequence[str]) -> dict[str, list[Hold]]:
        """Return the active holds covering each asset now, lineage included.

        A hold covers an asset when it is placed on the asset, on anything the asset was derived from
        (a chunk of a held record is a copy of it), or on a subject of any of those records. Assets
        that no hold covers are left out.
        """
        up = ancestors(conn, tenant, asset_ids)
        everything = sorted(set(asset_ids).union(*up.values()))
        direct = self.direct(conn, tenant, everything)
        out: dict[str, list[Hold]] = {}
        for asset_id in dict.fromkeys(asset_ids):
            found = {h.id: h for a in (asset_id, *up.get(asset_id, ())) for h in direct.get(a, [])}
            if found:
                out[asset_id] = [found[k] for k in sorted(found)]
        return out
