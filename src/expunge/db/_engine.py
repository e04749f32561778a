"""Open a database from a URL and bring its schema to the newest migration."""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, bindparam, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from expunge.db._errors import database_error
from expunge.errors import ConfigError, InvalidDatabaseError

__all__ = ["Database", "is_postgres", "open_database", "utcnow"]

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Arbitrary constant: every expunge process serialises its migrations on this advisory lock.
_MIGRATION_LOCK = 0x657870756E6765
# Another: one process at a time refreshes planner statistics (see Database.refresh_statistics).
_ANALYZE_LOCK = 0x657870756E6766
# Tables whose rows changed by at least this many, and by at least their size at the last ANALYZE,
# get a fresh ANALYZE: a table grown from empty is re-measured at ~1k, 2k, 4k… rows.
_ANALYZE_MIN_CHANGES = 1000
_STALE = text(
    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema() AND s.relname IN :tables "
    "AND s.n_mod_since_analyze >= GREATEST(:least, c.reltuples)"
).bindparams(bindparam("tables", expanding=True))


# The WAL size (bytes) past which the background thread copies it into the database file, and the
# size (pages) past which a committing writer does it itself because the thread fell behind.
_CHECKPOINT_BYTES = 4 * 1024 * 1024
_BACKSTOP_PAGES = 16_000


