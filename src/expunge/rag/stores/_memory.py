"""An in-memory vector store for tests and demos: exact search, and a soft delete like the real ones."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence

import numpy as np

from expunge.catalog import FoldedText
from expunge.rag._rows import ChunkRow, Filter, Fingerprint, Hit, check_filter, check_vectors
from expunge.rag.stores._protocol import Absence, PurgeStats, probe_store, register_store

__all__ = ["MemoryStore"]


def matches(row: ChunkRow, conditions: dict[str, list[object]]) -> bool:
    """True when ``row`` satisfies every condition of a checked filter."""
    values = row.scalars()
    return all(values[name] in allowed for name, allowed in conditions.items())


def _same(old: ChunkRow, fp: Fingerprint) -> bool:
    if fp.what == "id":
        return old.chunk_id == fp.text
    if fp.partial:
        return fp.found_in(FoldedText.of(old.text))
    return old.text == fp.text or (fp.vector.size > 0 and np.array_equal(old.vector, fp.vector))


@register_store("memory")
class MemoryStore:
    """Rows in a dict. ``delete`` moves rows to a graveyard (as a disk store keeps deleted bytes);
    ``purge`` empties it, and ``verify_absent`` reports what the graveyard still holds."""

    def __init__(self, url: str = "memory://default", location: str = "default") -> None:
        self.url = url
        self._rows: dict[str, ChunkRow] = {}
        self._graveyard: list[ChunkRow] = []
        self._dim: int | None = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int | None:
        """The vector dimension, or None before the first row."""
        return self._dim

    def upsert(self, rows: Sequence[ChunkRow]) -> int:
        """Insert or replace rows by chunk ID."""
        if not rows:
            return 0
        vectors = check_vectors([r.vector for r in rows], self._dim)
        with self._lock:
            self._dim = vectors.shape[1]
            for row in rows:
                if (old := self._rows.get(row.chunk_id)) is not None:
                    self._graveyard.append(old)
                self._rows[row.chunk_id] = row
        return len(rows)

    def get(self, ids: Sequence[str]) -> list[ChunkRow]:
        """Return the existing rows with these IDs."""
        return [self._rows[i] for i in ids if i in self._rows]

    def ids(self, where: Filter | None = None) -> list[str]:
        """IDs of the rows matching ``where``."""
        conditions = check_filter(where)
        return sorted(i for i, r in self._rows.items() if matches(r, conditions))

    def count(self) -> int:
        """Number of rows."""
        return len(self._rows)

    def delete(self, ids: Sequence[str]) -> int:
        """Remove rows from search at once; their data waits in the graveyard until ``purge``."""
        with self._lock:
            gone = [self._rows.pop(i) for i in dict.fromkeys(ids) if i in self._rows]
            self._graveyard.extend(gone)
        return len(gone)

    def update(self, ids: Sequence[str], *, status: str | None = None, latest: bool | None = None) -> int:
        """Set status and/or latest on existing rows."""
        changes = {k: v for k, v in (("status", status), ("latest", latest)) if v is not None}
        check_filter(changes)
        with self._lock:
            found = [i for i in dict.fromkeys(ids) if i in self._rows]
            for i in found:
                row = self._rows[i]
                self._rows[i] = ChunkRow(**{**row.__dict__, **changes})
        return len(found)

    def search(self, vector: np.ndarray, k: int, where: Filter | None = None) -> list[Hit]:
        """Exact cosine search over the rows matching ``where``."""
        conditions = check_filter(where)
        if not self._rows:
            return []
        query = check_vectors(vector, self._dim)[0]
        rows = [r for r in self._rows.values() if matches(r, conditions)]
        if not rows:
            return []
        matrix = np.stack([r.vector for r in rows]).astype(np.float32)
        sims = matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query) + 1e-12)
        top = np.argsort(-sims, kind="stable")[:k]
        return [Hit(rows[i], float(1.0 - sims[i])) for i in top]

    def purge(self) -> PurgeStats:
        """Forget the graveyard."""
        start = time.perf_counter()
        with self._lock:
            dropped = len(self._graveyard)
            self._graveyard.clear()
        return PurgeStats(time.perf_counter() - start, {"rows_reclaimed": dropped})

    def verify_absent(self, ids: Sequence[str], fingerprints: Sequence[Fingerprint] = ()) -> Absence:
        """Report IDs still live and fingerprints whose vector or text the graveyard still holds."""
        absence = probe_store(self, ids, fingerprints, [])
        on_disk: dict[str, list[str]] = {}
        for fp in fingerprints:
            if fp.what == "text" and fp.chunk_id in absence.shared:
                continue
            if any(_same(old, fp) for old in self._graveyard):
                on_disk[fp.chunk_id] = ["memory graveyard: row"]
        return dataclasses.replace(absence, on_disk=on_disk)

    def close(self) -> None:
        """Nothing to release."""
