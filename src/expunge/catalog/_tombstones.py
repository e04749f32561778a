"""Tombstones: the marks erased assets leave, and the erased content refused from then on."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, exists, select

from expunge.catalog import _tables as t
from expunge.catalog._actions import tombstoned
from expunge.catalog._model import Tombstone
from expunge.catalog._suppress import tombstoned_content

__all__ = ["Tombstones"]


class Tombstones:
    """Read the tombstones of erased assets (``catalog.tombstones``); erasing writes them (:meth:`Catalog.erase`).

    Stateless: every method takes the open connection whose transaction it joins.
    """

    def get(self, conn: Connection, tenant: str, asset_id: str) -> Tombstone | None:
        """Return the tombstone of an erased asset, or ``None``."""
        row = conn.execute(
            select(t.tombstones).where(t.tombstones.c.asset_id == asset_id, t.tombstones.c.tenant == tenant)
        ).first()
        if row is None:
            return None
        data = dict(row._mapping)
        data["versions"] = tuple(data["versions"])
        return Tombstone(**data)

    def of(self, conn: Connection, tenant: str, asset_ids: Sequence[str]) -> set[str]:
        """Return which of the given assets have a tombstone."""
        return tombstoned(conn, tenant, list(dict.fromkeys(asset_ids)))

    def exists(self, tenant: ColumnElement[str], asset_id: ColumnElement[str]) -> ColumnElement[bool]:
        """Return an SQL ``EXISTS`` that is true when the asset has a tombstone (to check many in one query)."""
        return exists().where(t.tombstones.c.tenant == tenant, t.tombstones.c.asset_id == asset_id)

    def content(self, conn: Connection, tenant: str, digests: Sequence[str]) -> set[str]:
        """Return which content fingerprints were erased before in ``tenant`` (and so are refused)."""
        return tombstoned_content(conn, tenant, digests)
