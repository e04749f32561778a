"""Fixtures shared by the unit tests of the governance areas: a migrated SQLite database per test."""

from __future__ import annotations

import shutil

import pytest

from expunge.db import Database, open_database


@pytest.fixture(scope="session")
def db_template(tmp_path_factory) -> str:
    """A database migrated once per session, copied by every test that needs a fresh one."""
    path = tmp_path_factory.mktemp("template") / "expunge.db"
    open_database(f"sqlite:///{path}").dispose()
    return str(path)


@pytest.fixture
def db(db_template, tmp_path) -> Database:
    """A fresh migrated SQLite database (a copy of the template)."""
    path = tmp_path / "expunge.db"
    shutil.copy(db_template, path)
    database = open_database(f"sqlite:///{path}")
    yield database
    database.dispose()
