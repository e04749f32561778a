"""The RAG index as a deletion-bus subscriber: erase or restrict chunks, embeddings and vector rows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from expunge.bus import Event, SubscriberParts, register_subscriber
from expunge.bus.protocol import receipt_for
from expunge.catalog import asset_statuses
from expunge.config import Settings
from expunge.db import utcnow
from expunge.errors import SubscriberFailedError
from expunge.evidence import Receipt, StateDigest, sha256_hex
from expunge.rag._index import ARTIFACT_KINDS, RagIndex, open_index
from expunge.rag._rows import ChunkRow, Fingerprint
from expunge.rag.stores import PurgeStats

__all__ = ["RagSubscriber"]


def _dropped_tags(purge: PurgeStats | None) -> str:
    """The receipt's words for snapshot tags the purge removed because they pinned erased rows (LanceDB)."""
    tags = list((purge.detail if purge else {}).get("tags_dropped") or [])
    if not tags:
        return ""
    return f"; snapshot tag(s) {', '.join(repr(t) for t in tags)} removed: they pinned erased rows"


@register_subscriber("rag")
class RagSubscriber:
    """Apply deletion events to a :class:`RagIndex` (assets ``rag://INDEX/{chunk,embedding,vector_row}/ID``).

    ``erase`` (and ``correct``, whose derived chunks are rebuilt from the new version) takes the chunk out of
    every query and cache at once, purges the store physically, and verifies with the byte probe that no
    vector or text of it is left; a verification that fails is retried after a second purge, then raised, so
    the event goes back to the bus. ``restrict`` (a legal hold) quarantines the chunk: kept, never retrieved.
    A batch of events is applied with one delete, one purge and one verification.

    Args:
        index: The index it acts on.
        digest: Keys the receipts' state digests (the install's, ``expunge.bus.receipt_digest``); default random.
    """

    name = "rag"

    on_demand = True  # the store may not exist yet when a worker starts: built when its first event arrives

    @classmethod
    def configured(cls, parts: SubscriberParts) -> bool:
        """Whether the install names a RAG index to serve (the settings are given)."""
        return parts.settings is not None

    @classmethod
    def from_parts(cls, parts: SubscriberParts) -> RagSubscriber | None:
        """Open the index the settings name (:meth:`from_settings`), or ``None`` when no settings are given."""
        return cls.from_settings(parts.settings, digest=parts.digest) if parts.settings is not None else None

    def __init__(self, index: RagIndex, *, digest: StateDigest | None = None) -> None:
        self.index = index
        self.digest = digest or StateDigest()
        # Fingerprints of chunks deleted by an attempt whose verification failed: a retry (in this process)
        # probes for them again, though their rows are gone. Kept in memory only: they hold personal data.
        self._unverified: dict[str, Fingerprint] = {}

    def _digest(self, rows: Sequence[ChunkRow]) -> str:
        """A keyed digest of rows' state: IDs, content and vector hashes (keyed: a plain hash would let anyone with a
        candidate text and the public embedding model confirm an erased chunk)."""
        return self.digest([[r.chunk_id, r.content_sha256, r.status, sha256_hex(r.vector.tobytes())] for r in rows])

    @classmethod
    def from_settings(cls, settings: Settings, *, digest: StateDigest | None = None) -> RagSubscriber:
        """The subscriber of the index the settings name (deletion never loads the embedding model).

        ``digest``: the install's receipt digest (``expunge.bus.receipt_digest``); default a random key.
        """
        index = open_index(
            settings.resolved_rag_store,
            cache_path=settings.rag_cache_path,
            cache_ttl=settings.rag_cache_ttl_seconds,
            name=settings.rag_index,
        )
        return cls(index, digest=digest)

    def _chunk_id(self, event: Event) -> str:
        _, _, rest = event.uri.partition("://")
        parts = rest.split("/")
        if len(parts) != 3 or parts[1] not in ARTIFACT_KINDS:
            raise SubscriberFailedError(
                f"A rag asset URI is rag://INDEX/KIND/CHUNK_ID with KIND one of {', '.join(ARTIFACT_KINDS)}. "
                f"Got {event.uri!r}."
            )
        if parts[0] != self.index.name:
            raise SubscriberFailedError(
                f"Event {event.id} is for index {parts[0]!r}; this subscriber serves {self.index.name!r}."
            )
        return parts[2]

    def handle(self, event: Event, *, tx: Connection) -> Receipt:
        """Apply one event."""
        return self.handle_many([event], tx=tx)[0]

    def handle_many(self, events: Sequence[Event], *, tx: Connection) -> list[Receipt]:
        """Apply events in one delete, one purge and one verification per operation."""
        started = utcnow()
        erase, restrict = [], []
        for event in events:
            if event.operation in ("erase", "correct"):
                erase.append(event)
            elif event.operation == "restrict":
                restrict.append(event)
            else:
                raise SubscriberFailedError(
                    f"The rag index cannot apply operation {event.operation!r}. Accepted: correct, erase, restrict."
                )
        receipts: dict[str, Receipt] = {}
        if erase:
            receipts |= self._erase(erase, started, tx)
        if restrict:
            receipts |= self._restrict(restrict, started)
        return [receipts[e.id] for e in events]

    def _owned(self, events: Sequence[Event]) -> tuple[list[str], dict[str, ChunkRow], set[str]]:
        """The chunk IDs the events may act on, the rows found, and the IDs of rows of another tenant: those are
        never touched (chunk IDs are global, and a catalog URI could name anyone's chunk)."""
        tenants: dict[str, set[str]] = {}  # chunk ID → tenants of its events, in the events' order
        for e in events:
            tenants.setdefault(self._chunk_id(e), set()).add(e.tenant)
        ids = list(tenants)
        found = {r.chunk_id: r for r in self.index.store.get(ids)}
        before = {c: r for c, r in found.items() if r.tenant in tenants[c]}
        return [c for c in ids if c not in found or c in before], before, set(found) - set(before)

    def _erase(self, events: Sequence[Event], started, tx: Connection) -> dict[str, Receipt]:
        ids, before, others = self._owned(events)
        done = self.index.forget(
            ids, fingerprints=[self._unverified[i] for i in ids if i in self._unverified], rows=list(before.values())
        )
        absence = done.absence
        assert absence is not None
        if done.verified:
            for i in ids:
                self._unverified.pop(i, None)
        else:
            self._unverified |= {fp.chunk_id: fp for fp in done.fingerprints}
            found = sorted({w for where in absence.on_disk.values() for w in where} | set(done.cache_leftovers))
            raise SubscriberFailedError(
                f"Purge could not be verified: {len(absence.recoverable)} chunk(s) retrievable or on disk, "
                f"{len(done.cache_leftovers)} cache leftover(s) ({'; '.join(found[:3])})."
            )
        probed = len(done.fingerprints) - len(absence.shared)
        detail = (
            f"{done.deleted} vector row(s) deleted, {done.cache_evicted} cache entries evicted, store purged; "
            f"byte probe of {probed} content fingerprint(s) and {len(ids)} chunk ID(s) over {absence.files_scanned} "
            f"files ({absence.bytes_scanned} bytes) and the caches found nothing"
            + (f"; {len(absence.shared)} chunk(s) share their content with live chunks" if absence.shared else "")
            + _dropped_tags(done.purge)
        )
        written = self._written_in_catalog(events, tx)
        receipts, seen = {}, set()
        for e in events:  # the same asset twice in a batch: the second delivery found it done
            c = self._chunk_id(e)
            fresh = c in before and before[c].tenant == e.tenant and e.asset_id not in seen
            # No row of this tenant to delete: done before if the catalog says the row was written (active) or
            # erased since — an earlier delivery, or an earlier attempt of this event that died before committing;
            # never there if it was still pending (ingest had not written it; its write now sees the erasure and
            # refuses) or the chunk is another tenant's.
            done_before = e.asset_id in seen or ((e.tenant, e.asset_id) in written and c not in others)
            seen.add(e.asset_id)
            receipts[e.id] = receipt_for(
                e,
                subscriber=self.name,
                operation="erase",
                outcome="applied" if fresh else ("already_applied" if done_before else "not_found"),
                started_at=started,
                before_sha256=self._digest([before[c]] if fresh else []),
                after_sha256=self._digest([]),
                artifact_ids=(c,),
                detail=detail,
            )
        return receipts

    @staticmethod
    def _written_in_catalog(events: Sequence[Event], tx: Connection) -> set[tuple[str, str]]:
        """The ``(tenant, asset)`` pairs of ``events`` whose row the catalog says was stored (any status but
        ``pending``, which means registered and not yet written)."""
        by_tenant: dict[str, list[str]] = {}
        for e in events:
            by_tenant.setdefault(e.tenant, []).append(e.asset_id)
        return {
            (tenant, asset_id)
            for tenant, ids in by_tenant.items()
            for asset_id, (_, status) in asset_statuses(tx, tenant, ids).items()
            if status != "pending"
        }

    def _restrict(self, events: Sequence[Event], started) -> dict[str, Receipt]:
        ids, before, _ = self._owned(events)
        self.index.restrict(ids, rows=list(before.values()))
        after = {r.chunk_id: r for r in self.index.store.get(ids)}
        receipts, seen = {}, set()
        for e in events:
            c = self._chunk_id(e)
            mine = c in before and before[c].tenant == e.tenant
            fresh = mine and before[c].status != "restricted" and e.asset_id not in seen
            seen.add(e.asset_id)
            outcome = "restricted" if e.params.get("hold_ids") else ("applied" if fresh else "already_applied")
            receipts[e.id] = receipt_for(
                e,
                subscriber=self.name,
                operation="restrict",
                outcome=outcome if mine else "not_found",
                started_at=started,
                before_sha256=self._digest([before[c]] if mine else []),
                after_sha256=self._digest([after[c]] if mine and c in after else []),
                artifact_ids=(c,),
                detail="quarantined from retrieval (status restricted), caches evicted; kept, not erased",
            )
        return receipts
