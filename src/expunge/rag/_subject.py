"""Probe for a person: is anything of them still retrievable, on disk, or in a cache?"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from expunge.catalog import FoldedText
from expunge.errors import RagError
from expunge.rag._index import RagIndex
from expunge.rag._ingest import Person
from expunge.rag._probe import scan_files
from expunge.rag._rows import Fingerprint

__all__ = ["SubjectProbe", "probe_subject", "questions_about"]


def questions_about(person: Person) -> list[str]:
    """Direct and paraphrased questions an attacker (or an auditor) would ask about ``person``."""
    out = []
    if person.name:
        out += [
            person.name,
            f"What do we know about {person.name}?",
            f"Summarise every support ticket or HR note that mentions {person.name}.",
            f"Which problems did the customer called {person.name} report, and where does this person live?",
        ]
    if person.email:
        out += [person.email, f"Who uses the e-mail address {person.email}?"]
    if person.phone:
        out += [f"Whose phone number is {person.phone}?"]
    return out


@dataclass
class SubjectProbe:
    """What a probe for one person found. ``found`` is False only when every check came back empty."""

    chunk_ids: list[str] = field(default_factory=list)
    retrievable: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    on_disk: dict[str, list[str]] = field(default_factory=dict)
    knn_leaks: list[tuple[str, str]] = field(default_factory=list)
    cache_entries: list[str] = field(default_factory=list)
    questions: int = 0
    files_scanned: int = 0

    @property
    def found(self) -> bool:
        """True when anything of the person remains (held chunks included: they are kept on purpose)."""
        return bool(self.retrievable or self.on_disk or self.knn_leaks or self.cache_entries)


def probe_subject(index: RagIndex, person: Person, *, tenant: str = "default", k: int = 10) -> SubjectProbe:
    """Probe ``index`` for ``person``.

    - catalog: the chunks ever derived from records linked to the person (when the index has a catalog);
      any of them still in the store is *retrievable* (or *held*, if a legal hold restricted it);
    - bytes: every file of the store and the caches, searched for the person's name, e-mail and phone in every
      spelling intake treats as the same (text is folded as identifiers are: NFKC, case folding, format
      characters removed, digits made ASCII; the phone number in any written form, see
      :class:`expunge.catalog.Mention`);
    - kNN: direct and paraphrased questions, searched with every ACL group: no hit may mention the person
      (compared the same way) or be one of their chunks;
    - cache: no cache entry may be tagged with one of their chunks.

    Raises:
        RagError: The person has no identifier.
        InvalidIdentifierError: An identifier is malformed (as intake would refuse it).
    """
    if not person.needles():
        raise RagError("A subject probe needs a name, an e-mail address or a phone number.")
    mentions = person.mentions(region=index.phone_region)
    result = SubjectProbe()
    result.chunk_ids = index.subject_chunks(tenant, person.identifiers())
    for row in index.store.get(result.chunk_ids):
        (result.held if row.status == "restricted" else result.retrievable).append(row.chunk_id)
    fingerprints = [
        Fingerprint(m.kind, np.zeros(0, np.float32), m.canonical, partial=True, mention=m) for m in mentions
    ]
    absence = index.store.verify_absent([], fingerprints)
    cache_scan = scan_files(index.cache.files(), fingerprints)
    result.on_disk = {k: list(v) for k, v in absence.on_disk.items()}
    for what, wheres in cache_scan.found.items():
        result.on_disk.setdefault(what, []).extend(wheres)
    result.files_scanned = absence.files_scanned + cache_scan.files
    questions = questions_about(person)
    result.questions = len(questions)
    where = {"tenant": tenant, "status": "active", "latest": True, "embedding_model": index.embedder.model_id}
    mine = set(result.chunk_ids)
    for question, vector in zip(questions, index.embedder.encode(questions), strict=True):
        for hit in index.store.search(vector, k, where):
            folded = FoldedText.of(hit.row.text)
            if hit.row.chunk_id in mine or any(m.found_in(folded) for m in mentions):
                result.knn_leaks.append((question, hit.row.chunk_id))
    result.cache_entries = [f"{ns}:{key[:16]}" for ns, key in index.cache.tagged(result.chunk_ids)]
    return result
