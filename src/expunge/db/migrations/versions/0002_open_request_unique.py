"""Allow one open request per tenant and dedupe key, enforced by the database.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add a unique index over open requests (closed_at is null) so concurrent duplicates cannot both land."""
    op.create_index(
        "uq_requests_cases_open_dedupe",
        "requests_cases",
        ["tenant", "dedupe_key"],
        unique=True,
        sqlite_where=sa.text("closed_at IS NULL"),
        postgresql_where=sa.text("closed_at IS NULL"),
    )


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("uq_requests_cases_open_dedupe", table_name="requests_cases")
