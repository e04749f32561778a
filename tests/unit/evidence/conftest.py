"""Fixtures: a migrated SQLite database per test (copied from one migrated template)."""

from __future__ import annotations

import shutil

import pytest

from expunge.catalog import Catalog, Pseudonymizer
from expunge.db import Database, open_database


@pytest.fixture(scope="session")
def db_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("template") / "expunge.db"
    open_database(f"sqlite:///{path}").dispose()
    return str(path)


@pytest.fixture
def db(db_template, tmp_path) -> Database:
    path = tmp_path / "expunge.db"
    shutil.copy(db_template, path)
    database = open_database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(Pseudonymizer(b"k" * 32))
