"""Erase and restrict many assets with a fixed number of statements, whatever their number."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from expunge.catalog import _tables as t
from expunge.catalog._model import Tombstone, new_id
from expunge.db import utcnow
from expunge.errors import CatalogError, UnknownAssetError

__all__ = [
    "Erasure",
    "activate",
    "asset_kinds",
    "erase_many",
    "lock",
    "restrict_many",
    "statuses",
    "tombstoned",
    "tombstones",
]

_BATCH = 500

# Built once (constructing a statement costs several times what executing a cached one does).
_IDS = bindparam("ids", expanding=True)
_TENANT = bindparam("tenant")
_RECORD_STATES = select(t.records.c.id, t.records.c.status).where(
    t.records.c.tenant == _TENANT, t.records.c.id.in_(_IDS)
)
_ARTIFACT_STATES = select(t.artifacts.c.id, t.artifacts.c.kind, t.artifacts.c.status).where(
    t.artifacts.c.tenant == _TENANT, t.artifacts.c.id.in_(_IDS)
)
# The same lookups taking row locks (PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the one writer lock).
_LOCK_RECORDS = _RECORD_STATES.with_for_update()
_LOCK_ARTIFACTS = _ARTIFACT_STATES.with_for_update()
_TOMBSTONES = select(t.tombstones).where(t.tombstones.c.tenant == _TENANT, t.tombstones.c.asset_id.in_(_IDS))
_TOMBSTONED = select(t.tombstones.c.asset_id).where(t.tombstones.c.tenant == _TENANT, t.tombstones.c.asset_id.in_(_IDS))
_VERSIONS = (
    select(t.record_versions.c.record_id, t.record_versions.c.version, t.record_versions.c.content_sha256)
    .where(t.record_versions.c.record_id.in_(_IDS))
    .order_by(t.record_versions.c.record_id, t.record_versions.c.version)
)
_ARTIFACT_DIGESTS = select(t.artifacts.c.id, t.artifacts.c.content_sha256).where(
    t.artifacts.c.id.in_(_IDS), t.artifacts.c.content_sha256.is_not(None)
)
_TAKEN_CONTENT = select(t.tombstoned_content.c.content_sha256).where(
    t.tombstoned_content.c.tenant == _TENANT, t.tombstoned_content.c.content_sha256.in_(_IDS)
)
_DROP_RECORD_ROWS = [
    delete(table).where(table.c.record_id.in_(_IDS)) for table in (t.record_versions, t.record_tags, t.record_subjects)
]
_MARK = {table.name: update(table).where(table.c.id.in_(_IDS)) for table in (t.records, t.artifacts)}
_ACTIVATE = (
    update(t.artifacts)
    .where(t.artifacts.c.tenant == bindparam("b_tenant"), t.artifacts.c.id.in_(_IDS), t.artifacts.c.status == "pending")
    .values(status="active", updated_at=bindparam("b_now"))
)


@dataclass(frozen=True)
class Erasure:
    """The outcome of erasing one asset.

    Attributes:
        tombstone: The asset's tombstone (new or pre-existing).
        fresh: Whether this call erased it (``False``: it already was).
        kind: ``record`` or the artifact kind.
        status_before: The asset's status before the call.
    """

    tombstone: Tombstone
    fresh: bool
    kind: str
    status_before: str


def _chunks(ids: Sequence[str]):
    for i in range(0, len(ids), _BATCH):
        yield ids[i : i + _BATCH]


def statuses(conn: Connection, tenant: str, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Return ``{id: (kind, status)}`` of the records and artifacts among ``ids``."""
    out: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(ids):
        for asset_id, status in conn.execute(_RECORD_STATES, {"tenant": tenant, "ids": chunk}):
            out[asset_id] = ("record", status)
        missing = [i for i in chunk if i not in out]
        if missing:
            for asset_id, kind, status in conn.execute(_ARTIFACT_STATES, {"tenant": tenant, "ids": missing}):
                out[asset_id] = (kind, status)
    return out


