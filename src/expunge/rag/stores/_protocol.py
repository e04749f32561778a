"""The vector-store protocol every backend implements, and the registry that builds one from a URL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from expunge.errors import UnknownBackendError
from expunge.rag._probe import Decoder, scan_files
from expunge.rag._rows import ChunkRow, Filter, Fingerprint, Hit, sha256_text
from expunge.registry import Registry

__all__ = [
    "Absence",
    "PurgeStats",
    "VectorStore",
    "available_stores",
    "open_store",
    "probe_store",
    "register_store",
]

KNN_PROBES = 10  # deleted vectors used as kNN queries by verify_absent (the first ones)


@dataclass(frozen=True)
class PurgeStats:
    """What a physical purge did.

    Attributes:
        seconds: Wall time of the purge.
        detail: Backend-specific counts (versions removed, tags dropped, segments rebuilt…).
    """

    seconds: float
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Absence:
    """Where deleted chunks were still found.

    Attributes:
        checked: The chunk IDs that were checked.
        retrievable: IDs a lookup or a search can still return.
        on_disk: Chunk ID → findings (``"<file>: vector"``, ``"<file>: normalised vector"``, ``"<file>: text"``).
        files_scanned: How many files the byte probe read (0 for a store without files).
        bytes_scanned: How many bytes it read.
        shared: IDs whose exact content still lives in another chunk (not probed: their bytes are legitimately
            present).
    """

    checked: tuple[str, ...]
    retrievable: tuple[str, ...] = ()
    on_disk: dict[str, list[str]] = field(default_factory=dict)
    files_scanned: int = 0
    bytes_scanned: int = 0
    shared: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing of any checked chunk remains."""
        return not self.retrievable and not self.on_disk

    @property
    def recoverable(self) -> set[str]:
        """IDs of which anything remains."""
        return set(self.retrievable) | set(self.on_disk)


@runtime_checkable
class VectorStore(Protocol):
    """A store of :class:`ChunkRow` searchable by vector under hard filters.

    ``delete`` is the backend's native delete: rows stop being returned at once, but their bytes may stay
    on disk until ``purge`` reclaims them physically. ``verify_absent`` proves both.
    """

    url: str

    @property
    def dim(self) -> int | None:
        """The vector dimension, or None before the first row."""
        ...

    def upsert(self, rows: Sequence[ChunkRow]) -> int:
        """Insert or replace rows by chunk ID; return how many were written."""
        ...

    def get(self, ids: Sequence[str]) -> list[ChunkRow]:
        """Return the rows with these IDs that exist (in any status)."""
        ...

    def ids(self, where: Filter | None = None) -> list[str]:
        """Return the IDs of every row matching ``where``, sorted."""
        ...

    def count(self) -> int:
        """Return the number of rows."""
        ...

    def delete(self, ids: Sequence[str]) -> int:
        """Delete rows by ID; return how many existed. IDs that do not exist are not an error."""
        ...

    def update(self, ids: Sequence[str], *, status: str | None = None, latest: bool | None = None) -> int:
        """Set the status and/or latest flag of rows by ID; return how many exist."""
        ...

    def search(self, vector: np.ndarray, k: int, where: Filter | None = None) -> list[Hit]:
        """Return the ``k`` nearest rows by cosine distance among those matching ``where`` (applied before
        ranking, never to the top-k afterwards)."""
        ...

    def purge(self) -> PurgeStats:
        """Reclaim deleted rows physically: nothing of them may stay in any file the store owns."""
        ...

    def verify_absent(self, ids: Sequence[str], fingerprints: Sequence[Fingerprint] = ()) -> Absence:
        """Check that ``ids`` cannot be retrieved and that no file holds the fingerprints' vectors or text."""
        ...

    def close(self) -> None:
        """Release files and clients."""
        ...


def probe_store(
    store: VectorStore,
    ids: Sequence[str],
    fingerprints: Sequence[Fingerprint],
    files: Sequence[Path],
    *,
    root: Path | None = None,
    decoder: Decoder | None = None,
) -> Absence:
    """The common body of ``verify_absent``: lookups by ID, a kNN probe with (up to ``KNN_PROBES`` of) the deleted
    vectors themselves, then the byte probe over ``files``.

    Fingerprints whose content still lives in another chunk (the same text ingested twice) are not probed.
    """
    retrievable = {r.chunk_id for r in store.get(list(ids))}
    wanted = set(ids)
    for fp in [fp for fp in fingerprints if fp.vector.size and fp.chunk_id in wanted][:KNN_PROBES]:
        # kNN probe: the deleted vector itself as the query, no filter: nothing deleted may come back
        retrievable |= {h.row.chunk_id for h in store.search(fp.vector, 10)} & wanted
    digest = {fp.text: sha256_text(fp.text) for fp in fingerprints if fp.what == "text"}
    live = set()
    if digest:
        live = {r.content_sha256 for r in store.get(store.ids({"content_sha256": sorted(set(digest.values()))}))}
    held = [fp.what == "text" and digest[fp.text] in live for fp in fingerprints]
    shared = {fp.chunk_id for fp, h in zip(fingerprints, held, strict=True) if h}
    probed = [fp for fp, h in zip(fingerprints, held, strict=True) if not h]
    scan = scan_files(files, probed, root=root, decoder=decoder)
    return Absence(
        checked=tuple(ids),
        retrievable=tuple(sorted(retrievable)),
        on_disk=scan.found,
        files_scanned=scan.files,
        bytes_scanned=scan.bytes,
        shared=tuple(sorted(shared)),
    )


StoreFactory = Callable[[str, str], VectorStore]
STORES: Registry[StoreFactory] = Registry("vector store scheme", unknown=UnknownBackendError)


def register_store(scheme: str) -> Callable[[StoreFactory], StoreFactory]:
    """Register a store class under a URL scheme; it is built as ``factory(url, location)``.

    Raises:
        DuplicateNameError: ``scheme`` is taken.
    """
    return STORES.register(scheme)


def available_stores() -> list[str]:
    """The registered URL schemes, sorted."""
    return STORES.names()


def open_store(url: str) -> VectorStore:
    """Open the store named by ``url``: ``lancedb://PATH``, ``chroma://PATH`` or ``memory://NAME``.

    Raises:
        UnknownBackendError: The URL has no ``scheme://`` or names a scheme nobody registered.
    """
    scheme, sep, location = url.partition("://")
    if not sep or not location:
        raise UnknownBackendError(
            f"A vector store URL looks like scheme://location (e.g. lancedb://.expunge/rag). Got {url!r}. "
            f"Known schemes: {', '.join(available_stores())}."
        )
    return STORES.get(scheme)(url, location)
