"""Lineage: walk ``derived_from`` edges down from records to everything built from them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from expunge.catalog import _tables as t
from expunge.catalog._model import Asset

__all__ = ["ancestors", "closure", "descendants", "openlineage_events"]

_BATCH = 500
SUBJECT_FACET_SCHEMA = "https://expunge.dev/spec/facets/1-0-0/SubjectLineageFacet.json"


# Built once (constructing a statement costs several times what executing a cached one does).
_IDS = bindparam("ids", expanding=True)
_TENANT = bindparam("tenant")
_CHILDREN = select(t.lineage_edges.c.child_id, t.lineage_edges.c.parent_id).where(
    t.lineage_edges.c.tenant == _TENANT, t.lineage_edges.c.parent_id.in_(_IDS)
)
_PARENTS = select(t.lineage_edges.c.child_id, t.lineage_edges.c.parent_id).where(
    t.lineage_edges.c.tenant == _TENANT, t.lineage_edges.c.child_id.in_(_IDS)
)
_RECORDS = select(t.records.c.id, t.records.c.status).where(t.records.c.tenant == _TENANT, t.records.c.id.in_(_IDS))
_ARTIFACTS = select(t.artifacts.c.id, t.artifacts.c.kind, t.artifacts.c.uri, t.artifacts.c.status).where(
    t.artifacts.c.tenant == _TENANT, t.artifacts.c.id.in_(_IDS)
)


def _children(conn: Connection, tenant: str, parents: Sequence[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for i in range(0, len(parents), _BATCH):
        out.extend(conn.execute(_CHILDREN, {"tenant": tenant, "ids": parents[i : i + _BATCH]}).all())
    return out


def _walk(conn: Connection, tenant: str, start: Iterable[str]) -> tuple[dict[str, int], dict[str, set[str]]]:
    depth = {s: 0 for s in start}
    parents: dict[str, set[str]] = {s: set() for s in depth}
    frontier = sorted(depth)
    level = 0
    while frontier:
        level += 1
        nxt = []
        for child, parent in _children(conn, tenant, frontier):
            parents.setdefault(child, set()).add(parent)
            if child not in depth:
                depth[child] = level
                nxt.append(child)
        frontier = sorted(nxt)
    return depth, parents


def descendants(conn: Connection, tenant: str, start: Iterable[str]) -> set[str]:
    """Return every asset derived, directly or not, from any of ``start`` (``start`` excluded)."""
    start = set(start)
    depth, _ = _walk(conn, tenant, start)
    return set(depth) - start


def ancestors(conn: Connection, tenant: str, start: Iterable[str]) -> dict[str, set[str]]:
    """Return, for each of ``start``, every asset it was derived from, directly or not (itself excluded).

    Walks ``derived_from`` edges up, one statement per level and 500 IDs, by the edges' primary key.
    """
    up: dict[str, set[str]] = {}
    visited = set(start)
    frontier = sorted(visited)
    while frontier:
        nxt = set()
        for i in range(0, len(frontier), _BATCH):
            for child, parent in conn.execute(_PARENTS, {"tenant": tenant, "ids": frontier[i : i + _BATCH]}):
                up.setdefault(child, set()).add(parent)
                nxt.add(parent)
        frontier = sorted(nxt - visited)
        visited |= nxt
    out: dict[str, set[str]] = {}
    for asset_id in set(start):
        seen: set[str] = set()
        stack = list(up.get(asset_id, ()))
        while stack:
            parent = stack.pop()
            if parent not in seen:
                seen.add(parent)
                stack.extend(up.get(parent, ()))
        out[asset_id] = seen
    return out


def closure(
    conn: Connection, tenant: str, record_ids: Iterable[str], *, artifact_ids: Iterable[str] = ()
) -> list[Asset]:
    """Return the records (and artifacts) given and everything derived from them, nearest first.

    Each asset appears once with its shortest distance from a starting asset and the parents
    through which it was reached. IDs of other tenants are never followed.
    """
    record_ids = sorted(set(record_ids))
    known = {}
    for i in range(0, len(record_ids), _BATCH):
        for row in conn.execute(_RECORDS, {"tenant": tenant, "ids": record_ids[i : i + _BATCH]}):
            known[row.id] = row
    roots = set(known)
    starts = sorted(set(artifact_ids))
    for i in range(0, len(starts), _BATCH):  # artifacts named directly start the walk too (this tenant's only)
        roots.update(row.id for row in conn.execute(_ARTIFACTS, {"tenant": tenant, "ids": starts[i : i + _BATCH]}))
    depth, parents = _walk(conn, tenant, roots)
    artifact_rows = {}
    ids = sorted(set(depth) - set(known))
    for i in range(0, len(ids), _BATCH):
        for row in conn.execute(_ARTIFACTS, {"tenant": tenant, "ids": ids[i : i + _BATCH]}):
            artifact_rows[row.id] = row
    assets = []
    for asset_id, d in depth.items():
        if asset_id in known:
            rec = known[asset_id]
            assets.append(Asset(asset_id, "record", f"catalog://records/{asset_id}", rec.status, d))
        elif asset_id in artifact_rows:
            art = artifact_rows[asset_id]
            assets.append(Asset(asset_id, art.kind, art.uri, art.status, d, tuple(sorted(parents[asset_id]))))
    return sorted(assets, key=lambda a: (a.depth, a.id))


def openlineage_events(
    assets: Sequence[Asset],
    *,
    namespace: str,
    subject_pseudonyms: Sequence[str] = (),
    event_time: datetime,
    producer: str = "https://github.com/expunge/expunge",
) -> list[dict[str, Any]]:
    """Export a lineage closure as OpenLineage ``COMPLETE`` run events, one per derived asset.

    Each derived asset is the output dataset of a run whose inputs are its parents. A custom
    ``subjectLineage`` facet carries the subject pseudonyms (never raw identifiers).
    """
    events = []
    for asset in assets:
        if not asset.parents:
            continue
        facet = {
            "_producer": producer,
            "_schemaURL": SUBJECT_FACET_SCHEMA,
            "assetKind": asset.kind,
            "subjectPseudonyms": list(subject_pseudonyms),
        }
        events.append(
            {
                "eventType": "COMPLETE",
                "eventTime": event_time.isoformat(),
                "producer": producer,
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent",
                "run": {"runId": asset.id.split("_", 1)[1]},
                "job": {"namespace": namespace, "name": f"derive_{asset.kind}"},
                "inputs": [{"namespace": namespace, "name": p} for p in asset.parents],
                "outputs": [{"namespace": namespace, "name": asset.id, "facets": {"subjectLineage": facet}}],
            }
        )
    return events
