"""Create the governance schema: catalog, requests, bus, log store and evidence tables.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table and seed the head of the audit-log chain."""
    op.create_table(
        "bus_dead_letters",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("subscriber", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replayed_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bus_dead_letters")),
    )
    op.create_index(op.f("ix_bus_dead_letters_event_id"), "bus_dead_letters", ["event_id"], unique=False)
    op.create_index(
        op.f("ix_bus_dead_letters_tenant_replayed_at"), "bus_dead_letters", ["tenant", "replayed_at"], unique=False
    )
    op.create_table(
        "bus_outbox",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("subscriber", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("receipt_seq", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bus_outbox")),
    )
    op.create_index(op.f("ix_bus_outbox_case_id"), "bus_outbox", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_bus_outbox_status_next_attempt_at"), "bus_outbox", ["status", "next_attempt_at"], unique=False
    )
    op.create_table(
        "catalog_artifacts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("uri", sa.String(length=1024), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_artifacts")),
    )
    op.create_index(op.f("ix_catalog_artifacts_tenant"), "catalog_artifacts", ["tenant"], unique=False)
    op.create_table(
        "catalog_holds",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=1024), nullable=False),
        sa.Column("placed_by", sa.String(length=128), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_holds")),
    )
    op.create_index(op.f("ix_catalog_holds_tenant_target_id"), "catalog_holds", ["tenant", "target_id"], unique=False)
    op.create_table(
        "catalog_lineage_edges",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("child_id", "parent_id", name=op.f("pk_catalog_lineage_edges")),
    )
    op.create_index(op.f("ix_catalog_lineage_edges_parent_id"), "catalog_lineage_edges", ["parent_id"], unique=False)
    op.create_table(
        "catalog_records",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_records")),
    )
    op.create_index(op.f("ix_catalog_records_tenant"), "catalog_records", ["tenant"], unique=False)
    op.create_table(
        "catalog_subjects",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_subjects")),
    )
    op.create_table(
        "catalog_tombstones",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("asset_id", sa.String(length=64), nullable=False),
        sa.Column("asset_kind", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_tombstones")),
        sa.UniqueConstraint("asset_id", name=op.f("uq_catalog_tombstones_asset_id")),
    )
    op.create_index(op.f("ix_catalog_tombstones_tenant"), "catalog_tombstones", ["tenant"], unique=False)
    op.create_table(
        "evidence_head",
        sa.Column("chain", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_evidence_head")),
    )
    op.create_table(
        "evidence_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_evidence_log")),
    )
    op.create_index(op.f("ix_evidence_log_case_id_seq"), "evidence_log", ["case_id", "seq"], unique=False)
    op.create_index(op.f("ix_evidence_log_tenant_seq"), "evidence_log", ["tenant", "seq"], unique=False)
    op.create_table(
        "logstore_entries",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("redacted", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logstore_entries")),
    )
    op.create_index(op.f("ix_logstore_entries_content_sha256"), "logstore_entries", ["content_sha256"], unique=False)
    op.create_index(op.f("ix_logstore_entries_pseudonym"), "logstore_entries", ["pseudonym"], unique=False)
    op.create_index(
        op.f("ix_logstore_entries_tenant_created_at"), "logstore_entries", ["tenant", "created_at"], unique=False
    )
    op.create_table(
        "requests_actions",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.String(length=64), nullable=False),
        sa.Column("asset_kind", sa.String(length=16), nullable=False),
        sa.Column("uri", sa.String(length=1024), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("subscriber", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("hold_ids", sa.JSON(), nullable=False),
        sa.Column("exception", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", "seq", name=op.f("pk_requests_actions")),
        sa.UniqueConstraint("event_id", name=op.f("uq_requests_actions_event_id")),
    )
    op.create_table(
        "requests_api_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests_api_keys")),
    )
    op.create_table(
        "requests_cases",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("regulation", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("pseudonyms", sa.JSON(), nullable=False),
        sa.Column("content_sha256", sa.JSON(), nullable=False),
        sa.Column("entity_tags", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("filed_by", sa.String(length=128), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_by", sa.String(length=160), nullable=True),
        sa.Column("token_sha256", sa.String(length=64), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exceptions", sa.JSON(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests_cases")),
    )
    op.create_index(op.f("ix_requests_cases_state_due_at"), "requests_cases", ["state", "due_at"], unique=False)
    op.create_index(
        op.f("ix_requests_cases_tenant_dedupe_key"), "requests_cases", ["tenant", "dedupe_key"], unique=False
    )
    op.create_index(op.f("ix_requests_cases_tenant_state"), "requests_cases", ["tenant", "state"], unique=False)
    op.create_table(
        "requests_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests_transitions")),
    )
    op.create_index(op.f("ix_requests_transitions_case_id"), "requests_transitions", ["case_id"], unique=False)
    op.create_table(
        "catalog_record_subjects",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["catalog_records.id"],
            name=op.f("fk_catalog_record_subjects_record_id_catalog_records"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["catalog_subjects.id"],
            name=op.f("fk_catalog_record_subjects_subject_id_catalog_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "subject_id", name=op.f("pk_catalog_record_subjects")),
    )
    op.create_index(
        op.f("ix_catalog_record_subjects_subject_id"), "catalog_record_subjects", ["subject_id"], unique=False
    )
    op.create_table(
        "catalog_record_tags",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("tag", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["catalog_records.id"],
            name=op.f("fk_catalog_record_tags_record_id_catalog_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "tag", name=op.f("pk_catalog_record_tags")),
    )
    op.create_index(op.f("ix_catalog_record_tags_tenant_tag"), "catalog_record_tags", ["tenant", "tag"], unique=False)
    op.create_table(
        "catalog_record_versions",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("legal_basis", sa.String(length=32), nullable=False),
        sa.Column("consent", sa.JSON(), nullable=False),
        sa.Column("retention_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["catalog_records.id"],
            name=op.f("fk_catalog_record_versions_record_id_catalog_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "version", name=op.f("pk_catalog_record_versions")),
    )
    op.create_index(
        op.f("ix_catalog_record_versions_tenant_content_sha256"),
        "catalog_record_versions",
        ["tenant", "content_sha256"],
        unique=False,
    )
    op.create_table(
        "catalog_subject_pseudonyms",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["catalog_subjects.id"],
            name=op.f("fk_catalog_subject_pseudonyms_subject_id_catalog_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "pseudonym", name=op.f("pk_catalog_subject_pseudonyms")),
    )
    op.create_index(
        op.f("ix_catalog_subject_pseudonyms_subject_id"), "catalog_subject_pseudonyms", ["subject_id"], unique=False
    )
    op.create_table(
        "catalog_tombstoned_content",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("tombstone_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tombstone_id"],
            ["catalog_tombstones.id"],
            name=op.f("fk_catalog_tombstoned_content_tombstone_id_catalog_tombstones"),
        ),
        sa.PrimaryKeyConstraint("tenant", "content_sha256", name=op.f("pk_catalog_tombstoned_content")),
    )
    head = sa.table(
        "evidence_head", sa.column("chain", sa.String), sa.column("seq", sa.Integer), sa.column("entry_hash", sa.String)
    )
    op.bulk_insert(head, [{"chain": "global", "seq": 0, "entry_hash": "0" * 64}])


def downgrade() -> None:
    """Drop every table."""
    op.drop_table("catalog_tombstoned_content")
    op.drop_index(op.f("ix_catalog_subject_pseudonyms_subject_id"), table_name="catalog_subject_pseudonyms")
    op.drop_table("catalog_subject_pseudonyms")
    op.drop_index(op.f("ix_catalog_record_versions_tenant_content_sha256"), table_name="catalog_record_versions")
    op.drop_table("catalog_record_versions")
    op.drop_index(op.f("ix_catalog_record_tags_tenant_tag"), table_name="catalog_record_tags")
    op.drop_table("catalog_record_tags")
    op.drop_index(op.f("ix_catalog_record_subjects_subject_id"), table_name="catalog_record_subjects")
    op.drop_table("catalog_record_subjects")
    op.drop_index(op.f("ix_requests_transitions_case_id"), table_name="requests_transitions")
    op.drop_table("requests_transitions")
    op.drop_index(op.f("ix_requests_cases_tenant_state"), table_name="requests_cases")
    op.drop_index(op.f("ix_requests_cases_tenant_dedupe_key"), table_name="requests_cases")
    op.drop_index(op.f("ix_requests_cases_state_due_at"), table_name="requests_cases")
    op.drop_table("requests_cases")
    op.drop_table("requests_api_keys")
    op.drop_table("requests_actions")
    op.drop_index(op.f("ix_logstore_entries_tenant_created_at"), table_name="logstore_entries")
    op.drop_index(op.f("ix_logstore_entries_pseudonym"), table_name="logstore_entries")
    op.drop_index(op.f("ix_logstore_entries_content_sha256"), table_name="logstore_entries")
    op.drop_table("logstore_entries")
    op.drop_index(op.f("ix_evidence_log_tenant_seq"), table_name="evidence_log")
    op.drop_index(op.f("ix_evidence_log_case_id_seq"), table_name="evidence_log")
    op.drop_table("evidence_log")
    op.drop_table("evidence_head")
    op.drop_index(op.f("ix_catalog_tombstones_tenant"), table_name="catalog_tombstones")
    op.drop_table("catalog_tombstones")
    op.drop_table("catalog_subjects")
    op.drop_index(op.f("ix_catalog_records_tenant"), table_name="catalog_records")
    op.drop_table("catalog_records")
    op.drop_index(op.f("ix_catalog_lineage_edges_parent_id"), table_name="catalog_lineage_edges")
    op.drop_table("catalog_lineage_edges")
    op.drop_index(op.f("ix_catalog_holds_tenant_target_id"), table_name="catalog_holds")
    op.drop_table("catalog_holds")
    op.drop_index(op.f("ix_catalog_artifacts_tenant"), table_name="catalog_artifacts")
    op.drop_table("catalog_artifacts")
    op.drop_index(op.f("ix_bus_outbox_status_next_attempt_at"), table_name="bus_outbox")
    op.drop_index(op.f("ix_bus_outbox_case_id"), table_name="bus_outbox")
    op.drop_table("bus_outbox")
    op.drop_index(op.f("ix_bus_dead_letters_tenant_replayed_at"), table_name="bus_dead_letters")
    op.drop_index(op.f("ix_bus_dead_letters_event_id"), table_name="bus_dead_letters")
    op.drop_table("bus_dead_letters")
