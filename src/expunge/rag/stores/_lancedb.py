"""LanceDB on local disk, the embedded default: native delete, then compaction, tag and version cleanup.

A Lance ``delete`` writes a deletion file; the row stays in its data file, and in every old version, until
compaction rewrites the fragment and cleanup removes the old versions. A tag pins its version (and so the
deleted rows) forever, so ``purge`` drops the tags whose version holds a row the latest version lacks. Cleanup
with no grace period breaks a concurrent reader of an old version, so writes and purges take a file lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
import warnings
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from expunge.errors import BackendError
from expunge.rag._probe import Decoded, files_under
from expunge.rag._rows import FILTER_FIELDS, ChunkRow, Filter, Fingerprint, Hit, check_filter, check_vectors
from expunge.rag.stores._protocol import Absence, PurgeStats, probe_store, register_store

__all__ = ["LanceStore"]

TABLE = "chunks"
_SCALARS = [f for f in FILTER_FIELDS]
_BTREE = ("chunk_id", "doc_id", "content_sha256")
_BITMAP = ("tenant", "acl", "status", "latest", "embedding_model")


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def where_sql(where: Filter | None) -> str | None:
    """Translate a filter into a Lance SQL predicate (None when it is empty)."""
    parts = []
    for name, values in check_filter(where).items():
        if len(values) == 1:
            parts.append(f"{name} = {_literal(values[0])}")
        else:
            parts.append(f"{name} IN ({', '.join(_literal(v) for v in values)})")
    return " AND ".join(parts) or None


def _ids_sql(ids: Sequence[str]) -> str:
    return f"chunk_id IN ({', '.join(_literal(i) for i in ids)})"


@register_store("lancedb")
class LanceStore:
    """Chunks in one Lance table under ``location`` (a folder), searched exactly by cosine distance."""

    def __init__(self, url: str, location: str) -> None:
        import lancedb

        self.url = url
        self.path = Path(location).expanduser()
        self.path.mkdir(parents=True, exist_ok=True)
        # read_consistency_interval 0: a delete by a worker process is seen by the next query of this one
        self._db = lancedb.connect(str(self.path), read_consistency_interval=timedelta(0))
        self._handle = None

    # --- plumbing ---------------------------------------------------------------------------------

    @property
    def _table(self):
        """The table, opened on first use once it exists: another process (an ingest, a worker) may create it
        after this store was opened, and a store that remembered "no table" would never see its rows."""
        if self._handle is None and TABLE in self._db.list_tables().tables:
            self._handle = self._db.open_table(TABLE)
        return self._handle

    @_table.setter
    def _table(self, value) -> None:
        self._handle = value

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.path / ".expunge.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @property
    def dim(self) -> int | None:
        """The vector dimension, or None before the first row."""
        if self._table is None:
            return None
        return self._table.schema.field("vector").type.list_size

    def _arrow(self, rows: Sequence[ChunkRow], dim: int) -> pa.Table:
        vectors = check_vectors([r.vector for r in rows], dim)
        columns = {name: [getattr(r, name) for r in rows] for name in _SCALARS}
        columns["text"] = [r.text for r in rows]
        columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()), dim)
        return pa.table(columns, schema=self._schema(dim))

    @staticmethod
    def _schema(dim: int) -> pa.Schema:
        types = {str: pa.string(), bool: pa.bool_(), int: pa.int64()}
        fields = [pa.field(n, types[t]) for n, t in FILTER_FIELDS.items()]
        return pa.schema([*fields, pa.field("text", pa.string()), pa.field("vector", pa.list_(pa.float32(), dim))])

    @staticmethod
    def _row(record: dict[str, object]) -> ChunkRow:
        values = {name: record[name] for name in (*_SCALARS, "text")}
        return ChunkRow(**values, vector=np.asarray(record["vector"], dtype=np.float32))

    def _query(self, predicate: str, columns: list[str] | None = None) -> list[dict[str, object]]:
        if self._table is None:
            return []
        query = self._table.search().where(predicate).limit(None)
        if columns is not None:
            query = query.select(columns)
        return query.to_list()

    # --- the protocol -----------------------------------------------------------------------------

    def upsert(self, rows: Sequence[ChunkRow]) -> int:
        """Insert or replace rows by chunk ID (one merge-insert)."""
        if not rows:
            return 0
        dim = self.dim or len(rows[0].vector)
        data = self._arrow(rows, dim)
        with self._locked():
            if self._table is None:
                self._table = self._db.create_table(TABLE, data=data)
                self._index_scalars()
            else:
                self._table.merge_insert("chunk_id").when_matched_update_all().when_not_matched_insert_all().execute(
                    data
                )
                # index the new rows now: exclusion looks chunks up by ID, and an unindexed fragment is scanned
                self._table.to_lance().optimize.optimize_indices()
        return len(rows)

    def _index_scalars(self) -> None:
        """Index the lookup and filter columns, so exclusion and prefiltered search do not scan every row."""
        assert self._table is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for column in _BTREE:
                self._table.create_scalar_index(column, index_type="BTREE")
            for column in _BITMAP:
                self._table.create_scalar_index(column, index_type="BITMAP")

    def get(self, ids: Sequence[str]) -> list[ChunkRow]:
        """Return the existing rows with these IDs."""
        out: list[ChunkRow] = []
        for i in range(0, len(ids), 500):
            out += [self._row(r) for r in self._query(_ids_sql(ids[i : i + 500]))]
        return out

    def ids(self, where: Filter | None = None) -> list[str]:
        """IDs of the rows matching ``where``."""
        if self._table is None:
            return []
        predicate = where_sql(where)
        if predicate is None:
            return sorted(self._live_ids())
        return sorted(str(r["chunk_id"]) for r in self._query(predicate, ["chunk_id"]))

    def _live_ids(self) -> set[str]:
        assert self._table is not None
        return set(self._table.to_lance().to_table(columns=["chunk_id"]).column("chunk_id").to_pylist())

    def count(self) -> int:
        """Number of rows."""
        return 0 if self._table is None else self._table.count_rows()

    def delete(self, ids: Sequence[str]) -> int:
        """Native delete by ID (a deletion file; the bytes stay until ``purge``)."""
        if self._table is None or not ids:
            return 0
        unique = list(dict.fromkeys(ids))
        found = 0
        with self._locked():
            for i in range(0, len(unique), 500):
                found += self._table.delete(_ids_sql(unique[i : i + 500])).num_deleted_rows
        return found

    def update(self, ids: Sequence[str], *, status: str | None = None, latest: bool | None = None) -> int:
        """Set status and/or latest on existing rows."""
        changes = {k: v for k, v in (("status", status), ("latest", latest)) if v is not None}
        check_filter(changes)
        if self._table is None or not ids or not changes:
            return 0
        unique = list(dict.fromkeys(ids))
        found = 0
        with self._locked():
            for i in range(0, len(unique), 500):
                found += self._table.update(where=_ids_sql(unique[i : i + 500]), values=changes).rows_updated
        return found

    def search(self, vector: np.ndarray, k: int, where: Filter | None = None) -> list[Hit]:
        """Exact cosine kNN with the filter as a prefilter."""
        predicate = where_sql(where)
        if self._table is None:
            return []
        query_vec = check_vectors(vector, self.dim)[0]
        query = self._table.search(query_vec).distance_type("cosine").limit(k)
        if predicate is not None:
            query = query.where(predicate, prefilter=True)
        return [Hit(self._row(r), float(r["_distance"])) for r in query.to_list()]

    def purge(self) -> PurgeStats:
        """Drop tags pinning deleted rows, rewrite fragments without them, and remove every old version."""
        start = time.perf_counter()
        if self._table is None:
            return PurgeStats(time.perf_counter() - start, {})
        with self._locked():
            dropped = self._drop_pinning_tags()
            dataset = self._table.to_lance()
            compaction = dataset.optimize.compact_files(materialize_deletions=True, materialize_deletions_threshold=0.0)
            # Fold rows added since the indexes were built into them, then drop every old version, so no old
            # data file, deletion file or index file keeps what was deleted.
            dataset.optimize.optimize_indices()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # Tags left after _drop_pinning_tags hold no deleted row: their versions are kept, the rest go.
                cleanup = dataset.cleanup_old_versions(
                    older_than=timedelta(0), delete_unverified=True, error_if_tagged_old_versions=False
                )
            self._table = self._db.open_table(TABLE)
        return PurgeStats(
            time.perf_counter() - start,
            {
                "tags_dropped": dropped,
                "fragments_rewritten": compaction.fragments_removed,
                "old_versions_removed": cleanup.old_versions,
                "bytes_removed": cleanup.bytes_removed,
            },
        )

    def _drop_pinning_tags(self) -> list[str]:
        """Delete the tags whose version still holds, in its files, a row the latest version lacks.

        The policy (docs/rag.md): a tag pinning nothing deleted is kept, with its version; a tag pinning a
        deleted row — live in that version, or deleted but not yet compacted out of its files — is removed,
        and the purge reports its name. Keeping it would keep the erased row's bytes on disk for good.
        """
        assert self._table is not None
        live = self._live_ids()
        dropped = []
        dataset = self._table.to_lance()
        for tag, info in sorted(self._table.tags.list().items()):
            pinned = (
                dataset.checkout_version(info["version"])
                .scanner(columns=["chunk_id"], include_deleted_rows=True, with_row_id=True)
                .to_table()
            )
            if set(pinned.column("chunk_id").to_pylist()) - live:
                self._table.tags.delete(tag)
                dropped.append(tag)
        return dropped

    def verify_absent(self, ids: Sequence[str], fingerprints: Sequence[Fingerprint] = ()) -> Absence:
        """Check lookups and every byte under the store's folder (Lance files decoded too)."""
        return probe_store(self, ids, fingerprints, files_under(self.path), root=self.path, decoder=_decode_lance)

    def tag(self, name: str) -> None:
        """Tag the current version (what a user does to pin a snapshot; ``purge`` must see through it)."""
        if self._table is None:
            raise BackendError("The store is empty; there is no version to tag.")
        self._table.tags.create(name, self._table.version)

    def close(self) -> None:
        """Drop the handles (Lance keeps no open files between calls)."""
        self._table = None


def _decode_lance(path: Path) -> Decoded | None:
    """Read a Lance data file as a table (its text is compressed on disk); None for any other file."""
    if path.suffix != ".lance":
        return None
    from lance.file import LanceFileReader

    try:
        table = LanceFileReader(str(path)).read_all().to_table()
    except Exception:  # a file Lance cannot read is scanned as raw bytes
        return None
    texts = [
        c.combine_chunks() for c in table.columns if pa.types.is_string(c.type) or pa.types.is_large_string(c.type)
    ]
    vectors = None
    for column in table.columns:
        if pa.types.is_fixed_size_list(column.type) and pa.types.is_float32(column.type.value_type):
            flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
            vectors = flat.reshape(-1, column.type.list_size)
    return Decoded(
        pa.concat_arrays([t.cast(pa.string()) for t in texts]) if texts else pa.array([], pa.string()),
        vectors,
        rows="_indices" not in path.parts,
    )
