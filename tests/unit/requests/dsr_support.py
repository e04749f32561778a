"""Helpers shared by the request tests (a module name unique across test folders)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from expunge.catalog import Identifier
from expunge.db import utcnow
from expunge.evidence import Signer

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


def seed_subject(gov, store, *, tenant="acme", email="ann@example.org", n_records=2, content_prefix="doc"):
    """Register records of one subject, each with a chunk and an embedding in the memory store."""
    records, artifacts = [], []
    with gov.db.begin() as conn:
        for i in range(n_records):
            rec = gov.catalog.records.register(
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
