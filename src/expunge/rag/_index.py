"""The RAG index: ingest with identity, retrieval under hard filters, answers, and forgetting that is proven."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from expunge.catalog import Catalog, Identifier, Mention
from expunge.db import Database
from expunge.errors import RagError, TombstonedContentError
from expunge.rag._answer import Answer, EntityCheck, ExtractiveAnswerer, Generator
from expunge.rag._cache import MemoryCache, TaggedCache
from expunge.rag._calibrate import Calibration, calibrate
from expunge.rag._embed import Embedder
from expunge.rag._ingest import Chunk, ChunkConfig, Document, Person, chunk_document, find_people, mentions
from expunge.rag._linked import catalog_names, subject_chunks
from expunge.rag._names import NameFinder
from expunge.rag._probe import scan_files
from expunge.rag._rows import ChunkRow, Fingerprint, Hit, content_fingerprint
from expunge.rag.stores import Absence, PurgeStats, VectorStore

__all__ = ["Forgotten", "IngestReport", "RagIndex", "Retrieval", "chunk_uri", "content_tag", "open_index"]

ARTIFACT_KINDS = ("chunk", "embedding", "vector_row")
# Purges per forget before the verification's failure is raised (and the bus retries the event later):
# a Chroma rebuild now and then writes stale memory holding deleted vectors into its fresh index file.
PURGE_ATTEMPTS = 3
# The cut-off of an index nobody calibrated (see rag/_calibrate.py for the calibrated one).
DEFAULT_MAX_DISTANCE = 0.75
# Candidates searched for a question that names someone: the entity check keeps those that mention them, so
# the person's chunk must be among the candidates even when other people's tickets are nearer (MiniLM weighs
# names lightly: on the 2,000-document demo corpus a person's own ticket is often not in the top 5).
ENTITY_POOL = 100
# Chunks of the subjects a question names added to its candidates, at most.
LINKED_CHUNKS = 1000
# Larger than any cosine distance: a search that keeps every hit.
_NO_CUTOFF = 2.0


def chunk_uri(index: str, kind: str, chunk_id: str) -> str:
    """The catalog URI of a chunk's artifact of ``kind`` (routed to the ``rag`` subscriber)."""
    return f"rag://{index}/{kind}/{chunk_id}"


def content_tag(content_sha256: str) -> str:
    """The cache tag of everything computed from a piece of content."""
    return f"sha256:{content_sha256}"


@dataclass
class IngestReport:
    """What an ingest did."""

    documents: int = 0
    chunks: int = 0
    unchanged: int = 0
    embedded: int = 0
    embeddings_reused: int = 0
    refused: list[str] = field(default_factory=list)
    chunk_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Retrieval:
    """The chunks a query may see, nearest first, and whether they came from the cache."""

    hits: tuple[Hit, ...]
    cached: bool = False

    @property
    def chunk_ids(self) -> list[str]:
        """IDs of the hits, in order."""
        return [h.row.chunk_id for h in self.hits]


@dataclass(frozen=True)
class Forgotten:
    """What forgetting some chunks did, step by step, with the proof."""

    requested: tuple[str, ...]
    deleted: int
    cache_evicted: int
    exclude_ms: float
    purge: PurgeStats | None
    absence: Absence | None
    cache_leftovers: tuple[str, ...] = ()
    fingerprints: tuple[Fingerprint, ...] = field(default=(), repr=False)

    @property
    def verified(self) -> bool:
        """True when the chunks were purged and nothing of them was found anywhere."""
        return self.absence is not None and self.absence.ok and not self.cache_leftovers


