"""Caches that know their sources: every entry is tagged with the IDs that influenced it.

Three namespaces share one cache: ``embedding`` (content hash → vector), ``retrieval`` (query → chunk IDs) and
``generation`` (query → answer and the chunk IDs it quoted). Deleting a chunk evicts every entry tagged with
its ID, in every namespace; a TTL makes an entry expire even if a deletion signal is missed. The SQLite backend
runs with ``secure_delete=ON``, so an evicted entry's bytes do not linger in free pages.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from expunge.errors import RagError

__all__ = ["NAMESPACES", "MemoryCache", "SqliteCache", "TaggedCache"]

NAMESPACES = ("embedding", "retrieval", "generation")
Clock = Callable[[], float]


def _check(namespace: str) -> None:
    if namespace not in NAMESPACES:
        raise RagError(f"Unknown cache namespace {namespace!r}. Available: {', '.join(NAMESPACES)}.")


@runtime_checkable
class TaggedCache(Protocol):
    """A key-value cache whose entries carry the IDs that influenced them."""

    def get(self, namespace: str, key: str) -> Any | None:
        """The live value under ``key``, or None (missing or expired)."""
        ...

    def put(self, namespace: str, key: str, value: Any, tags: Iterable[str], ttl: float | None = None) -> None:
        """Store a JSON-serialisable ``value`` tagged with ``tags``; ``ttl`` seconds (None: the default)."""
        ...

    def evict(self, tags: Sequence[str]) -> int:
        """Drop every entry tagged with any of ``tags``; return how many were dropped."""
        ...

    def tagged(self, tags: Sequence[str]) -> list[tuple[str, str]]:
        """``(namespace, key)`` of every entry, expired or not, tagged with any of ``tags``."""
        ...

    def clear(self, namespace: str | None = None) -> int:
        """Drop every entry (of one namespace); return how many."""
        ...

    def files(self) -> list[Path]:
        """The files holding the entries (none for a cache in memory), for the byte probe."""
        ...


class MemoryCache:
    """A dict-backed :class:`TaggedCache`.

    Args:
        ttl: Default time to live in seconds.
        clock: Returns the time in seconds (tests move it).
    """

    def __init__(self, *, ttl: float = 3600.0, clock: Clock = time.time) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[tuple[str, str], tuple[Any, float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def get(self, namespace: str, key: str) -> Any | None:
        """The live value under ``key``, or None."""
        _check(namespace)
        entry = self._entries.get((namespace, key))
        if entry is None or entry[1] <= self.clock():
            return None
        return entry[0]

    def put(self, namespace: str, key: str, value: Any, tags: Iterable[str], ttl: float | None = None) -> None:
        """Store ``value`` tagged with ``tags``."""
        _check(namespace)
        expires = self.clock() + (self.ttl if ttl is None else ttl)
        with self._lock:
            self._entries[(namespace, key)] = (json.loads(json.dumps(value)), expires, frozenset(tags))

    def evict(self, tags: Sequence[str]) -> int:
        """Drop every entry tagged with any of ``tags``."""
        wanted = set(tags)
        with self._lock:
            doomed = [k for k, (_, _, t) in self._entries.items() if t & wanted]
            for k in doomed:
                del self._entries[k]
        return len(doomed)

    def tagged(self, tags: Sequence[str]) -> list[tuple[str, str]]:
        """Every entry tagged with any of ``tags``."""
        wanted = set(tags)
        return sorted(k for k, (_, _, t) in self._entries.items() if t & wanted)

    def clear(self, namespace: str | None = None) -> int:
        """Drop every entry (of one namespace)."""
        with self._lock:
            doomed = [k for k in self._entries if namespace is None or k[0] == namespace]
            for k in doomed:
                del self._entries[k]
        return len(doomed)

    def files(self) -> list[Path]:
        """No files."""
        return []


class SqliteCache:
    """A persistent :class:`TaggedCache` in one SQLite file (WAL, ``secure_delete=ON``), safe across processes.

    Args:
        path: The database file (created with its folder).
        ttl: Default time to live in seconds.
        clock: Returns the time in seconds.
    """

    def __init__(self, path: Path, *, ttl: float = 3600.0, clock: Clock = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl
        self.clock = clock
        self._local = threading.local()
        self._conn().conn.executescript(
            """
                CREATE TABLE IF NOT EXISTS entries (
                    namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires_at REAL NOT NULL,
                    PRIMARY KEY (namespace, key));
                CREATE TABLE IF NOT EXISTS entry_tags (
                    namespace TEXT NOT NULL, key TEXT NOT NULL, tag TEXT NOT NULL,
                    PRIMARY KEY (namespace, key, tag));
                CREATE INDEX IF NOT EXISTS entry_tags_by_tag ON entry_tags (tag);
                """
        )

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return _Tx(conn)

    def get(self, namespace: str, key: str) -> Any | None:
        """The live value under ``key``, or None."""
        _check(namespace)
        with self._conn() as conn:
            row = conn.execute(
                "SELECT value FROM entries WHERE namespace = ? AND key = ? AND expires_at > ?",
                (namespace, key, self.clock()),
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, namespace: str, key: str, value: Any, tags: Iterable[str], ttl: float | None = None) -> None:
        """Store ``value`` tagged with ``tags`` (replacing an entry under the same key)."""
        _check(namespace)
        expires = self.clock() + (self.ttl if ttl is None else ttl)
        payload = json.dumps(value, ensure_ascii=False)
        with self._conn() as conn:
            conn.execute("DELETE FROM entry_tags WHERE namespace = ? AND key = ?", (namespace, key))
            conn.execute(
                "INSERT OR REPLACE INTO entries (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)",
                (namespace, key, payload, expires),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO entry_tags (namespace, key, tag) VALUES (?, ?, ?)",
                [(namespace, key, t) for t in set(tags)],
            )

    def evict(self, tags: Sequence[str]) -> int:
        """Drop every entry tagged with any of ``tags``, in one transaction."""
        with self._conn() as conn:
            keys = self._tagged(conn, tags)
            for table in ("entries", "entry_tags"):
                conn.executemany(f"DELETE FROM {table} WHERE namespace = ? AND key = ?", keys)
        return len(keys)

    def tagged(self, tags: Sequence[str]) -> list[tuple[str, str]]:
        """Every entry tagged with any of ``tags``."""
        with self._conn() as conn:
            return self._tagged(conn, tags)

    @staticmethod
    def _tagged(conn: sqlite3.Connection, tags: Sequence[str]) -> list[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        tags = list(dict.fromkeys(tags))
        for i in range(0, len(tags), 500):
            part = tags[i : i + 500]
            marks = ", ".join("?" * len(part))
            found |= set(conn.execute(f"SELECT namespace, key FROM entry_tags WHERE tag IN ({marks})", part))
        return sorted(found)

    def clear(self, namespace: str | None = None) -> int:
        """Drop every entry (of one namespace)."""
        where, args = ("WHERE namespace = ?", (namespace,)) if namespace else ("", ())
        with self._conn() as conn:
            n = conn.execute(f"SELECT COUNT(*) FROM entries {where}", args).fetchone()[0]
            conn.execute(f"DELETE FROM entries {where}", args)
            conn.execute(f"DELETE FROM entry_tags {where}", args)
        return int(n)

    def files(self) -> list[Path]:
        """The database file and its WAL, for the byte probe (after a checkpoint)."""
        self._conn().conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return [p for p in (self.path, self.path.with_name(self.path.name + "-wal")) if p.exists()]


class _Tx:
    """``with`` over a connection in autocommit mode: BEGIN IMMEDIATE … COMMIT (or ROLLBACK)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
