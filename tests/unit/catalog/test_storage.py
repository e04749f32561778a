"""Storage: embedded migrations match the declared tables; SQLite pragmas; bad URLs."""

from __future__ import annotations

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


def test_reopening_applies_nothing_twice(db_template):
    db = open_database(f"sqlite:///{db_template}")
    with db.begin() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == "0003"
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
