"""The catalog as a subscriber: tombstone erased records, restrict, opt out, correct."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from expunge.bus.protocol import Event, receipt_for, register_subscriber
from expunge.catalog import Catalog
from expunge.db import utcnow
from expunge.errors import SubscriberFailedError
from expunge.evidence import Receipt, canonical, sha256_hex

__all__ = ["CatalogSubscriber", "mark_in_catalog"]


def _digest(status: str | None, versions: list[str]) -> str:
    return sha256_hex(canonical({"status": status, "versions": versions}))


_ERASED = _digest("erased", [])  # what every erasure leaves: computed once, not per receipt


def _state_hash(catalog: Catalog, conn: Connection, tenant: str, asset_id: str) -> str:
    versions = [str(v["content_sha256"]) for v in catalog.versions(conn, tenant, asset_id)]
    kinds = catalog.asset_kinds(conn, tenant, [asset_id])
    status = catalog.get_record(conn, tenant, asset_id).status if kinds.get(asset_id) == "record" else None
    return _digest(status, versions)


@register_subscriber("catalog")
class CatalogSubscriber:
    """Apply record actions to the catalog itself, in the delivery's transaction.

    Args:
        catalog: The catalog to act on.
    """

    name = "catalog"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def handle_many(self, events: Sequence[Event], *, tx: Connection) -> list[Receipt]:
        """Erase many records with a fixed number of statements; other operations go one by one."""
        receipts: list[Receipt | None] = [None] * len(events)
        erasures: dict[str, list[int]] = {}
        for i, event in enumerate(events):
            if event.operation == "erase":
                erasures.setdefault(event.tenant, []).append(i)
            else:
                receipts[i] = self.handle(event, tx=tx)
        for tenant, indexes in erasures.items():
            started = utcnow()
            batch = [events[i] for i in indexes]
            results = self.catalog.erase_many(tx, tenant, [(e.asset_id, e.case_id, e.id) for e in batch])
            finished = utcnow()
            for i, event, result in zip(indexes, batch, results, strict=True):
                tomb = result.tombstone
                versions = [str(v["content_sha256"]) for v in tomb.versions] if result.fresh else []
                receipts[i] = receipt_for(
                    event,
                    subscriber=self.name,
                    operation="erase",
                    outcome="applied" if result.fresh else "already_applied",
                    started_at=started,
                    finished_at=finished,
                    before_sha256=_digest(result.status_before, versions),
                    after_sha256=_ERASED,
                    detail=f"tombstone {tomb.id} supersedes {len(tomb.versions)} version(s)",
                )
        return [r for r in receipts if r is not None]

    def handle(self, event: Event, *, tx: Connection) -> Receipt:
        """Erase (tombstone), restrict, opt out (consent off, as a new version) or correct a record."""
        started = utcnow()
        before = _state_hash(self.catalog, tx, event.tenant, event.asset_id)
        outcome = "applied"
        detail = ""
        if event.operation == "erase":
            tomb, fresh = self.catalog.erase(tx, event.tenant, event.asset_id, case_id=event.case_id, event_id=event.id)
            outcome = "applied" if fresh else "already_applied"
            detail = f"tombstone {tomb.id} supersedes {len(tomb.versions)} version(s)"
        elif event.operation == "restrict":
            changed = self.catalog.restrict(tx, event.tenant, event.asset_id)
            outcome = "applied" if changed else "already_applied"
            if event.params.get("hold_ids"):
                outcome = "restricted_by_hold"
                detail = f"legal hold {', '.join(event.params['hold_ids'])}: restricted, not erased"
        elif event.operation in ("opt_out", "correct"):
            record = self.catalog.get_record(tx, event.tenant, event.asset_id)
            if record.status == "erased":
                outcome = "already_applied"
            elif event.operation == "opt_out":
                flags = [str(f) for f in event.params.get("consent_off", ("training", "sale", "sharing"))]
                consent = {**record.consent, **dict.fromkeys(flags, False)}
                if consent == record.consent:
                    outcome = "already_applied"
                else:
                    self.catalog.add_version(tx, event.tenant, event.asset_id, consent=consent)
            else:
                new_hash = event.params.get("content_sha256")
                if not new_hash:
                    raise SubscriberFailedError(f"Correction event {event.id} carries no new content_sha256.")
                if new_hash == record.content_sha256:
                    outcome = "already_applied"
                else:
                    self.catalog.add_version(tx, event.tenant, event.asset_id, content_sha256=str(new_hash))
        else:
            raise SubscriberFailedError(
                f"The catalog cannot apply operation {event.operation!r}. Accepted: correct, erase, opt_out, restrict."
            )
        return receipt_for(
            event,
            subscriber=self.name,
            outcome=outcome,
            started_at=started,
            before_sha256=before,
            after_sha256=_state_hash(self.catalog, tx, event.tenant, event.asset_id),
            detail=detail,
        )


def mark_in_catalog(catalog: Catalog):  # type: ignore[no-untyped-def]
    """Return a dispatcher hook that mirrors a store's receipt on the artifact's catalog entry.

    After a vector store, a cache or the log store erased or restricted an artifact, the catalog
    marks it so (erase leaves a tombstone). Records are handled by :class:`CatalogSubscriber` itself.
    """

    def hook(conn: Connection, events: Sequence[Event], receipts: Sequence[Receipt]) -> None:
        erase: dict[str, list[Event]] = {}
        restrict: dict[str, list[Event]] = {}
        for event in events:
            if event.asset_kind in ("record", "sweep"):
                continue
            if event.operation == "erase":
                erase.setdefault(event.tenant, []).append(event)
            elif event.operation == "restrict":
                restrict.setdefault(event.tenant, []).append(event)
        for tenant, batch in erase.items():
            catalog.erase_many(conn, tenant, [(e.asset_id, e.case_id, e.id) for e in batch])
        for tenant, batch in restrict.items():
            catalog.restrict_many(conn, tenant, [e.asset_id for e in batch])

    return hook
