"""Legal holds as the CLI and the service place and lift them (``gov.holds``)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from expunge.catalog import Catalog, Hold
from expunge.db import Page
from expunge.requests._case import Case
from expunge.requests._journal import CaseJournal
from expunge.requests._reopen import Reopening, blocked_erasures

__all__ = ["LegalHolds"]


class LegalHolds:
    """Place, list and lift legal holds; lifting one re-opens the erasures it blocked.

    Args:
        journal: Opens the journaled transactions a lift files its re-opened requests in.
        catalog: Stores the holds.
        reopen: Files one re-opened erasure inside the lift's transaction (``conn, tenant, owed,
            hold, lifted_by``) and returns its case, or ``None`` when an open request already asks it.
    """

    def __init__(
        self,
        journal: CaseJournal,
        *,
        catalog: Catalog,
        reopen: Callable[[Connection, str, Reopening, Hold, str], Case | None],
    ) -> None:
        self._journal = journal
        self._catalog = catalog
        self._reopen = reopen

    def place(self, tenant: str, target_id: str, *, reason: str, placed_by: str) -> Hold:
        """Place a legal hold on a record, an artifact or a subject: their erasure becomes restriction.

        It takes effect at once, for requests already approved too: every delivery checks the holds
        covering its asset in its own transaction.

        Raises:
            UnknownAssetError: The target is not an asset or subject of this tenant.
            CatalogError: The reason is empty or too long.
        """
        with self._journal.db.begin() as conn:
            return self._catalog.holds.place(conn, tenant, target_id, reason=reason, placed_by=placed_by)

    def list(self, tenant: str, *, limit: int = 100, cursor: str | None = None) -> Page[Hold]:
        """Return a page of the tenant's active holds, newest first (see :class:`~expunge.db.Page`).

        Raises:
            InvalidPageError: ``limit`` is out of range or ``cursor`` is not one this method returned.
        """
        with self._journal.db.read() as conn:
            return self._catalog.holds.page(conn, tenant, limit=limit, cursor=cursor)

    def lift(self, tenant: str, hold_id: str, *, lifted_by: str) -> tuple[Hold, list[Case]]:
        """Lift a hold and, in the same transaction, re-open the erasures it blocked.

        Each erasure or correction case that restricted assets because of the hold gets a new,
        approved erasure request (its own SLA clock, ``params.reopens`` naming the old case) for the
        assets no other hold still covers; it is planned and published at once. Lifting a lifted hold
        changes nothing and re-opens nothing.

        Returns:
            The hold, and the cases filed to re-open what it blocked.

        Raises:
            UnknownAssetError: No such hold in this tenant.
        """
        with self._journal.transaction() as conn:
            was_active = self._catalog.holds.get(conn, tenant, hold_id).active
            hold = self._catalog.holds.lift(conn, tenant, hold_id, lifted_by=lifted_by)
            if not was_active:
                return hold, []
            cases = []
            for owed in blocked_erasures(conn, self._catalog, tenant, hold):
                case = self._reopen(conn, tenant, owed, hold, lifted_by)
                if case is not None:
                    cases.append(case)
        return hold, cases
