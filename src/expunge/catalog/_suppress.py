"""The suppression list: what an accepted erasure forbids from coming back.

Two kinds of entries, both kept after the erasure on purpose (docs/governance.md, "What is kept"):

- keyed pseudonyms (HMAC-SHA256 under the install's secret, never a raw identifier) of every person an
  accepted erasure named: a record, a subject link or a chunk naming them is refused at registration;
- content fingerprints (sha256) of erased records and artifacts, in ``catalog_tombstoned_content``:
  the same content, after the normalisation its writer applies, is refused too.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, insert, select

from expunge.catalog import _tables as t
from expunge.db import utcnow
from expunge.errors import TombstonedContentError

__all__ = ["refuse_tombstoned", "suppress", "suppressed", "tombstoned_content"]

_IDS = bindparam("ids", expanding=True)
_SUPPRESSED = select(t.suppressed_pseudonyms.c.pseudonym).where(
    t.suppressed_pseudonyms.c.tenant == bindparam("tenant"), t.suppressed_pseudonyms.c.pseudonym.in_(_IDS)
)
_TOMBSTONED = select(t.tombstoned_content.c.content_sha256).where(
    t.tombstoned_content.c.tenant == bindparam("tenant"), t.tombstoned_content.c.content_sha256.in_(_IDS)
)


def suppressed(conn: Connection, tenant: str, pseudonyms: Sequence[str]) -> set[str]:
    """Return which of ``pseudonyms`` belong to a person whose erasure was accepted in ``tenant``."""
    wanted = sorted(set(pseudonyms))
    out: set[str] = set()
    for i in range(0, len(wanted), 500):
        out.update(conn.execute(_SUPPRESSED, {"tenant": tenant, "ids": wanted[i : i + 500]}).scalars())
    return out


def suppress(conn: Connection, tenant: str, pseudonyms: Sequence[str], *, case_id: str | None) -> int:
    """Add pseudonyms to the tenant's suppression list (idempotent); return how many were new."""
    new = sorted(set(pseudonyms) - suppressed(conn, tenant, pseudonyms))
    if new:
        now = utcnow()
        conn.execute(
            insert(t.suppressed_pseudonyms),
            [{"tenant": tenant, "pseudonym": p, "case_id": case_id, "created_at": now} for p in new],
        )
    return len(new)


def tombstoned_content(conn: Connection, tenant: str, digests: Sequence[str]) -> set[str]:
    """Return which content fingerprints were erased before in ``tenant`` (records' versions, artifacts)."""
    wanted = sorted(set(digests))
    out: set[str] = set()
    for i in range(0, len(wanted), 500):
        out.update(conn.execute(_TOMBSTONED, {"tenant": tenant, "ids": wanted[i : i + 500]}).scalars())
    return out


def refuse_tombstoned(conn: Connection, tenant: str, digest: str) -> None:
    """Refuse content erased before in ``tenant`` (a record version or an artifact about to be registered).

    Raises:
        TombstonedContentError: ``digest`` is the fingerprint of erased content; the message names its tombstone.
    """
    row = conn.execute(
        select(t.tombstoned_content.c.tombstone_id).where(
            t.tombstoned_content.c.tenant == tenant, t.tombstoned_content.c.content_sha256 == digest
        )
    ).first()
    if row is not None:
        raise TombstonedContentError(
            f"Content {digest} was erased in this tenant (tombstone {row.tombstone_id}); it cannot be registered again."
        )
