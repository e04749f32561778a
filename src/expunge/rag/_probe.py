"""The byte probe: look for deleted chunks' vectors and text in every file a store owns.

A native ``delete()`` only marks rows, so the probe reads the files themselves. A vector is found if its
float32 bytes appear as given, or L2-normalised (cosine indexes such as Chroma's HNSW keep normalised copies,
which differ from a local normalisation by a few ULPs, so they are matched with a relative tolerance of 1e-5
at every byte alignment, not byte for byte). Text is found if the chunk, or a 32-character slice of its start,
middle or end, appears in a file's bytes or in what a decoder returns for it (Lance compresses text columns,
so its files are decoded too). Quantised copies (PQ/SQ codes) are not detected; stores here keep none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from expunge.rag._rows import Fingerprint

__all__ = ["ByteScan", "files_under", "scan_files"]

Decoder = Callable[[Path], list[str]]
_REL_TOL = 1e-5
_SLICE = 32


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
        fingerprints: What the deleted chunks looked like.
        root: Findings name files relative to this folder.
        decoder: Returns the decoded text values of a file it understands (``[]`` for others).
    """
    scan = ByteScan()
    if not fingerprints:
        return scan
    needles = [(fp.chunk_id, _text_needles(fp.text)) for fp in fingerprints]
    probes, owners = _probe_matrix(fingerprints)
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        name = str(path.relative_to(root)) if root is not None else str(path)
        scan.files += 1
        scan.bytes += len(data)
        decoded = "\n".join(decoder(path)).encode() if decoder is not None else b""
        scan.bytes += len(decoded)
        for chunk_id, texts in needles:
            if any(t in data or (decoded and t in decoded) for t in texts):
                scan.add(chunk_id, f"{name}: text")
        for chunk_id, what in _find_vectors(data, probes, owners):
            scan.add(chunk_id, f"{name}: {what}")
    return scan


def _text_needles(text: str) -> list[bytes]:
    raw = text.encode()
    if len(text) <= 2 * _SLICE:
        return [raw]
    mid = len(text) // 2 - _SLICE // 2
    return [raw, *(text[i : i + _SLICE].encode() for i in (0, mid, len(text) - _SLICE))]


def _probe_matrix(fingerprints: Sequence[Fingerprint]) -> tuple[np.ndarray, list[tuple[str, str]]]:
    rows, owners = [], []
    for fp in fingerprints:
        v = np.asarray(fp.vector, dtype=np.float32).ravel()
        rows.append(v)
        owners.append((fp.chunk_id, "vector"))
        norm = float(np.linalg.norm(v))
        if norm > 0 and abs(norm - 1.0) > 1e-6:
            rows.append((v / norm).astype(np.float32))
            owners.append((fp.chunk_id, "normalised vector"))
    return np.stack(rows), owners


def _find_vectors(data: bytes, probes: np.ndarray, owners: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Return (chunk ID, what) for every probe vector that ``data`` holds, exactly or within tolerance."""
    found = set()
    for i, v in enumerate(probes):
        if v.tobytes() in data:
            found.add(owners[i])
    missing = [i for i in range(len(probes)) if owners[i] not in found]
    if not missing or len(data) < probes.shape[1] * 4:
        return found
    dim = probes.shape[1]
    first = probes[missing, 0]
    order = np.argsort(first)
    sorted_first = first[order]
    with np.errstate(invalid="ignore", over="ignore"):
        for offset in range(4):
            count = (len(data) - offset) // 4
            if count < dim:
                continue
            a = np.frombuffer(data, dtype=np.float32, count=count, offset=offset)
            pos = np.searchsorted(sorted_first, a).clip(1, len(sorted_first) - 1) if len(missing) > 1 else None
            for side in (0,) if pos is None else (-1, 0):
                nearest = sorted_first[0] if pos is None else sorted_first[pos + side]
                close = np.abs(a - nearest) <= _REL_TOL * np.abs(nearest) + 1e-12
                for j in np.flatnonzero(close[: count - dim + 1]):
                    k = 0 if pos is None else int(pos[j] + side)
                    probe_i = missing[int(order[k])]
                    if owners[probe_i] in found:
                        continue
                    if np.allclose(a[j : j + dim], probes[probe_i], rtol=_REL_TOL, atol=1e-9):
                        found.add(owners[probe_i])
    return found
