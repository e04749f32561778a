"""The byte probe: look for deleted chunks' vectors and text in every file a store owns.

A native ``delete()`` only marks rows, so the probe reads the files themselves.

- Raw files: a chunk's text is found if its UTF-8 bytes appear anywhere; an identifier (a *partial*
  fingerprint) if the file's bytes, decoded and folded as identifiers are, mention it in any spelling intake
  treats as the same (``expunge.catalog.Mention``); a vector is found if its float32 values appear as given
  or L2-normalised, at any of the four byte alignments, within a relative tolerance of 1e-5. Cosine indexes
  such as Chroma's HNSW keep normalised copies that differ from a local normalisation by a few ULPs, so an
  exact byte match would miss most of them.
- Files a decoder understands (Lance data files, whose text columns are compressed on disk) are read as
  tables: every string and every vector row they hold, deleted or not, is compared with the fingerprints.
- A chunk's ID (``Fingerprint.of_id``) is looked for in decoded row files only: a data file that names it holds
  a copy of its row, which needs no content to prove. Index pages and transaction logs may name deleted IDs
  (Lance keeps a delete's predicate and a BTREE index's old keys); they hold no row, so they are not counted.

Quantised copies (PQ/SQ codes) are not detected; the stores here keep none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from expunge.catalog import FoldedText
from expunge.rag._rows import Fingerprint

__all__ = ["ByteScan", "Decoded", "files_under", "scan_files"]

_REL_TOL = 1e-5


@dataclass(frozen=True)
class Decoded:
    """What a structured file holds: its string values and its vector rows (float32, one per row).

    ``rows`` says whether the file holds table rows (a data file), as opposed to, say, an index's pages:
    only a row file that names a chunk's ID holds a copy of its row.
    """

    texts: pa.Array
    vectors: np.ndarray | None = None
    rows: bool = True


Decoder = Callable[[Path], Decoded | None]


class ByteScan:
    """Findings of one scan: chunk ID → ``"<file>: <what>"`` lines, plus what was read."""

    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}
        self.files = 0
        self.bytes = 0

    def add(self, chunk_id: str, where: str) -> None:
        """Record that something of ``chunk_id`` was found."""
        self.found.setdefault(chunk_id, []).append(where)


def files_under(root: Path) -> list[Path]:
    """Every regular file below ``root``, sorted (nothing if it does not exist)."""
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file())


def scan_files(
    files: Iterable[Path],
    fingerprints: Sequence[Fingerprint],
    *,
    root: Path | None = None,
    decoder: Decoder | None = None,
) -> ByteScan:
    """Scan ``files`` for the fingerprints' vectors (as given and normalised) and text.

    Args:
        files: The files to read. A file that vanished meanwhile is skipped.
        fingerprints: What the deleted chunks looked like (a zero-length vector means text only).
        root: Findings name files relative to this folder.
        decoder: Reads a structured file as a table (None for files it does not understand).
    """
    scan = ByteScan()
    if not fingerprints:
        return scan
    ids = {fp.text: fp for fp in fingerprints if fp.what == "id"}
    fingerprints = [fp for fp in fingerprints if fp.what != "id"]
    probes, owners = _probe_matrix(fingerprints)
    texts = {fp.text: fp for fp in fingerprints if not fp.partial}
    partial = [fp for fp in fingerprints if fp.partial]
    for path in files:
        decoded = decoder(path) if decoder is not None else None
        try:
            data = b"" if decoded is not None else path.read_bytes()
        except OSError:
            continue
        name = str(path.relative_to(root)) if root is not None else str(path)
        scan.files += 1
        if decoded is not None:
            scan.bytes += path.stat().st_size
            values = decoded.texts
            wanted = texts | ids if decoded.rows else texts
            if wanted and len(values):
                held = pc.filter(values, pc.is_in(values, value_set=pa.array(list(wanted), pa.string())))
                for text in set(held.to_pylist()):
                    scan.add(wanted[text].chunk_id, f"{name}: {wanted[text].what}")
            if partial and len(values):
                # one folded text per file; NUL keeps two values from joining into one name
                folded = FoldedText.of("\x00".join(v for v in values.to_pylist() if v))
                for fp in partial:
                    if fp.found_in(folded):
                        scan.add(fp.chunk_id, f"{name}: {fp.what}")
            for chunk_id, what in _find_rows(decoded.vectors, probes, owners):
                scan.add(chunk_id, f"{name}: {what}")
            continue
        scan.bytes += len(data)
        folded = FoldedText.of(data.decode("utf-8", "replace")) if partial else None
        for fp in fingerprints:
            if (folded is not None and fp.found_in(folded)) if fp.partial else (fp.text.encode() in data):
                scan.add(fp.chunk_id, f"{name}: {fp.what}")
        for chunk_id, what in _find_vectors(data, probes, owners):
            scan.add(chunk_id, f"{name}: {what}")
    return scan


def _probe_matrix(fingerprints: Sequence[Fingerprint]) -> tuple[np.ndarray, list[tuple[str, str]]]:
    rows, owners = [], []
    for fp in fingerprints:
        v = np.asarray(fp.vector, dtype=np.float32).ravel()
        if v.size == 0:
            continue
        rows.append(v)
        owners.append((fp.chunk_id, "vector"))
        norm = float(np.linalg.norm(v))
        if norm > 0 and abs(norm - 1.0) > 1e-6:
            rows.append((v / norm).astype(np.float32))
            owners.append((fp.chunk_id, "normalised vector"))
    return (np.stack(rows) if rows else np.zeros((0, 0), np.float32)), owners


def _find_rows(vectors: np.ndarray | None, probes: np.ndarray, owners: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """(chunk ID, what) for every probe equal to a decoded vector row (Lance keeps vectors as given)."""
    if vectors is None or not owners or vectors.ndim != 2 or vectors.shape[1] != probes.shape[1]:
        return set()
    held = np.ascontiguousarray(vectors, dtype=np.float32)
    width = min(2, held.shape[1])  # the first one or two floats as an integer key, then a full comparison
    kind = np.uint64 if width == 2 else np.uint32
    keys = np.ascontiguousarray(held[:, :width]).view(kind).ravel()
    asked = np.ascontiguousarray(probes[:, :width]).view(kind).ravel()
    order = np.argsort(keys, kind="stable")
    ranked = keys[order]
    found = set()
    for i in np.flatnonzero(np.isin(asked, keys)):
        lo, hi = np.searchsorted(ranked, asked[i], "left"), np.searchsorted(ranked, asked[i], "right")
        if any(np.array_equal(held[r], probes[i]) for r in order[lo:hi]):
            found.add(owners[i])
    return found


def _find_vectors(data: bytes, probes: np.ndarray, owners: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """(chunk ID, what) for every probe vector ``data`` holds within tolerance, at any 4-byte alignment.

    Candidates are positions whose value is within tolerance of some probe's first component (one
    ``searchsorted`` over the file per alignment); each is then compared over the whole vector.
    """
    found: set[tuple[str, str]] = set()
    if not owners or len(data) < probes.shape[1] * 4:
        return found
    dim = probes.shape[1]
    order = np.argsort(probes[:, 0], kind="stable")
    first = probes[order, 0]
    with np.errstate(invalid="ignore", over="ignore"):
        for offset in range(4):
            count = (len(data) - offset) // 4
            if count < dim:
                continue
            a = np.frombuffer(data, dtype=np.float32, count=count, offset=offset)
            head = a[: count - dim + 1]
            pos = np.searchsorted(first, head)
            for side in (-1, 0):
                k = np.clip(pos + side, 0, len(first) - 1)
                near = first[k]
                candidates = np.flatnonzero(np.abs(head - near) <= _REL_TOL * np.abs(near) + 1e-12)
                for j in candidates:
                    # every probe sharing this first value (within tolerance) is a candidate
                    lo = np.searchsorted(first, a[j] - _REL_TOL * abs(a[j]) - 1e-12, side="left")
                    hi = np.searchsorted(first, a[j] + _REL_TOL * abs(a[j]) + 1e-12, side="right")
                    for idx in order[lo:hi]:
                        if owners[idx] not in found and np.allclose(
                            a[j : j + dim], probes[idx], rtol=_REL_TOL, atol=1e-9
                        ):
                            found.add(owners[idx])
    return found
