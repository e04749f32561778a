"""Storage: embedded migrations match the declared tables; SQLite pragmas; bad URLs."""

from __future__ import annotations

import sqlite3
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

import expunge.bus
import expunge.catalog
import expunge.evidence
import expunge.requests  # noqa: F401 - every area's tables must be declared on the metadata
from expunge.db import metadata, open_database
from expunge.errors import BackendError, ConfigError


def test_migrations_create_exactly_the_declared_schema(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert {t for t in metadata.tables} >= {"catalog_records", "bus_outbox", "evidence_log", "requests_cases"}


def test_sqlite_runs_with_wal_secure_delete_and_foreign_keys(db):
    with db.begin() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA secure_delete")).scalar() == 1
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_background_thread_checkpoints_the_wal_off_the_commit_path(db, monkeypatch):
    monkeypatch.setattr("expunge.db._engine._CHECKPOINT_BYTES", 1)
    assert db.checkpointer is not None
    with db.begin() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() > 1000  # SQLite's own: a backstop only
        conn.execute(text("create table probe (n integer)"))
        conn.execute(text("insert into probe values (42)"))
    path = db.engine.url.database
    deadline = time.monotonic() + 10
    while True:  # the database file alone, WAL ignored, shows the row once the thread has checkpointed
        main = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            if main.execute("select n from probe").fetchall() == [(42,)]:
                break
        except sqlite3.DatabaseError:  # the table is not in the file yet, or the checkpoint is mid-write
            pass
        finally:
            main.close()
        assert time.monotonic() < deadline, "the WAL was not checkpointed"
        time.sleep(0.02)
    thread = db.checkpointer._thread
    db.dispose()
    assert thread is not None and not thread.is_alive()


def _head() -> str:
    from pathlib import Path

    from alembic.script import ScriptDirectory

    import expunge.db

    return ScriptDirectory(str(Path(expunge.db.__file__).with_name("migrations"))).get_current_head()


def test_reopening_applies_nothing_twice(db_template):
    db = open_database(f"sqlite:///{db_template}")
    with db.begin() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == _head()
        assert conn.execute(text("select count(*) from evidence_head")).scalar() == 1
    db.dispose()


def test_the_default_file_and_its_folder_are_created(tmp_path):
    path = tmp_path / "new" / "home" / "expunge.db"
    open_database(f"sqlite:///{path}").dispose()
    assert path.exists()


@pytest.mark.parametrize(
    ("url", "kw", "fragment"),
    [
        ("mysql://u@h/db", {}, "Unsupported database 'mysql'"),
        ("not a url", {}, "cannot be parsed"),
        ("sqlite:///x.db", {"schema": "s"}, "only be used with PostgreSQL"),
        ("postgresql+psycopg://u@127.0.0.1:1/db", {"schema": "Bad-Name"}, "lowercase letters"),
    ],
)
def test_bad_database_settings_are_refused(url, kw, fragment):
    with pytest.raises(ConfigError, match=fragment):
        open_database(url, **kw)


def test_an_unreachable_server_is_a_backend_error():
    with pytest.raises(BackendError, match="Cannot"):
        open_database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")


def test_refreshing_statistics_is_a_no_op_on_sqlite(db):
    assert db.refresh_statistics(["bus_outbox"]) == []