class _Checkpointer:
    """Copy a SQLite WAL into the database file from a background thread, off the writers' commit path.

    SQLite's own auto-checkpoint runs inside the commit that crosses its threshold: that writer copies
    megabytes and fsyncs while every other writer queues behind it. Here a committing writer only looks
    at the WAL's size and, past the threshold, wakes a thread that runs a PASSIVE checkpoint, which
    neither blocks nor waits for readers and writers. Durability is unchanged: a committed transaction
    is in the WAL either way; only when it reaches the database file moves.
    """

    def __init__(self, engine: Engine, wal: Path) -> None:
        self._engine = engine
        self._wal = wal
        self._due = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def nudge(self) -> None:
        """Wake the thread if the WAL has grown past the threshold (called after each write commits)."""
        try:
            size = os.stat(self._wal).st_size
        except OSError:  # no WAL yet, or just truncated
            return
        if size < _CHECKPOINT_BYTES or self._due.is_set():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="expunge-wal-checkpoint", daemon=True)
                self._thread.start()
        self._due.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._due.wait()
            if self._stop.is_set():
                return
            raw = self._engine.raw_connection()
            try:
                cur = raw.cursor()
                cur.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cur.close()
            finally:
                raw.close()
                self._due.clear()

    def close(self) -> None:
        """Stop the thread (a checkpoint in progress finishes first)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            self._due.set()
            thread.join()


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def is_postgres(conn_or_engine: Connection | Engine) -> bool:
    """Tell whether a connection or engine talks to PostgreSQL."""
    return conn_or_engine.dialect.name == "postgresql"


@dataclass(frozen=True)
class Database:
    """An open expunge database: the engine plus what was asked when it was opened.

    Attributes:
        engine: The SQLAlchemy engine; use :meth:`begin` for a write transaction.
        url: The URL it was opened from, with any password hidden.
        schema: The PostgreSQL schema the tables live in, or ``None`` for the default.
    """

    engine: Engine
    url: str
    schema: str | None = None

    @property
    def is_postgres(self) -> bool:
        """Tell whether this database is PostgreSQL."""
        return is_postgres(self.engine)

    writer: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    checkpointer: _Checkpointer | None = field(default=None, repr=False, compare=False)

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """Open a write transaction that commits on success and rolls back on any error.

        On SQLite, threads of one process queue on a lock for the single writer slot instead of
        polling SQLite's busy handler, which sleeps in growing steps and wastes most of the wait. The
        lock is re-entrant: a nested write transaction on another connection meets SQLite's busy
        timeout (an error) rather than hanging the thread.
        """
        if self.engine.dialect.name != "sqlite":
            with self.engine.begin() as conn:
                yield conn
            return
        with self.writer, self.engine.begin() as conn:
            yield conn
        if self.checkpointer is not None:
            self.checkpointer.nudge()

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """Open a read transaction; on SQLite it is deferred, so readers do not queue behind writers."""
        with self.engine.connect() as conn:
            conn.info["expunge_deferred"] = True
            with conn.begin():
                yield conn

    def checkpoint(self) -> None:
        """SQLite: copy the WAL into the database file and truncate it, so erased rows leave no old frames.

        ``secure_delete`` zeroes deleted rows in the database file, but the write-ahead log keeps old
        page images until a checkpoint truncates it. A no-op on PostgreSQL.
        """
        if self.engine.dialect.name != "sqlite":
            return
        # A raw connection: the pragma must run outside the BEGIN IMMEDIATE every SQLAlchemy transaction opens.
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cur.close()
        finally:
            raw.close()

    def refresh_statistics(self, tables: Sequence[str]) -> list[str]:
        """PostgreSQL: ANALYZE those of ``tables`` that changed by more than their size since last measured.

        A table that grew from empty keeps the statistics of an empty table until autovacuum gets
        to it (a minute or more): the planner then takes it for a few rows and chooses plans that
        read all of it — the tombstone lookup scanned every tombstone of the tenant, the outbox
        claim sorted every pending row on disk, and foreign-key checks kept the sequential scans
        they were planned with. Workers call this between batches; the check is one catalog query,
        and one process at a time runs it (the others skip). A no-op on SQLite.

        Returns:
            The tables analyzed.
        """
        if self.engine.dialect.name != "postgresql" or not tables:
            return []
        with self.engine.begin() as conn:
            if not conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _ANALYZE_LOCK}).scalar():
                return []
            stale = list(conn.execute(_STALE, {"tables": list(tables), "least": _ANALYZE_MIN_CHANGES}).scalars())
            for name in stale:  # names come from the catalog query above, never from a caller
                conn.execute(text(f'ANALYZE "{name}"'))
        return stale

    def dispose(self) -> None:
        """Stop the background checkpoint thread, if any, and close every pooled connection."""
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.engine.dispose()


def open_database(
    url: str,
    *,
    schema: str | None = None,
    migrate: bool = True,
    busy_timeout_ms: int = 30_000,
    echo: bool = False,
) -> Database:
    """Open the database at ``url`` and apply every pending migration.

    SQLite files get WAL journaling, ``secure_delete=ON`` (erased rows are overwritten with zeros,
    not left in free pages), foreign keys, a busy timeout and ``BEGIN IMMEDIATE`` transactions so
    concurrent writers queue instead of failing on a lock upgrade.

    Args:
        url: A SQLAlchemy URL: ``sqlite:///path.db`` or ``postgresql+psycopg://user@host/db``.
        schema: PostgreSQL only: a schema to create and use (lets tests and tenants share a server).
        migrate: Apply the migrations shipped in :mod:`expunge.db.migrations` (default true).
        busy_timeout_ms: SQLite only: how long a writer waits for the lock.
        echo: Log every SQL statement.

    Raises:
        ConfigError: The URL cannot be parsed, names an unsupported dialect, a driver that is not
            installed, or a bad schema name.
        InvalidDatabaseError: A SQLite file is not a usable database (garbage, truncated, a folder),
            cannot be created, or was migrated by a newer expunge.
        DatabaseBusyError: Another writer held the SQLite file longer than ``busy_timeout_ms``.
        BackendError: The server cannot be reached or the migrations fail.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise ConfigError(f"The database URL {url!r} cannot be parsed. {_ACCEPTED_URLS}") from err
    backend = parsed.get_backend_name()
    shown = parsed.render_as_string(hide_password=True)
    checkpointer = None
    if backend == "sqlite":
        if schema is not None:
            raise ConfigError(f"A schema ({schema!r}) can only be used with PostgreSQL. Got URL {shown!r}.")
        engine = _sqlite_engine(url, database=parsed.database, busy_timeout_ms=busy_timeout_ms, echo=echo)
        if parsed.database not in (None, "", ":memory:"):
            wal = Path(str(Path(parsed.database).expanduser()) + "-wal")
            checkpointer = _Checkpointer(engine, wal)
    elif backend == "postgresql":
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ConfigError(
                f"The schema name must be lowercase letters, digits and underscores. Got {schema!r} instead."
            )
        engine = _postgres_engine(url, schema=schema, echo=echo)
    else:
        raise ConfigError(f"Unsupported database {backend!r} in URL {shown!r}. {_ACCEPTED_URLS}")
    db = Database(engine=engine, url=shown, schema=schema, checkpointer=checkpointer)
    if migrate:
        try:
            upgrade(db)
        except BaseException:
            db.dispose()
            raise
    return db


