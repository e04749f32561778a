"""Fixtures: a Governance over a fresh migrated SQLite file, with a movable clock and a memory store."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from dsr_support import SIGNER, Clock

from expunge.bus import MemoryStore, MemorySubscriber, RetryPolicy
from expunge.catalog import Catalog, Pseudonymizer
from expunge.db import open_database
from expunge.evidence import AuditLog
from expunge.requests import DeadlinePolicy, Governance, TokenIssuer


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
