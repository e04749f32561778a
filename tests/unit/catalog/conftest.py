"""Fixtures: a catalog (the migrated database per test comes from tests/unit/conftest.py)."""

from __future__ import annotations

import pytest

from expunge.catalog import Catalog, Pseudonymizer


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(Pseudonymizer(b"k" * 32))
