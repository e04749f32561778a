"""An accepted erasure always wins: record what a delivery really did, and what must not come back.

- ``bus_outbox.effective_operation``: set when a delivery did something else than the plan published (a
  legal hold placed after approval turns an erasure into a restriction), so that settlement writes it
  into the case.
- ``bus_outbox.subject_data``: marks payloads that carry subject pseudonyms or content hashes, which are
  dropped once delivered and past the retention.
- ``requests_actions`` index on ``asset_id``: lifting a legal hold finds the erasures it blocked.
- ``catalog_artifacts.content_sha256``: fingerprints an artifact's content, tombstoned with it.
- ``catalog_suppressed_pseudonyms``: pseudonyms of people whose erasure was accepted; data naming them is
  refused when registered again.
- ``requests_cases.identifier_kinds``: the kind of each identifier a request named (never its value), so
  a case says which one matched nothing.

Revision ID: 0007_erasure_wins
Revises: 0004_transparency
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_erasure_wins"
down_revision = "0004_transparency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the columns."""
    with op.batch_alter_table("bus_outbox") as batch:
        batch.add_column(sa.Column("effective_operation", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("subject_data", sa.Boolean(), nullable=True))
    op.create_index(
        "ix_bus_outbox_subject_data_processed_at", "bus_outbox", ["subject_data", "processed_at"], unique=False
    )
    # Payloads published before this revision that still carry pseudonyms or content hashes.
    carries = " OR ".join(
        f'CAST(payload AS TEXT) LIKE \'%"{key}":{space}["%\''
        for key in ("pseudonyms", "content_sha256")
        for space in ("", " ")
    )
    op.execute(f"UPDATE bus_outbox SET subject_data = TRUE WHERE {carries}")
    op.create_index("ix_requests_actions_asset_id", "requests_actions", ["asset_id"], unique=False)
    with op.batch_alter_table("catalog_artifacts") as batch:
        batch.add_column(sa.Column("content_sha256", sa.String(length=64), nullable=True))
    with op.batch_alter_table("requests_cases") as batch:
        batch.add_column(sa.Column("identifier_kinds", sa.JSON(), nullable=True))
    op.create_table(
        "catalog_suppressed_pseudonyms",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "pseudonym", name=op.f("pk_catalog_suppressed_pseudonyms")),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("catalog_suppressed_pseudonyms")
    with op.batch_alter_table("requests_cases") as batch:
        batch.drop_column("identifier_kinds")
    with op.batch_alter_table("catalog_artifacts") as batch:
        batch.drop_column("content_sha256")
    op.drop_index("ix_requests_actions_asset_id", table_name="requests_actions")
    op.drop_index("ix_bus_outbox_subject_data_processed_at", table_name="bus_outbox")
    with op.batch_alter_table("bus_outbox") as batch:
        batch.drop_column("subject_data")
        batch.drop_column("effective_operation")
