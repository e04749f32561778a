"""The catalog as a subscriber: tombstone erased records, restrict, opt out, correct."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from expunge.bus.protocol import Event, receipt_digest, receipt_for, register_subscriber
from expunge.catalog import Catalog, hold_exception
from expunge.db import utcnow
from expunge.errors import SubscriberFailedError
from expunge.evidence import Receipt, StateDigest

if TYPE_CHECKING:
    from expunge.bus._build import SubscriberParts

__all__ = ["CatalogSubscriber", "guard_in_catalog", "mark_in_catalog"]


@register_subscriber("catalog")
class CatalogSubscriber:
    """Apply record actions to the catalog itself, in the delivery's transaction.

    Args:
        catalog: The catalog to act on.
        digest: Keys the receipts' state digests; default the install's (derived from the catalog's secret).
    """

    name = "catalog"

    @classmethod
    def from_parts(cls, parts: SubscriberParts) -> CatalogSubscriber:
        """Build the install's catalog subscriber (see :func:`~expunge.bus.build_subscribers`)."""
        return cls(parts.catalog, digest=parts.digest)

    def __init__(self, catalog: Catalog, *, digest: StateDigest | None = None) -> None:
        self.catalog = catalog
        self.digest = digest or receipt_digest(catalog.pseudonymizer)
        self._erased = self._digest("erased", [])  # what every erasure leaves: computed once, not per receipt

    def _digest(self, status: str | None, versions: list[str]) -> str:
        return self.digest({"status": status, "versions": versions})

    def _state(self, conn: Connection, tenant: str, asset_id: str) -> str:
        versions = [str(v["content_sha256"]) for v in self.catalog.records.versions(conn, tenant, asset_id)]
        kinds = self.catalog.asset_kinds(conn, tenant, [asset_id])
        status = self.catalog.records.get(conn, tenant, asset_id).status if kinds.get(asset_id) == "record" else None
        return self._digest(status, versions)

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
                    before_sha256=self._digest(result.status_before, versions),
                    after_sha256=self._erased,
                    detail=f"tombstone {tomb.id} supersedes {len(tomb.versions)} version(s)",
                )
        return [r for r in receipts if r is not None]

    def handle(self, event: Event, *, tx: Connection) -> Receipt:
        """Erase (tombstone), restrict, opt out (consent off, as a new version) or correct a record."""
        started = utcnow()
        before = self._state(tx, event.tenant, event.asset_id)
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
                outcome = "restricted"
                detail = f"legal hold {', '.join(event.params['hold_ids'])}: restricted, not erased"
        elif event.operation in ("opt_out", "correct"):
            record = self.catalog.records.get(tx, event.tenant, event.asset_id)
            if record.status == "erased":
                outcome = "already_applied"
            elif event.operation == "opt_out":
                flags = [str(f) for f in event.params.get("consent_off", ("training", "sale", "sharing"))]
                consent = {**record.consent, **dict.fromkeys(flags, False)}
                if consent == record.consent:
                    outcome = "already_applied"
                else:
                    self.catalog.records.add_version(tx, event.tenant, event.asset_id, consent=consent)
            else:
                new_hash = event.params.get("content_sha256")
                if not new_hash:
                    raise SubscriberFailedError(f"Correction event {event.id} carries no new content_sha256.")
                if new_hash == record.content_sha256:
                    outcome = "already_applied"
                else:
                    self.catalog.records.add_version(tx, event.tenant, event.asset_id, content_sha256=str(new_hash))
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
            after_sha256=self._state(tx, event.tenant, event.asset_id),
            detail=detail,
        )


def mark_in_catalog(catalog: Catalog):
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


# Operations a legal hold turns into a restriction (erasing or rebuilding a held asset would destroy it).
_HELD_OPERATIONS = ("erase", "correct")


def guard_in_catalog(catalog: Catalog):
    """Return a dispatcher hook run first in each delivery's transaction: lock the assets, apply holds now.

    - The catalog rows of the events' assets are locked (:meth:`Catalog.lock`), so a writer that stores
      a derived copy under the same lock (the RAG ingest) and this delivery run one after the other:
      whichever commits second sees the other's effect.
    - An erasure or correction of an asset that an active legal hold covers *now* — on itself, on
      anything it was derived from, or on a subject of those records — becomes a restriction, whatever
      the plan said when it was made: a hold placed after approval wins. The event's ``params`` then
      carry ``hold_ids``, ``converted_from`` and the ``exception`` sentence the case will state.

    Sweeps (matched by pseudonym or content in a store) are neither locked nor converted.
    """

    def hook(conn: Connection, events: Sequence[Event]) -> list[Event]:
        by_tenant: dict[str, list[str]] = {}
        for event in events:
            if event.asset_kind != "sweep":
                by_tenant.setdefault(event.tenant, []).append(event.asset_id)
        holds, kinds = {}, {}
        for tenant, ids in by_tenant.items():
            kinds[tenant] = catalog.lock(conn, tenant, ids)
            held = [i for i in ids if kinds[tenant].get(i, ("", ""))[1] != "erased"]
            holds[tenant] = catalog.holds.covering(conn, tenant, held) if held else {}
        out = []
        for event in events:
            found = holds.get(event.tenant, {}).get(event.asset_id)
            if found and event.operation in _HELD_OPERATIONS and event.asset_kind != "sweep":
                hold_ids = [h.id for h in found]
                event = dataclasses.replace(
                    event,
                    operation="restrict",
                    params={
                        "hold_ids": hold_ids,
                        "converted_from": event.operation,
                        "exception": hold_exception(event.asset_kind, event.asset_id, found),
                    },
                )
            out.append(event)
        return out

    return hook
