"""What a vector store holds per chunk, what a search returns, and the filters every store understands."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from expunge.catalog import FoldedText, Mention
from expunge.errors import DimensionMismatchError, InvalidFilterError, RagError

__all__ = [
    "FILTER_FIELDS",
    "ChunkRow",
    "Filter",
    "Fingerprint",
    "Hit",
    "check_filter",
    "check_vectors",
    "content_fingerprint",
    "normalise_text",
    "sha256_text",
]


def sha256_text(text: str) -> str:
    """The content fingerprint of a text (a chunk's ``content_sha256``)."""
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_text(text: str) -> str:
    """The form in which two texts count as the same content: NFKC, full case folding, no format characters
    (zero-width spaces and joiners, byte-order marks, direction marks: Unicode category Cf), whitespace runs
    collapsed to one space and trimmed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join("".join(ch for ch in folded if unicodedata.category(ch) != "Cf").split())


def content_fingerprint(text: str) -> str:
    """The sha256 of :func:`normalise_text`: what erased content is recognised by when it is ingested again."""
    return sha256_text(normalise_text(text))


# Field → Python type of its values. Text and vectors are never filterable.
FILTER_FIELDS: dict[str, type] = {
    "chunk_id": str,
    "doc_id": str,
    "tenant": str,
    "acl": str,
    "status": str,
    "latest": bool,
    "version": int,
    "embedding_model": str,
    "content_sha256": str,
}
STATUSES = ("active", "restricted")

# A filter: field → one value (equality) or a list of values (membership). Every condition must hold.
Filter = Mapping[str, Any]


@dataclass(frozen=True)
class ChunkRow:
    """One chunk as a vector store keeps it.

    Attributes:
        chunk_id: The global chunk ID (also the catalog URI's last segment).
        doc_id: The global ID of the document it was cut from.
        tenant: Who owns it.
        acl: The access group allowed to retrieve it (``public``, ``hr``, …).
        version: The document version it belongs to.
        latest: False once a newer version of the document replaced it.
        status: ``active``, or ``restricted`` (held: kept, never retrieved).
        embedding_model: The ID of the model that made ``vector``.
        content_sha256: sha256 of ``text`` (the dedup fingerprint).
        text: The chunk text.
        vector: The embedding, float32.
    """

    chunk_id: str
    doc_id: str
    tenant: str
    acl: str
    version: int
    latest: bool
    status: str
    embedding_model: str
    content_sha256: str
    text: str
    vector: np.ndarray = field(repr=False, compare=False)

    def scalars(self) -> dict[str, Any]:
        """Every filterable field and its value."""
        return {name: getattr(self, name) for name in FILTER_FIELDS}


@dataclass(frozen=True)
class Hit:
    """A search result: the chunk and its distance to the query (smaller is closer)."""

    row: ChunkRow
    distance: float


@dataclass(frozen=True)
class Fingerprint:
    """What a deleted chunk looked like, kept (in memory only) to prove its bytes are gone.

    Attributes:
        chunk_id: The chunk (or, for a subject probe, a label such as ``email``).
        vector: Its embedding; a zero-length array probes text only.
        text: Its text.
        partial: The text is an identifier inside longer values (a name in a chunk), so it is looked for with
            ``mention`` in the folded text of every value, in any spelling the catalog's normaliser treats as the
            same, rather than compared whole.
        what: How a finding is named: ``text``, or ``id`` for a probe of the chunk's ID (see :meth:`of_id`).
        mention: How a partial fingerprint is found (required when ``partial``).
    """

    chunk_id: str
    vector: np.ndarray = field(repr=False)
    text: str = field(repr=False)
    partial: bool = False
    what: str = "text"
    mention: Mention | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.partial and self.mention is None:
            raise RagError("A partial fingerprint needs the mention that finds it (expunge.catalog.Mention).")

    def found_in(self, text: FoldedText) -> bool:
        """True when a partial fingerprint's identifier is mentioned in the folded ``text``."""
        return self.mention is not None and self.mention.found_in(text)

    @classmethod
    def of_id(cls, chunk_id: str) -> Fingerprint:
        """A probe for the chunk's ID itself: a data file still naming it still holds (a deleted copy of) its row.

        Needs nothing but the ID, so it also proves a purge whose content fingerprints were lost (a retry after
        a crash between the native delete and the purge). Only stores whose files decode into rows (LanceDB) and
        the memory store can answer it; in raw bytes an ID says nothing about where its row is.
        """
        return cls(chunk_id, np.zeros(0, np.float32), chunk_id, what="id")


def check_filter(where: Filter | None) -> dict[str, list[Any]]:
    """Return ``where`` with every value as a list, or raise naming the bad field or value.

    Raises:
        InvalidFilterError: An unknown field, an empty list, or a value of the wrong type.
    """
    out: dict[str, list[Any]] = {}
    for name, value in (where or {}).items():
        kind = FILTER_FIELDS.get(name)
        if kind is None:
            raise InvalidFilterError(
                f"Cannot filter on {name!r}. Filterable fields: {', '.join(sorted(FILTER_FIELDS))}."
            )
        values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
        if not values:
            raise InvalidFilterError(f"The filter on {name!r} lists no values; give at least one.")
        for v in values:
            if type(v) is not kind:
                raise InvalidFilterError(
                    f"The filter on {name!r} takes {kind.__name__} values. Got {v!r} ({type(v).__name__})."
                )
        out[name] = values
    return out


def check_vectors(vectors: Sequence[np.ndarray] | np.ndarray, dim: int | None) -> np.ndarray:
    """Return ``vectors`` as a finite float32 (n, dim) array, or raise naming the bad shape.

    Raises:
        DimensionMismatchError: A vector's length differs from ``dim`` or from the others, or a value is not
            finite.
    """
    try:
        arr = np.asarray(vectors, dtype=np.float32)
    except ValueError as err:
        raise DimensionMismatchError(f"Vectors must all have the same length: {err}.") from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise DimensionMismatchError(f"Expected one vector or a list of vectors. Got an array of shape {arr.shape}.")
    if dim is not None and arr.shape[1] != dim:
        raise DimensionMismatchError(f"This store holds {dim}-dimensional vectors. Got {arr.shape[1]} dimensions.")
    if not np.isfinite(arr).all():
        raise DimensionMismatchError("Vectors must be finite; got NaN or infinity.")
    return arr
