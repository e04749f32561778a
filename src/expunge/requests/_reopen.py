"""What a lifted legal hold leaves owed: the erasures it blocked, re-opened as new requests.

A hold turns an erasure into a restriction (at planning or at delivery). When it is lifted, the data
it kept is still restricted but no longer owed to anyone's claim, so the erasure is owed again:
:meth:`LegalHolds.lift` (``gov.holds.lift``) files one new, already approved erasure per blocked case, with its own
SLA clock, naming the assets to erase (``params.asset_ids``) and the case it re-opens
(``params.reopens``). Assets still covered by another active hold stay restricted; lifting that hold
re-opens them in turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select

from expunge.catalog import Catalog, Hold, ancestors, closure
from expunge.requests import _tables as t
from expunge.requests._case import MAX_SELECTORS

__all__ = ["Reopening", "blocked_erasures"]

# Scopes whose restricted-by-hold assets are owed an erasure once the hold is gone.
_ERASING_SCOPES = ("erasure", "correction")
_ACTIONS_OF_ASSETS = (
    select(t.actions.c.case_id, t.actions.c.asset_id, t.cases.c.regulation)
    .join(t.cases, t.cases.c.id == t.actions.c.case_id)
    .where(
        t.actions.c.asset_id.in_(bindparam("ids", expanding=True)),
        t.actions.c.operation == "restrict",
        t.actions.c.exception.is_not(None),
        t.cases.c.tenant == bindparam("tenant"),
        t.cases.c.scope.in_(_ERASING_SCOPES),
    )
)


@dataclass(frozen=True)
class Reopening:
    """One erasure to file again: the case it continues, its regulation, and the assets to name.

    ``asset_ids`` are the topmost of the kept assets (the others are derived from them and follow by
    lineage), at most ``MAX_SELECTORS`` per reopening.
    """

    reopens: str
    regulation: str
    asset_ids: tuple[str, ...]


def blocked_erasures(conn: Connection, catalog: Catalog, tenant: str, hold: Hold) -> list[Reopening]:
    """Return the erasures that ``hold`` blocked and that nothing blocks any more (call it after the lift).

    The assets are those the hold covered (its target, what was derived from it, and for a subject
    every record of theirs and what was derived from those), not erased, with a restriction action
    carrying a hold exception in an erasure or correction case (delivered or not yet), and covered by
    no active hold.
    """
    covered = _covered(conn, catalog, tenant, hold.target_id)
    states = catalog.statuses(conn, tenant, covered)
    # Restricted, or still active/pending when the restriction the hold caused is not delivered yet: either way
    # the erasure is owed (if the restriction lands after the re-opened erasure, it finds the asset erased).
    kept = [i for i in covered if states.get(i, ("", ""))[1] != "erased"]
    if not kept:
        return []
    still_held = catalog.holds.covering(conn, tenant, kept)
    free = [i for i in kept if i not in still_held]
    by_case: dict[str, tuple[str, set[str]]] = {}
    for i in range(0, len(free), 500):
        for case_id, asset_id, regulation in conn.execute(
            _ACTIONS_OF_ASSETS, {"ids": free[i : i + 500], "tenant": tenant}
        ):
            by_case.setdefault(case_id, (regulation, set()))[1].add(asset_id)
    out = []
    for case_id in sorted(by_case):
        regulation, assets = by_case[case_id]
        roots = _roots(conn, tenant, sorted(assets))
        for i in range(0, len(roots), MAX_SELECTORS):
            out.append(Reopening(case_id, regulation, tuple(roots[i : i + MAX_SELECTORS])))
    return out


def _covered(conn: Connection, catalog: Catalog, tenant: str, target_id: str) -> list[str]:
    kinds = catalog.asset_kinds(conn, tenant, [target_id])
    if target_id not in kinds:  # a subject: every record of theirs
        records = catalog.records.by_subjects(conn, tenant, [target_id])
        assets = closure(conn, tenant, records)
    elif kinds[target_id] == "record":
        assets = closure(conn, tenant, [target_id])
    else:
        assets = closure(conn, tenant, [], artifact_ids=[target_id])
    return [a.id for a in assets]


def _roots(conn: Connection, tenant: str, assets: Sequence[str]) -> list[str]:
    """The assets none of whose ancestors is among ``assets``."""
    among = set(assets)
    up = ancestors(conn, tenant, assets)
    return sorted(a for a in assets if not up.get(a, set()) & among)
