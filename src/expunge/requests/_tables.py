"""Request tables: cases, their state history, their planned actions, and API keys."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Index, Integer, PrimaryKeyConstraint, String, Table, Text, text

from expunge.db import metadata

cases = Table(
    "requests_cases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("regulation", String(16), nullable=False),
    Column("state", String(32), nullable=False),
    Column("pseudonyms", JSON, nullable=False),
    Column("content_sha256", JSON, nullable=False),
    Column("entity_tags", JSON, nullable=False),
    Column("params", JSON, nullable=False),
    # pseudonym → kind of identifier it came from (email, phone, name, user_id), so that a case can say which
    # identifier matched nothing without keeping the identifier (migration 0007).
    Column("identifier_kinds", JSON, nullable=True),
    Column("dedupe_key", String(64), nullable=False),
    Column("filed_by", String(128), nullable=False),
    Column("filed_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("verified_by", String(160), nullable=True),
    Column("token_sha256", String(64), nullable=True),
    Column("token_expires_at", DateTime(timezone=True), nullable=True),
    Column("token_used_at", DateTime(timezone=True), nullable=True),
    Column("exceptions", JSON, nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index(None, "tenant", "state"),
    Index(None, "tenant", "dedupe_key"),
    Index(None, "state", "due_at"),
    # One open request per subject and scope: concurrent duplicates cannot both be stored.
    Index(
        "uq_requests_cases_open_dedupe",
        "tenant",
        "dedupe_key",
        unique=True,
        sqlite_where=text("closed_at IS NULL"),
        postgresql_where=text("closed_at IS NULL"),
    ),
)

transitions = Table(
    "requests_transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("from_state", String(32), nullable=True),
    Column("to_state", String(32), nullable=False),
    Column("actor", String(160), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

actions = Table(
    "requests_actions",
    metadata,
    Column("case_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("asset_id", String(64), nullable=False),
    Column("asset_kind", String(16), nullable=False),
    Column("uri", String(1024), nullable=False),
    Column("operation", String(16), nullable=False),
    Column("subscriber", String(64), nullable=False),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("hold_ids", JSON, nullable=False),
    Column("exception", Text, nullable=True),
    PrimaryKeyConstraint("case_id", "seq"),
    # Lifting a legal hold looks up the actions it restricted by asset (migration 0007).
    Index(None, "asset_id"),
)

api_keys = Table(
    "requests_api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("label", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)
