"""Fixtures: a Governance over a fresh migrated SQLite file, with a movable clock and a memory store."""

from __future__ import annotations

import hashlib
import shutil
from datetime import timedelta

import pytest

from expunge.bus import MemoryStore, MemorySubscriber, RetryPolicy
from expunge.catalog import Catalog, Identifier, Pseudonymizer
from expunge.db import open_database, utcnow
from expunge.evidence import AuditLog, Signer
from expunge.requests import DeadlinePolicy, Governance, TokenIssuer

SIGNER = Signer.generate()


class Clock:
    """A clock tests move forward by hand."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


def sha(data: str) -> str:
    return hashlib.sha256(data.encode()).hexdigest()


@pytest.fixture(scope="session")
def db_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("template") / "expunge.db"
    open_database(f"sqlite:///{path}").dispose()
    return str(path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def gov(db_template, tmp_path, clock, store) -> Governance:
    path = tmp_path / "expunge.db"
    shutil.copy(db_template, path)
    db = open_database(f"sqlite:///{path}")
    yield Governance(
        db,
        catalog=Catalog(Pseudonymizer(b"p" * 32)),
        audit=AuditLog(SIGNER),
        tokens=TokenIssuer(b"t" * 32, ttl=timedelta(hours=1)),
        policy=DeadlinePolicy(due_soon_days=5),
        subscribers={"memory": MemorySubscriber(store)},
        retry=RetryPolicy(max_attempts=3, base_seconds=1, max_seconds=4),
        clock=clock,
    )
    db.dispose()


def seed_subject(gov, store, *, tenant="acme", email="ann@example.org", n_records=2, content_prefix="doc"):
    """Register records of one subject, each with a chunk and an embedding in the memory store."""
    records, artifacts = [], []
    with gov.db.begin() as conn:
        for i in range(n_records):
            rec = gov.catalog.register_record(
                conn,
                tenant,
                source="crm",
                content_sha256=sha(f"{tenant}-{content_prefix}-{i}"),
                purpose="support",
                legal_basis="contract",
                subjects=[Identifier("email", email)],
                consent={"training": True},
                tags=[f"crm:{content_prefix}-{i}"],
            )
            chunk = gov.catalog.register_artifact(
                conn, tenant, kind="chunk", uri=f"memory://c/{rec.id}", derived_from=[rec.id]
            )
            emb = gov.catalog.register_artifact(
                conn, tenant, kind="embedding", uri=f"memory://e/{rec.id}", derived_from=[chunk.id]
            )
            for art in (chunk, emb):
                store.put(art.id, b"vector bytes")
            records.append(rec)
            artifacts.extend([chunk, emb])
    return records, artifacts
