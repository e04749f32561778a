"""Fixtures for the governance contract suites: one database per test on every storage backend.

PostgreSQL runs against ``EXPUNGE_TEST_POSTGRES_URL`` (default the local server, database ``test``)
in a schema of its own that is dropped afterwards, so reruns and parallel runs never collide. When no
server answers the tests skip saying so — unless ``EXPUNGE_REQUIRE_POSTGRES=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from expunge.db import open_database

PG_URL = os.environ.get("EXPUNGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def require_postgres() -> str:
    """Return the test server URL, or skip (fail under EXPUNGE_REQUIRE_POSTGRES=1) if it does not answer."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except OperationalError as err:
        reason = f"PostgreSQL at {PG_URL} does not answer ({type(err.orig).__name__}); set EXPUNGE_TEST_POSTGRES_URL"
        if os.environ.get("EXPUNGE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} — required because EXPUNGE_REQUIRE_POSTGRES=1")
        pytest.skip(reason)
    return PG_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("template") / "expunge.db"
    open_database(f"sqlite:///{path}").dispose()
    return str(path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_db(request, tmp_path, sqlite_template):
    if request.param == "sqlite":
        path = tmp_path / "expunge.db"
        shutil.copy(sqlite_template, path)
        db = open_database(f"sqlite:///{path}")
        yield db
        db.dispose()
        return
    url = require_postgres()
    schema = f"expunge_test_{uuid.uuid4().hex[:12]}"
    db = open_database(url, schema=schema)
    try:
        yield db
    finally:
        db.dispose()
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
