"""Bus tables: the transactional outbox (one row per delivery) and the dead letters."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, Integer, String, Table, Text

from expunge.db import metadata

outbox = Table(
    "bus_outbox",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("case_id", String(64), nullable=True),
    Column("subscriber", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("receipt_seq", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=True),
    # Set when the delivery did something else than the plan published (a legal hold placed after approval
    # turned an erasure into a restriction); settlement reads these rows back into the case (migration 0007).
    Column("effective_operation", String(16), nullable=True),
    # True while the payload carries subject pseudonyms or content hashes (sweep events); they are dropped once
    # the event is delivered and the retention has passed (Outbox.minimise, migration 0007).
    Column("subject_data", Boolean, nullable=True),
    Index(None, "status", "next_attempt_at"),
    Index(None, "subject_data", "processed_at"),
    # Settlement asks "does this case still have a pending delivery?" once per case (migration 0003).
    Index(None, "case_id", "status"),
)

dead_letters = Table(
    "bus_dead_letters",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("event_id", String(64), nullable=False, index=True),
    Column("tenant", String(64), nullable=False),
    Column("subscriber", String(64), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("dead_at", DateTime(timezone=True), nullable=False),
    Column("replayed_at", DateTime(timezone=True), nullable=True),
    Column("replayed_by", String(128), nullable=True),
    Index(None, "tenant", "replayed_at"),
)

# The built-in prompt/interaction log store (a subscriber's own data, kept in the same database).
interaction_log = Table(
    "logstore_entries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("pseudonym", String(64), nullable=True),
    Column("content_sha256", String(64), nullable=True),
    Column("prompt", Text, nullable=False),
    Column("response", Text, nullable=False),
    Column("redacted", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "tenant", "created_at"),
    # Tenant first, then the looked-up column (migration 0003).
    Index(None, "tenant", "pseudonym"),
    Index(None, "tenant", "content_sha256"),
    Index(None, "tenant", "id"),
)