def asset_kinds(conn: Connection, tenant: str, ids: Iterable[str]) -> dict[str, str]:
    """Return ``{id: kind}`` for the given IDs that are records (``"record"``) or artifacts of ``tenant``."""
    ids = list(ids)
    out = {
        r: "record"
        for r in conn.execute(
            select(t.records.c.id).where(t.records.c.tenant == tenant, t.records.c.id.in_(ids))
        ).scalars()
    }
    for row in conn.execute(
        select(t.artifacts.c.id, t.artifacts.c.kind).where(t.artifacts.c.tenant == tenant, t.artifacts.c.id.in_(ids))
    ):
        out[row.id] = row.kind
    return out


def lock(conn: Connection, tenant: str, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Lock the catalog rows of ``ids`` until the transaction ends and return ``{id: (kind, status)}``.

    Two transactions that lock the same asset run one after the other: an erasure's delivery and a
    writer that stores a derived copy of the asset (a vector row) cannot interleave, so whichever
    commits second sees what the first did.
    """
    out: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(sorted(set(ids))):
        for asset_id, status in conn.execute(_LOCK_RECORDS, {"tenant": tenant, "ids": chunk}):
            out[asset_id] = ("record", status)
        missing = [i for i in chunk if i not in out]
        if missing:
            for asset_id, kind, status in conn.execute(_LOCK_ARTIFACTS, {"tenant": tenant, "ids": missing}):
                out[asset_id] = (kind, status)
    return out


def tombstones(conn: Connection, tenant: str, ids: Sequence[str]) -> dict[str, Tombstone]:
    """Return the tombstones of the erased assets among ``ids``, by asset ID."""
    out = {}
    for chunk in _chunks(ids):
        for row in conn.execute(_TOMBSTONES, {"tenant": tenant, "ids": chunk}):
            data = dict(row._mapping)
            data["versions"] = tuple(data["versions"])
            out[row.asset_id] = Tombstone(**data)
    return out


def tombstoned(conn: Connection, tenant: str, ids: Sequence[str]) -> set[str]:
    """Return which of ``ids`` have a tombstone (without reading the tombstones themselves)."""
    out: set[str] = set()
    for chunk in _chunks(ids):
        out.update(conn.execute(_TOMBSTONED, {"tenant": tenant, "ids": chunk}).scalars())
    return out


def erase_many(
    conn: Connection,
    tenant: str,
    items: Sequence[tuple[str, str | None, str | None]],
    *,
    held: set[str],
) -> list[Erasure]:
    """Erase assets, leaving a tombstone each; already erased ones are reported, not touched again.

    Args:
        conn: The caller's transaction.
        tenant: The tenant owning every asset.
        items: ``(asset_id, case_id, event_id)`` per asset, in the order results are wanted.
        held: IDs under an active legal hold (the caller computes them).

    Raises:
        UnknownAssetError: An asset is not a record or artifact of this tenant.
        CatalogError: An asset is under legal hold.
    """
    ids = list(dict.fromkeys(asset_id for asset_id, _, _ in items))
    states = statuses(conn, tenant, ids)
    if missing := [i for i in ids if i not in states]:
        raise UnknownAssetError(f"No record or artifact {missing[0]!r} in tenant {tenant!r}.")
    existing = tombstones(conn, tenant, ids)
    todo = [i for i in ids if i not in existing]
    if blocked := [i for i in todo if i in held]:
        raise CatalogError(f"{blocked[0]} is under legal hold; restrict it instead of erasing.")
    records = [i for i in todo if states[i][0] == "record"]
    artifacts = [i for i in todo if states[i][0] != "record"]
    versions: dict[str, list[dict[str, object]]] = {r: [] for r in records}
    for chunk in _chunks(records):
        for record_id, version, digest in conn.execute(_VERSIONS, {"ids": chunk}):
            versions[record_id].append({"version": version, "content_sha256": digest})
    now = utcnow()
    first = {}
    for asset_id, case_id, event_id in items:
        first.setdefault(asset_id, (case_id, event_id))
    fresh: dict[str, Tombstone] = {}
    for asset_id in todo:
        case_id, event_id = first[asset_id]
        fresh[asset_id] = Tombstone(
            id=new_id("tmb"),
            tenant=tenant,
            asset_id=asset_id,
            asset_kind=states[asset_id][0],
            case_id=case_id,
            event_id=event_id,
            versions=tuple(versions.get(asset_id, [])),
            created_at=now,
        )
    if fresh:
        conn.execute(
            insert(t.tombstones),
            [{**tomb.__dict__, "versions": list(tomb.versions)} for tomb in fresh.values()],
        )
    digests = {str(v["content_sha256"]): fresh[r].id for r in records for v in versions[r]}
    for chunk in _chunks(artifacts):  # artifacts registered with a content fingerprint
        for artifact_id, digest in conn.execute(_ARTIFACT_DIGESTS, {"ids": chunk}):
            digests.setdefault(digest, fresh[artifact_id].id)
    if digests:
        taken = set()
        for chunk in _chunks(sorted(digests)):
            taken.update(conn.execute(_TAKEN_CONTENT, {"tenant": tenant, "ids": chunk}).scalars())
        if rows := [
            {"tenant": tenant, "content_sha256": d, "tombstone_id": tomb}
            for d, tomb in digests.items()
            if d not in taken
        ]:
            conn.execute(insert(t.tombstoned_content), rows)
    for chunk in _chunks(records):
        for statement in _DROP_RECORD_ROWS:
            conn.execute(statement, {"ids": chunk})
        conn.execute(_MARK["catalog_records"], {"ids": chunk, "status": "erased", "updated_at": now})
    for chunk in _chunks(artifacts):
        conn.execute(_MARK["catalog_artifacts"], {"ids": chunk, "status": "erased", "updated_at": now})
    out = []
    seen: set[str] = set()
    for asset_id, _, _ in items:
        is_fresh = asset_id in fresh and asset_id not in seen
        seen.add(asset_id)
        tomb = fresh.get(asset_id) or existing[asset_id]
        out.append(Erasure(tomb, is_fresh, states[asset_id][0], states[asset_id][1] if is_fresh else "erased"))
    return out


def activate(conn: Connection, tenant: str, ids: Sequence[str]) -> int:
    """Mark ``pending`` artifacts ``active`` (their writer stored them); return how many changed.

    Call it under :func:`lock`: an artifact erased or restricted meanwhile is not ``pending`` any more
    and keeps its status.
    """
    now = utcnow()
    changed = 0
    for chunk in _chunks(sorted(set(ids))):
        changed += conn.execute(_ACTIVATE, {"b_tenant": tenant, "ids": chunk, "b_now": now}).rowcount
    return changed


def restrict_many(conn: Connection, tenant: str, asset_ids: Sequence[str]) -> list[bool]:
    """Quarantine assets from retrieval and training; return per asset whether its status changed.

    Raises:
        UnknownAssetError: An asset is not a record or artifact of this tenant.
    """
    ids = list(dict.fromkeys(asset_ids))
    states = statuses(conn, tenant, ids)
    if missing := [i for i in ids if i not in states]:
        raise UnknownAssetError(f"No record or artifact {missing[0]!r} in tenant {tenant!r}.")
    active = [i for i in ids if states[i][1] in ("active", "pending")]
    now = utcnow()
    for table, kind_is_record in ((t.records, True), (t.artifacts, False)):
        chosen = [i for i in active if (states[i][0] == "record") == kind_is_record]
        for chunk in _chunks(chosen):
            conn.execute(_MARK[table.name], {"ids": chunk, "status": "restricted", "updated_at": now})
    changed, seen = [], set()
    for asset_id in asset_ids:
        changed.append(states[asset_id][1] in ("active", "pending") and asset_id not in seen)
        seen.add(asset_id)
    return changed
