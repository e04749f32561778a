"""Catalog tables: subjects (pseudonyms only), records and their immutable versions, artifacts,
lineage edges, legal holds and tombstones."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

from expunge.db import metadata

ID = 64
TENANT = 64

subjects = Table(
    "catalog_subjects",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("tenant", String(TENANT), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

subject_pseudonyms = Table(
    "catalog_subject_pseudonyms",
    metadata,
    Column("tenant", String(TENANT), nullable=False),
    Column("pseudonym", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("subject_id", String(ID), ForeignKey("catalog_subjects.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("tenant", "pseudonym"),
    Index(None, "subject_id"),
)

records = Table(
    "catalog_records",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("tenant", String(TENANT), nullable=False),
    Column("source", String(512), nullable=False),
    Column("status", String(16), nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Tenant first, then the ID: `tenant = ? AND id IN (…)` must not scan the whole tenant (migration 0003).
    Index(None, "tenant", "id"),
)

record_versions = Table(
    "catalog_record_versions",
    metadata,
    Column("record_id", String(ID), ForeignKey("catalog_records.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("tenant", String(TENANT), nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("legal_basis", String(32), nullable=False),
    Column("consent", JSON, nullable=False),
    Column("retention_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("record_id", "version"),
    Index(None, "tenant", "content_sha256"),
    Index(None, "tenant", "record_id"),
)

record_subjects = Table(
    "catalog_record_subjects",
    metadata,
    Column("record_id", String(ID), ForeignKey("catalog_records.id", ondelete="CASCADE"), nullable=False),
    Column("subject_id", String(ID), ForeignKey("catalog_subjects.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("record_id", "subject_id"),
    Index(None, "subject_id"),
)

record_tags = Table(
    "catalog_record_tags",
    metadata,
    Column("record_id", String(ID), ForeignKey("catalog_records.id", ondelete="CASCADE"), nullable=False),
    Column("tenant", String(TENANT), nullable=False),
    Column("tag", String(256), nullable=False),
    PrimaryKeyConstraint("record_id", "tag"),
    Index(None, "tenant", "tag"),
)

artifacts = Table(
    "catalog_artifacts",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("tenant", String(TENANT), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("uri", String(1024), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # A fingerprint of the artifact's content (e.g. a chunk's normalised text), tombstoned when it is erased
    # so that the same content cannot be registered again (migration 0007).
    Column("content_sha256", String(64), nullable=True),
    Index(None, "tenant", "id"),
)

lineage_edges = Table(
    "catalog_lineage_edges",
    metadata,
    Column("tenant", String(TENANT), nullable=False),
    Column("child_id", String(ID), nullable=False),
    Column("parent_id", String(ID), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("child_id", "parent_id"),
    Index(None, "parent_id"),
)

holds = Table(
    "catalog_holds",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("tenant", String(TENANT), nullable=False),
    Column("target_id", String(ID), nullable=False),
    Column("reason", String(1024), nullable=False),
    Column("placed_by", String(128), nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("lifted_at", DateTime(timezone=True), nullable=True),
    Column("lifted_by", String(128), nullable=True),
    Index(None, "tenant", "target_id"),
)

tombstones = Table(
    "catalog_tombstones",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("tenant", String(TENANT), nullable=False),
    Column("asset_id", String(ID), nullable=False),
    Column("asset_kind", String(16), nullable=False),
    Column("case_id", String(ID), nullable=True),
    Column("event_id", String(ID), nullable=True),
    Column("versions", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("asset_id"),
    Index(None, "tenant", "asset_id"),
)

tombstoned_content = Table(
    "catalog_tombstoned_content",
    metadata,
    Column("tenant", String(TENANT), nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("tombstone_id", String(ID), ForeignKey("catalog_tombstones.id"), nullable=False),
    PrimaryKeyConstraint("tenant", "content_sha256"),
)

# Keyed pseudonyms of people whose erasure was accepted: data naming them is refused at registration, so an
# accepted erasure also wins against later writes (migration 0007). Kept on purpose; see docs/governance.md.
suppressed_pseudonyms = Table(
    "catalog_suppressed_pseudonyms",
    metadata,
    Column("tenant", String(TENANT), nullable=False),
    Column("pseudonym", String(64), nullable=False),
    Column("case_id", String(ID), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant", "pseudonym"),
)