class RagIndex:
    """Chunks of documents in a vector store, with their caches and (optionally) their catalog lineage.

    Args:
        store: Where the chunk rows live.
        embedder: Makes the vectors; its ``model_id`` is stored with each and filtered on at query time.
        cache: The tagged cache (embedding, retrieval and generation namespaces).
        name: The index name used in catalog URIs (``rag://NAME/chunk/ID``).
        catalog, db: When given, every document, chunk, embedding and vector row is registered with lineage.
        generator: Answers from retrieved chunks; default: extractive, with this index's entity check.
        max_distance: Cosine distance beyond which a chunk does not count as an answer source; default: the
            calibration's if given, else :data:`DEFAULT_MAX_DISTANCE`.
        named_max_distance: The same for a question naming someone, applied after the entity check kept the
            chunks that mention them; default: the calibration's, else :data:`DEFAULT_MAX_DISTANCE`.
        chunking: How documents are cut.
        phone_region: Country (ISO 3166-1 alpha-2) of phone numbers written without country code; default: the
            catalog's, so ingest links numbers the way intake pseudonymises them.
        entities: The entity check of answers; default: :class:`EntityCheck` with spaCy, loaded on first answer.
        check_entities: False turns the entity check off, here and in the default generator (what answers did
            before it existed; the answers benchmark measures both).
        calibration: A calibrated cut-off (see :meth:`calibrate`), applied when it was measured with this
            index's embedding model.
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        *,
        cache: TaggedCache | None = None,
        name: str = "default",
        catalog: Catalog | None = None,
        db: Database | None = None,
        generator: Generator | None = None,
        max_distance: float | None = None,
        named_max_distance: float | None = None,
        chunking: ChunkConfig | None = None,
        phone_region: str | None = None,
        entities: EntityCheck | None = None,
        check_entities: bool = True,
        calibration: Calibration | None = None,
    ) -> None:
        if (catalog is None) != (db is None):
            raise RagError("Give both a catalog and its database, or neither.")
        catalog_region = catalog.pseudonymizer.phone_region if catalog is not None else None
        if catalog is not None and phone_region is not None and phone_region != catalog_region:
            raise RagError(
                f"The index reads phone numbers in region {phone_region!r} but its catalog pseudonymises them in "
                f"{catalog_region!r}; they must agree (EXPUNGE_DEFAULT_PHONE_REGION sets both)."
            )
        self.store = store
        self.embedder = embedder
        self.cache = cache if cache is not None else MemoryCache()
        self.name = name
        self.catalog = catalog
        self.db = db
        self.phone_region = phone_region if catalog is None else catalog_region
        self.entities = (entities or EntityCheck(region=self.phone_region)) if check_entities else None
        self.generator = generator or ExtractiveAnswerer(entities=self.entities, check_entities=check_entities)
        self.calibration: Calibration | None = None
        self.max_distance = self.named_max_distance = DEFAULT_MAX_DISTANCE
        if calibration is not None and calibration.embedding_model == embedder.model_id:
            self.apply(calibration)
        if max_distance is not None:
            self.max_distance = max_distance
        if named_max_distance is not None:
            self.named_max_distance = named_max_distance
        self.chunking = chunking or ChunkConfig()

    # --- ingest -----------------------------------------------------------------------------------

    def ingest(
        self,
        documents: Sequence[Document],
        *,
        people: Sequence[Person] = (),
        names: NameFinder | None = None,
        **record: str,
    ) -> IngestReport:
        """Chunk, embed, register and store ``documents`` (one embedding batch and one store write).

        A document whose chunks are already stored unchanged is skipped; a changed one becomes a new version
        (the old chunks stop being ``latest``). Content erased before in the tenant is refused (reported, not
        stored). Each document is registered in the catalog in its own transaction before its rows are
        written, so nothing lands in the store that the catalog does not know. ``record`` overrides the
        catalog record's ``purpose`` and ``legal_basis``.

        Each person a document mentions is linked to its record as a subject of their own (see
        :func:`find_people`): the ``people`` given (a subject list), every e-mail address and phone number in
        the text, and every name ``names`` finds (e.g. :class:`SpacyNameFinder`; None: no names beyond
        ``people``).
        """
        report = IngestReport()
        latest: dict[tuple[str, str], list[ChunkRow]] = {}
        doc_ids = sorted({d.id for d in documents})
        for i in range(0, len(doc_ids), 500):
            for row in self.store.get(self.store.ids({"doc_id": doc_ids[i : i + 500], "latest": True})):
                latest.setdefault((row.tenant, row.doc_id), []).append(row)
        changed: list[tuple[Document, int, list[Chunk]]] = []
        assets: dict[str, list[str]] = {}  # chunk ID → the catalog IDs its row derives from (record included)
        for doc in documents:
            report.documents += 1
            old = latest.get((doc.tenant, doc.id), [])
            version = max((r.version for r in old), default=0) + 1
            chunks = chunk_document(doc, version, self.chunking, people, region=self.phone_region)
            if old and sorted(r.content_sha256 for r in old) == sorted(c.content_sha256 for c in chunks):
                report.unchanged += 1
                continue
            changed.append((doc, version, chunks))
        found = names.find([doc.text for doc, _, _ in changed]) if names is not None and changed else None
        pending: list[tuple[Document, int, list[Chunk]]] = []
        for i, (doc, version, chunks) in enumerate(changed):
            mentioned = find_people(doc.text, people, names=found[i] if found else (), region=self.phone_region)
            try:
                kept, ids, why = self._register(doc, chunks, mentioned, record)
            except TombstonedContentError as err:
                report.refused.append(f"{doc.source}: {err.message}")
                continue
            if why:
                report.refused.append(f"{doc.source}: {why}")
            if kept:
                assets |= ids
                pending.append((doc, version, kept))
        if not pending:
            return report
        chunks = [c for _, _, cs in pending for c in cs]
        vectors = iter(self._embed(chunks, report))
        rows = [
            ChunkRow(
                chunk_id=c.chunk_id,
                doc_id=doc.id,
                tenant=doc.tenant,
                acl=doc.acl,
                version=version,
                latest=True,
                status="active",
                embedding_model=self.embedder.model_id,
                content_sha256=c.content_sha256,
                text=c.text,
                vector=next(vectors),
            )
            for doc, version, cs in pending
            for c in cs
        ]
        rows, erased = self._write(rows, assets)
        for doc, _, cs in pending:
            lost = sum(c.chunk_id in erased for c in cs)
            if lost:
                report.refused.append(
                    f"{doc.source}: {lost} chunk(s) erased by a request while the document was being ingested; "
                    "not stored"
                )
        replaced = [r.chunk_id for doc, _, _ in pending for r in latest.get((doc.tenant, doc.id), [])]
        if replaced:
            self.store.update(replaced, latest=False)
        # Answers computed before these documents arrived are stale.
        self.cache.evict(sorted({f"tenant:{doc.tenant}" for doc, _, _ in pending}))
        report.chunks = len(rows)
        report.chunk_ids = [r.chunk_id for r in rows]
        return report

    def _write(self, rows: list[ChunkRow], assets: dict[str, list[str]]) -> tuple[list[ChunkRow], set[str]]:
        """Store the rows under the catalog lock of their assets, so an accepted erasure always wins.

        Registering, embedding and writing take seconds; an erasure may be delivered in between. The
        chunk's artifacts are registered ``pending``; the rows are written inside a transaction that
        locks every asset they derive from (the record, the chunk, its embedding and vector row),
        the lock a delivery takes first (:func:`~expunge.bus.guard_in_catalog`), and marked
        ``active`` in it: either the erasure committed before — its assets read ``erased`` here and
        the row is never written (its receipt said ``not_found``) — or it waits and finds the row. A
        chunk restricted meanwhile (a hold, a restriction request) is written ``restricted``.

        Returns:
            The rows written, and the IDs of the chunks left out because they were erased.
        """
        if self.catalog is None or self.db is None:
            self.store.upsert(rows)
            return rows, set()
        with self.db.begin() as conn:
            states: dict[str, tuple[str, str]] = {}
            by_tenant: dict[str, list[str]] = {}
            for row in rows:
                by_tenant.setdefault(row.tenant, []).extend(assets.get(row.chunk_id, ()))
            for tenant, ids in by_tenant.items():
                states |= self.catalog.lock(conn, tenant, ids)
            keep, erased = [], set()
            for row in rows:
                found = {states.get(a, ("", "erased"))[1] for a in assets.get(row.chunk_id, ())}
                if "erased" in found:
                    erased.add(row.chunk_id)
                elif "restricted" in found:
                    keep.append(dataclasses.replace(row, status="restricted"))
                else:
                    keep.append(row)
            self.store.upsert(keep)
            for tenant, ids in by_tenant.items():  # stored: a delivery that finds no row now means done before
                self.catalog.activate(conn, tenant, ids)
        return keep, erased

    def _register(
        self, doc: Document, chunks: list[Chunk], mentioned: Sequence[Person], record: dict[str, str]
    ) -> tuple[list[Chunk], dict[str, list[str]], str]:
        """Register the document, the people it mentions and its chunks' artifacts, refusing erased content.

        What an accepted erasure refuses (see docs/rag.md, "Erased content does not come back"): a document whose
        normalised text (:func:`~expunge.rag.normalise_text`) was erased (the whole document is refused, by
        the catalog's tombstone); a chunk whose normalised text was erased; a chunk naming a person whose
        erasure was accepted (the suppression list). The rest of the document is ingested, and the people it
        names who were erased are not linked to it.

        Returns:
            The chunks kept, the catalog IDs each kept chunk's row derives from (record first), and a
            sentence saying what was left out (empty when nothing was).

        Raises:
            TombstonedContentError: The whole document, normalised, was erased before.
        """
        if self.catalog is None or self.db is None:
            return chunks, {}, ""
        out: dict[str, list[str]] = {}
        with self.db.begin() as conn:
            erased_people = [
                p for p in mentioned if any(self.catalog.subjects.suppressed(conn, doc.tenant, p.identifiers()))
            ]
            prints = {c.chunk_id: content_fingerprint(c.text) for c in chunks}
            erased_text = self.catalog.tombstones.content(conn, doc.tenant, list(prints.values()))
            erased_content = [c for c in chunks if prints[c.chunk_id] in erased_text]
            naming_erased = [
                c
                for c in chunks
                if c not in erased_content and any(mentions(c.text, p, region=self.phone_region) for p in erased_people)
            ]
            kept = [c for c in chunks if c not in erased_content and c not in naming_erased]
            why = [
                f"{len(found)} chunk(s) {what}"
                for found, what in (
                    (erased_content, "hold content erased before"),
                    (naming_erased, "name a person whose erasure was accepted"),
                )
                if found
            ]
            reason = ("; ".join(why) + "; not stored") if why else ""
            if not kept:
                return [], {}, reason
            info = self.catalog.records.register(
                conn,
                doc.tenant,
                source=doc.source[:512],
                content_sha256=content_fingerprint(doc.text),
                purpose=record.get("purpose", "retrieval"),
                legal_basis=record.get("legal_basis", "legitimate_interests"),
                tags=[doc.id],
            )
            for person in mentioned:
                if person not in erased_people:
                    self.catalog.subjects.link(conn, doc.tenant, info.id, person.identifiers())
            for chunk in kept:
                parent = info.id
                out[chunk.chunk_id] = [info.id]
                for kind in ARTIFACT_KINDS:
                    parent = self.catalog.register_artifact(
                        conn,
                        doc.tenant,
                        kind=kind,
                        uri=chunk_uri(self.name, kind, chunk.chunk_id),
                        derived_from=[parent],
                        content_sha256=prints[chunk.chunk_id] if kind == "chunk" else None,
                        pending=True,
                    ).id
                    out[chunk.chunk_id].append(parent)
        return kept, out, reason

    def _embed(self, chunks, report: IngestReport) -> np.ndarray:
        """Vectors for ``chunks``, from the embedding cache when the same content was embedded before."""
        keys = [f"{self.embedder.model_id}:{c.content_sha256}" for c in chunks]
        vectors: list[np.ndarray | None] = []
        for key in keys:
            cached = self.cache.get("embedding", key)
            vectors.append(None if cached is None else np.asarray(cached, dtype=np.float32))
        todo = [i for i, v in enumerate(vectors) if v is None]
        report.embeddings_reused += len(chunks) - len(todo)
        if todo:
            fresh = self.embedder.encode([chunks[i].text for i in todo])
            report.embedded += len(todo)
            for i, v in zip(todo, fresh, strict=True):
                vectors[i] = v
        for c, key, v in zip(chunks, keys, vectors, strict=True):
            self.cache.put("embedding", key, np.asarray(v).tolist(), [c.chunk_id, content_tag(c.content_sha256)])
        return np.stack(vectors)

    # --- retrieval --------------------------------------------------------------------------------

    def _where(self, tenant: str, groups: Sequence[str]) -> dict[str, object]:
        if not groups:
            raise RagError("A query needs at least one ACL group (e.g. public).")
        return {
            "tenant": tenant,
            "acl": list(groups),
            "status": "active",
            "latest": True,
            "embedding_model": self.embedder.model_id,
        }

    @staticmethod
    def _key(*parts: object) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def retrieve(
        self,
        query: str,
        *,
        tenant: str = "default",
        groups: Sequence[str] = ("public",),
        k: int = 5,
        max_distance: float | None = None,
    ) -> Retrieval:
        """The ``k`` nearest permitted chunks: the tenant's, in ``groups``, active, latest, this model's, within
        ``max_distance`` (default: the index's cut-off)."""
        if not isinstance(query, str) or not query.strip():
            raise RagError("A query needs some text.")
        if not isinstance(k, int) or not 1 <= k <= 100:
            raise RagError(f"k must be an integer from 1 to 100. Got {k!r}.")
        cut = self.max_distance if max_distance is None else max_distance
        where = self._where(tenant, groups)
        key = self._key("retrieval", tenant, sorted(groups), k, cut, self.embedder.model_id, query)
        cached = self.cache.get("retrieval", key)
        if cached is not None:  # [[chunk ID, distance], …]
            rows = {r.chunk_id: r for r in self.store.get([i for i, _ in cached])}
            return Retrieval(tuple(Hit(rows[i], float(d)) for i, d in cached if i in rows), cached=True)
        vector = self.embedder.encode([query])[0]
        hits = tuple(h for h in self.store.search(vector, k, where) if h.distance <= cut)
        ids = [h.row.chunk_id for h in hits]
        self.cache.put("retrieval", key, [[h.row.chunk_id, h.distance] for h in hits], [*ids, f"tenant:{tenant}"])
        return Retrieval(hits)

    def answer(
        self, question: str, *, tenant: str = "default", groups: Sequence[str] = ("public",), k: int = 5
    ) -> Answer:
        """Answer from permitted chunks only, through the caches.

        A question that names someone (see :class:`EntityCheck`) is answered only from permitted chunks that
        mention them, within ``named_max_distance``: the candidates are the :data:`ENTITY_POOL` nearest ones
        plus, when the index has a catalog, the chunks of the subjects those names, e-mail addresses and phone
        numbers are linked to (a small embedding model ranks a person's own chunk low for a question about
        them). Any other question is answered from the chunks within ``max_distance``. The nearest ``k`` left
        are the sources; with none left it abstains.
        """
        key = self.generation_key(question, tenant=tenant, groups=groups, k=k)
        cached = self.cache.get("generation", key)
        if cached is not None:
            return Answer(cached["text"], tuple(cached["sources"]), cached["abstained"])
        check = self.entities
        named = check.named(question) if check is not None else ()
        if check is not None and not named and self.catalog is not None and self.db is not None:
            named = catalog_names(self.catalog, self.db, tenant, question)
        pool = self.retrieve(
            question, tenant=tenant, groups=groups, k=max(k, ENTITY_POOL) if named else k, max_distance=_NO_CUTOFF
        )
        hits, cut = list(pool.hits), self.max_distance
        if check is not None and named:
            hits += self._linked_hits(question, named, tenant, groups, skip=set(pool.chunk_ids))
            hits = sorted((h for h in hits if check.mentioned(h.row.text, named)), key=lambda h: h.distance)
            cut = self.named_max_distance
        hits = [h for h in hits if h.distance <= cut][:k]
        result = self.generator.answer(question, hits)
        value = {"text": result.text, "sources": list(result.sources), "abstained": result.abstained}
        self.cache.put("generation", key, value, [*pool.chunk_ids, *result.sources, f"tenant:{tenant}"])
        return result

    def generation_key(self, question: str, *, tenant: str, groups: Sequence[str], k: int) -> str:
        """The generation-cache key of an answer: the question, who asks, and every setting that changes it."""
        return self._key(
            "generation",
            tenant,
            sorted(groups),
            k,
            self.max_distance,
            self.named_max_distance,
            self.entities is not None,
            self.embedder.model_id,
            question,
        )

    def subject_chunks(self, tenant: str, identifiers: Sequence[Identifier], *, limit: int | None = None) -> list[str]:
        """IDs of the chunks the catalog derives from records linked to any of ``identifiers`` (empty without a
        catalog), sorted, the first ``limit`` of them (all when None).

        Raises:
            InvalidIdentifierError: An identifier is malformed.
        """
        if self.catalog is None or self.db is None:
            return []
        return subject_chunks(self.catalog, self.db, self.name, tenant, identifiers, limit=limit)

    def _linked_hits(
        self, question: str, named: Sequence[Mention], tenant: str, groups: Sequence[str], *, skip: set[str]
    ) -> list[Hit]:
        """Permitted chunks of the subjects ``named`` identifies, with their distance to ``question``."""
        identifiers = [Identifier(m.kind, m.canonical) for m in named]
        ids = [i for i in self.subject_chunks(tenant, identifiers, limit=LINKED_CHUNKS) if i not in skip]
        where = self._where(tenant, groups)
        rows = [
            r
            for r in self.store.get(ids)
            if r.tenant == tenant
            and r.acl in where["acl"]
            and r.status == "active"
            and r.latest
            and r.embedding_model == self.embedder.model_id
        ]
        if not rows:
            return []
        vector = self.embedder.encode([question])[0]
        vectors = np.stack([r.vector for r in rows]).astype(np.float32)
        sims = vectors @ vector / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(vector) + 1e-12)
        return [Hit(r, float(1.0 - s)) for r, s in zip(rows, sims, strict=True)]

    def calibrate(
        self,
        *,
        tenant: str = "default",
        names: NameFinder | None = None,
        sample: int = 200,
        quantile: float = 0.95,
        seed: int = 0,
    ) -> Calibration:
        """Measure the answer cut-offs on this index's chunks and apply them (see :func:`expunge.rag.calibrate`)."""
        result = calibrate(self, tenant=tenant, names=names, sample=sample, quantile=quantile, seed=seed)
        self.apply(result)
        return result

    def apply(self, calibration: Calibration) -> None:
        """Use the cut-offs of ``calibration``.

        Raises:
            RagError: It was measured with another embedding model.
        """
        if calibration.embedding_model != self.embedder.model_id:
            raise RagError(
                f"The calibration was measured with {calibration.embedding_model!r}; this index embeds with "
                f"{self.embedder.model_id!r}. Calibrate again: expunge rag calibrate"
            )
        self.calibration = calibration
        self.max_distance = calibration.max_distance
        self.named_max_distance = calibration.named_max_distance

    # --- forgetting -------------------------------------------------------------------------------

    def exclude(
        self, chunk_ids: Sequence[str], *, rows: Sequence[ChunkRow] | None = None
    ) -> tuple[list[ChunkRow], int, int]:
        """Take chunks out of every query at once: native delete plus cache eviction (no purge yet).

        ``rows`` are the chunks' rows when the caller has just looked them up (saves a second lookup).
        Returns the rows as they were (for fingerprints), how many were deleted, and how many cache entries
        were evicted.
        """
        rows = list(rows) if rows is not None else self.store.get(list(chunk_ids))
        deleted = self.store.delete(list(chunk_ids))
        return rows, deleted, self.cache.evict(_influence_tags(chunk_ids, rows))

    def forget(
        self,
        chunk_ids: Sequence[str],
        *,
        purge: bool = True,
        fingerprints: Sequence[Fingerprint] = (),
        rows: Sequence[ChunkRow] | None = None,
    ) -> Forgotten:
        """Exclude the chunks at once, then purge the store physically and prove nothing of them remains.

        The proof is the store's byte probe over the fingerprints taken before the delete and over the chunk IDs
        (a file naming one still holds its row), plus the caches' tags and files; if it finds anything, the store
        is purged and probed again, up to ``PURGE_ATTEMPTS`` times in all. Pass the ``fingerprints`` of an
        earlier, unverified attempt (whose rows are already deleted) to probe for them too, and ``rows`` as
        :meth:`exclude` takes them.
        """
        ids = list(dict.fromkeys(chunk_ids))
        start = time.perf_counter()
        rows, deleted, evicted = self.exclude(ids, rows=rows)
        exclude_ms = (time.perf_counter() - start) * 1000
        if not purge:
            return Forgotten(tuple(ids), deleted, evicted, exclude_ms, None, None)
        taken = {fp.chunk_id: fp for fp in fingerprints} | {
            r.chunk_id: Fingerprint(r.chunk_id, r.vector, r.text) for r in rows
        }
        fingerprints = list(taken.values())
        probes = [*fingerprints, *(Fingerprint.of_id(i) for i in ids)]
        for _ in range(PURGE_ATTEMPTS):  # another purge only when the last one left something behind
            stats = self.store.purge()
            absence = self.store.verify_absent(ids, probes)
            leftovers = tuple(self.cache_leftovers(ids, fingerprints))
            if absence.ok and not leftovers:
                break
        return Forgotten(tuple(ids), deleted, evicted, exclude_ms, stats, absence, leftovers, tuple(fingerprints))

    def restrict(self, chunk_ids: Sequence[str], *, rows: Sequence[ChunkRow] | None = None) -> tuple[int, int]:
        """Quarantine chunks from retrieval (kept, never returned) and evict what they influenced.

        ``rows`` as :meth:`exclude` takes them.
        """
        rows = list(rows) if rows is not None else self.store.get(list(chunk_ids))
        changed = self.store.update(list(chunk_ids), status="restricted")
        return changed, self.cache.evict(_influence_tags(chunk_ids, rows))

    def cache_leftovers(self, chunk_ids: Sequence[str], fingerprints: Sequence[Fingerprint] = ()) -> list[str]:
        """Cache entries still tagged with the chunks, and cache files still holding their text."""
        left = [f"{ns}:{key[:16]}" for ns, key in self.cache.tagged(list(chunk_ids))]
        files = self.cache.files()
        scan = scan_files(files, [Fingerprint(f.chunk_id, np.zeros(0, np.float32), f.text) for f in fingerprints])
        return left + [f"{cid}: {where}" for cid, wheres in scan.found.items() for where in wheres]


def _influence_tags(chunk_ids: Sequence[str], rows: Sequence[ChunkRow]) -> list[str]:
    """The cache tags of everything the chunks influenced: their IDs and their content hashes."""
    return [*chunk_ids, *{content_tag(r.content_sha256) for r in rows}]


def open_index(
    store_url: str,
    *,
    cache_path: Path | None = None,
    cache_ttl: float = 3600.0,
    name: str = "default",
    embedder: Embedder | None = None,
    catalog: Catalog | None = None,
    db: Database | None = None,
    phone_region: str | None = None,
    calibration_path: Path | None = None,
) -> RagIndex:
    """Open the index over the store at ``store_url`` with a SQLite cache at ``cache_path`` (in memory if None).

    The embedder defaults to all-MiniLM-L6-v2, loaded on first use (deletion never loads it). The answer
    cut-off is the one saved at ``calibration_path`` (by ``expunge rag calibrate``) when there is one.
    """
    from expunge.rag._cache import SqliteCache
    from expunge.rag._embed import MiniLMEmbedder
    from expunge.rag.stores import open_store

    cache: TaggedCache = SqliteCache(cache_path, ttl=cache_ttl) if cache_path else MemoryCache(ttl=cache_ttl)
    return RagIndex(
        open_store(store_url),
        embedder or MiniLMEmbedder(),
        cache=cache,
        name=name,
        catalog=catalog,
        db=db,
        phone_region=phone_region,
        calibration=Calibration.load(calibration_path) if calibration_path is not None else None,
    )
