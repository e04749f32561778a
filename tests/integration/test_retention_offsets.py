"""Retention dates keep their instant on both backends: aware times are stored in UTC, naive ones refused.

SQLite keeps a timestamp's wall time and drops its offset, so a retention date of 09:00-05:00 was
stored as 09:00 and the erasure ran five hours early (14:00 UTC was meant).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from expunge.catalog import Catalog, Pseudonymizer
from expunge.db import open_database
from expunge.errors import CatalogError

NEW_YORK = timezone(timedelta(hours=-5))
TOKYO = timezone(timedelta(hours=9))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    if request.param == "sqlite":
        database = open_database(f"sqlite:///{tmp_path / 'expunge.db'}")
    else:
        url, schema = request.getfixturevalue("pg_schema")
        database = open_database(url, schema=schema)
    yield database
    database.dispose()


def register(conn, catalog, name: str, retention_until):
    return catalog.records.register(
        conn,
        "acme",
        source="crm",
        content_sha256=hashlib.sha256(name.encode()).hexdigest(),
        purpose="support",
        legal_basis="contract",
        retention_until=retention_until,
    )


def test_a_retention_date_with_an_offset_expires_at_its_instant(db):
    catalog = Catalog(Pseudonymizer(b"k" * 32))
    ends = datetime(2030, 1, 1, 9, 0, tzinfo=NEW_YORK)  # 14:00 UTC
    with db.begin() as conn:
        rec = register(conn, catalog, "ny", ends)
        assert rec.retention_until == datetime(2030, 1, 1, 14, 0, tzinfo=UTC)
        assert rec.retention_until.utcoffset() == timedelta(0)
        # Between the wall time 09:00 read as UTC and the instant meant: nothing has expired yet.
        assert catalog.records.expired(conn, "acme", now=datetime(2030, 1, 1, 13, 59, tzinfo=UTC)) == []
        assert catalog.records.expired(conn, "acme", now=datetime(2030, 1, 1, 14, 0, tzinfo=UTC)) == [rec.id]
        # The same instant written in another zone compares equal.
        assert catalog.records.expired(conn, "acme", now=datetime(2030, 1, 1, 23, 0, tzinfo=TOKYO)) == [rec.id]
        later = catalog.records.add_version(
            conn, "acme", rec.id, retention_until=datetime(2030, 6, 1, 8, 0, tzinfo=TOKYO)
        )
        assert later.retention_until == datetime(2030, 5, 31, 23, 0, tzinfo=UTC)
        assert catalog.records.expired(conn, "acme", now=datetime(2030, 5, 31, 22, 59, tzinfo=UTC)) == []


def test_a_naive_retention_date_is_refused_and_nothing_is_stored(db):
    catalog = Catalog(Pseudonymizer(b"k" * 32))
    with db.begin() as conn:
        with pytest.raises(CatalogError, match="must carry a UTC offset"):
            register(conn, catalog, "naive", datetime(2030, 1, 1, 9, 0))
        rec = register(conn, catalog, "ok", datetime(2030, 1, 1, 9, 0, tzinfo=UTC))
        with pytest.raises(CatalogError, match="must carry a UTC offset"):
            catalog.records.add_version(conn, "acme", rec.id, retention_until=datetime(2031, 1, 1))
        assert [v["version"] for v in catalog.records.versions(conn, "acme", rec.id)] == [1]
        with pytest.raises(CatalogError, match="must carry a UTC offset"):
            catalog.records.expired(conn, "acme", now=datetime(2031, 1, 1))
