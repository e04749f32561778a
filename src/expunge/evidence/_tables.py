"""Evidence tables: the append-only, hash-chained audit log and its head (Merkle frontier, signed checkpoint)."""

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

# One row (chain "global"): the last entry, the log's origin, the Merkle frontier (the roots of the
# complete subtrees on the tree's right edge, as a JSON list of hex digests) and the latest signed
# checkpoint note. Only the checkpoint is trusted; the rest is checked against it.
chain_head = Table(
    "evidence_head",
    metadata,
    Column("chain", String(16), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("entry_hash", String(64), nullable=False),
    Column("origin", String(64), nullable=False),
    Column("frontier", Text, nullable=False),
    Column("checkpoint", Text, nullable=True),
)
