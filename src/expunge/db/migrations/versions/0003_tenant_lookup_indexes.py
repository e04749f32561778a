"""Lead every tenant index with the column that is looked up, so batch lookups stay O(batch).

A query such as ``tenant = ? AND id IN (…)`` could use a tenant-only index or the ID's own. Without
statistics, SQLite assumes an equality on an index narrows to a few rows and picks the tenant index
as soon as the IN list has more than a handful of IDs: it then reads every row of the tenant, so
each batch of a DSR's erasures cost time in proportion to the whole catalog. Indexes that lead with
the tenant and go on with the looked-up column serve both the tenant-only scans and these lookups.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (table, old index columns or None, new index columns)
_CHANGES = (
    ("catalog_records", ["tenant"], ["tenant", "id"]),
    ("catalog_artifacts", ["tenant"], ["tenant", "id"]),
    ("catalog_tombstones", ["tenant"], ["tenant", "asset_id"]),
    ("catalog_record_versions", None, ["tenant", "record_id"]),
    ("logstore_entries", ["pseudonym"], ["tenant", "pseudonym"]),
    ("logstore_entries", ["content_sha256"], ["tenant", "content_sha256"]),
    ("logstore_entries", None, ["tenant", "id"]),
    ("bus_outbox", ["case_id"], ["case_id", "status"]),
)


def _name(table: str, columns: list[str]) -> str:
    return f"ix_{table}_{'_'.join(columns)}"


def upgrade() -> None:
    """Replace the tenant-only (and bare lookup) indexes by tenant-first composite ones."""
    for table, old, new in _CHANGES:
        op.create_index(_name(table, new), table, new, unique=False)
        if old is not None:
            op.drop_index(_name(table, old), table_name=table)


def downgrade() -> None:
    """Restore the indexes of revision 0002."""
    for table, old, new in reversed(_CHANGES):
        if old is not None:
            op.create_index(_name(table, old), table, old, unique=False)
        op.drop_index(_name(table, new), table_name=table)
