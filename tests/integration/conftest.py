"""Integration fixtures: a PostgreSQL schema per test (dropped after), skipped or failed as CI asks."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

PG_URL = os.environ.get("EXPUNGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_schema():
    """Yield ``(url, schema)`` of a fresh schema on the test server; skip (or fail in CI) if none answers."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except OperationalError as err:
        reason = f"PostgreSQL at {PG_URL} does not answer ({type(err.orig).__name__}); set EXPUNGE_TEST_POSTGRES_URL"
        if os.environ.get("EXPUNGE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} — required because EXPUNGE_REQUIRE_POSTGRES=1")
        pytest.skip(reason)
    schema = f"expunge_it_{uuid.uuid4().hex[:12]}"
    try:
        yield PG_URL, schema
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
