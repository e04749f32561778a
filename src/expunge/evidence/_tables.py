"""Evidence tables: the append-only, hash-chained audit log and the head of its chain."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text

from expunge.db import metadata

GENESIS = "0" * 64

audit_log = Table(
    "evidence_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("tenant", String(64), nullable=False),
    Column("case_id", String(64), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("entry_hash", String(64), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "case_id", "seq"),
    Index(None, "tenant", "seq"),
)

chain_head = Table(
    "evidence_head",
    metadata,
    Column("chain", String(16), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("entry_hash", String(64), nullable=False),
)
