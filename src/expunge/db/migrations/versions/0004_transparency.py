"""Make the audit log a Merkle tree: the head keeps the log's origin, its frontier and a signed checkpoint.

The head row gains ``origin`` (the log's ID, ``expunge/<16 hex>``, drawn once here), ``frontier``
(the roots of the complete subtrees on the right edge of the RFC 9162 tree over every entry, a JSON
list of hex digests) and ``checkpoint`` (the latest signed checkpoint note). The frontier of an
existing log is computed here from its entries; the migration has no signing key, so such a log gets
its first checkpoint from the first process that opens it with its key (see ``AuditLog.adopt``).

The leaf and node hashes are written out here rather than imported, so that this migration keeps
meaning what it meant when the code moves on.

Revision ID: 0004_transparency
Revises: 0003
"""

import hashlib
import json
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0004_transparency"
down_revision = "0003"
branch_labels = None
depends_on = None


def _frontier(texts) -> tuple[int, list[str]]:
    """RFC 9162 §2.1.1 over the entries' texts: leaf = SHA-256(0x00 || text), node = SHA-256(0x01 || l || r)."""
    size, hashes = 0, []
    for text in texts:
        hashes.append(hashlib.sha256(b"\x00" + text.encode()).digest())
        carry = size
        while carry & 1:
            right = hashes.pop()
            hashes[-1] = hashlib.sha256(b"\x01" + hashes[-1] + right).digest()
            carry >>= 1
        size += 1
    return size, [h.hex() for h in hashes]


def upgrade() -> None:
    """Add the columns, fill them from the existing entries, then make origin and frontier required."""
    with op.batch_alter_table("evidence_head") as batch:
        batch.add_column(sa.Column("origin", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("frontier", sa.Text(), nullable=True))
        batch.add_column(sa.Column("checkpoint", sa.Text(), nullable=True))
    bind = op.get_bind()
    texts = (row[0] for row in bind.execute(sa.text("SELECT text FROM evidence_log ORDER BY seq")))
    _, frontier = _frontier(texts)
    bind.execute(
        sa.text("UPDATE evidence_head SET origin = :origin, frontier = :frontier WHERE chain = 'global'"),
        {"origin": f"expunge/{secrets.token_hex(8)}", "frontier": json.dumps(frontier)},
    )
    with op.batch_alter_table("evidence_head") as batch:
        batch.alter_column("origin", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("frontier", existing_type=sa.Text(), nullable=False)


def downgrade() -> None:
    """Drop the columns (the entries and their hash chain stay as they were)."""
    with op.batch_alter_table("evidence_head") as batch:
        batch.drop_column("checkpoint")
        batch.drop_column("frontier")
        batch.drop_column("origin")