_ACCEPTED_URLS = "Accepted: sqlite:///path.db or postgresql+psycopg://user@host:port/db."


def _create_engine(url: str, **kwargs) -> Engine:
    """``create_engine``, with a missing or unknown driver said in one sentence."""
    try:
        return create_engine(url, **kwargs)
    except (NoSuchModuleError, ImportError) as err:  # create_engine imports the driver at once
        parsed = make_url(url)
        raise ConfigError(
            f"The database driver {parsed.drivername!r} of URL {parsed.render_as_string(hide_password=True)!r} "
            f"is not available ({err}). {_ACCEPTED_URLS}"
        ) from err


def _sqlite_engine(url: str, *, database: str | None, busy_timeout_ms: int, echo: bool) -> Engine:
    in_memory = database in (None, "", ":memory:")
    if not in_memory:
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # a file is in the way, or no permission
            raise InvalidDatabaseError(
                f"The folder {str(folder)!r} of the SQLite database cannot be created: {err.strerror or err}. "
                "Give a path in a folder that exists or can be created."
            ) from err
    engine = _create_engine(
        url,
        echo=echo,
        # Autocommit at the driver level: SQLAlchemy's "begin" event below issues the BEGIN itself.
        connect_args={"isolation_level": None, "check_same_thread": False},
        poolclass=NullPool if in_memory else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        if not in_memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA secure_delete=ON")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA journal_size_limit=0")
        # Checkpoints run in Database's background thread; SQLite's own only if that thread falls behind.
        cur.execute(f"PRAGMA wal_autocheckpoint={_BACKSTOP_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock at once: two writers never deadlock upgrading a read lock.
        deferred = conn.info.pop("expunge_deferred", False)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: str, *, schema: str | None, echo: bool) -> Engine:
    connect_args: dict[str, object] = {}
    if schema is not None:
        connect_args["options"] = f"-csearch_path={schema}"
    engine = _create_engine(url, echo=echo, connect_args=connect_args, pool_pre_ping=True)
    if schema is not None:
        try:
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        except DatabaseError as err:
            raise database_error(err, url=make_url(url).render_as_string()) from err
    return engine


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply the package's Alembic migrations up to ``revision``.

    Raises:
        InvalidDatabaseError: The file is not a usable database, or holds a revision this expunge does not know.
        DatabaseBusyError: Another writer held the SQLite file past the busy timeout.
        BackendError: The database cannot be reached.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    try:
        with db.engine.begin() as conn:
            if db.is_postgres:
                # Workers and API replicas started together must not run the migrations twice.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except DatabaseError as err:  # raised on connect: a garbage or truncated file fails its first PRAGMA
        raise database_error(err, url=db.url) from err
    except CommandError as err:  # e.g. the database was migrated by a newer expunge
        raise InvalidDatabaseError(
            f"The database {db.url!r} cannot be migrated: {' '.join(str(err).split())}. "
            "Open it with the expunge version that wrote it, or point at another database."
        ) from err
