"""The built-in prompt/interaction log store, and its subscriber that erases or redacts by match."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from sqlalchemy import Connection, delete, insert, or_, select, update

from expunge.bus import _tables as t
from expunge.bus.protocol import Event, register_subscriber
from expunge.catalog import new_id
from expunge.db import utcnow
from expunge.errors import BusError, SubscriberFailedError
from expunge.evidence import Receipt, canonical, sha256_hex

__all__ = ["REDACTED", "LogStore", "LogStoreSubscriber"]

REDACTED = "[redacted]"


class LogStore:
    """Prompts and responses of an AI system, tagged with a subject pseudonym and a content hash."""

    def add(
        self,
        conn: Connection,
        tenant: str,
        *,
        prompt: str,
        response: str,
        pseudonym: str | None = None,
        content_sha256: str | None = None,
    ) -> str:
        """Store one interaction and return its ID."""
        entry_id = new_id("log")
        conn.execute(
            insert(t.interaction_log).values(
                id=entry_id,
                tenant=tenant,
                pseudonym=pseudonym,
                content_sha256=content_sha256,
                prompt=prompt,
                response=response,
                redacted=0,
                created_at=utcnow(),
            )
        )
        return entry_id

    def find(
        self,
        conn: Connection,
        tenant: str,
        *,
        pseudonyms: Sequence[str] = (),
        digests: Sequence[str] = (),
        ids: Sequence[str] = (),
    ) -> list[dict[str, object]]:
        """Return the tenant's entries matching any pseudonym, content hash or ID."""
        c = t.interaction_log.c
        conds = [c.pseudonym.in_(pseudonyms), c.content_sha256.in_(digests), c.id.in_(ids)]
        rows = conn.execute(select(t.interaction_log).where(c.tenant == tenant, or_(*conds)).order_by(c.id))
        return [dict(r._mapping) for r in rows]

    def all(self, conn: Connection, tenant: str) -> list[dict[str, object]]:
        """Return every entry of the tenant."""
        rows = conn.execute(select(t.interaction_log).where(t.interaction_log.c.tenant == tenant).order_by("id"))
        return [dict(r._mapping) for r in rows]


def _digest(rows: Sequence[dict[str, object]]) -> str:
    return sha256_hex(canonical([{k: str(v) for k, v in sorted(r.items()) if k != "created_at"} for r in rows]))


@register_subscriber("logstore")
class LogStoreSubscriber:
    """Erase (delete) or redact every log entry matching the event's pseudonyms, content hashes or ID.

    Args:
        store: The log store.
        mode: ``delete`` removes rows; ``redact`` blanks prompt and response and drops the pseudonym and
            hash, keeping a countable row.
    """

    name = "logstore"

    def __init__(self, store: LogStore | None = None, *, mode: Literal["delete", "redact"] = "delete") -> None:
        if mode not in ("delete", "redact"):
            raise BusError(f"The 'mode' parameter of LogStoreSubscriber must be 'delete' or 'redact'. Got {mode!r}.")
        self.store = store or LogStore()
        self.mode = mode

    def handle(self, event: Event, *, tx: Connection) -> Receipt:
        """Apply the event to every matching entry; none matching is an ``already_applied`` receipt."""
        if event.operation not in ("erase", "redact", "correct"):
            raise SubscriberFailedError(
                f"The log store cannot apply operation {event.operation!r}. Accepted: correct, erase, redact."
            )
        started = utcnow()
        ids = [event.uri.rsplit("/", 1)[-1]] if event.asset_kind == "log_entry" else []
        rows = self.store.find(tx, event.tenant, pseudonyms=event.pseudonyms, digests=event.content_sha256, ids=ids)
        live = [r for r in rows if not r["redacted"]]
        touched = [str(r["id"]) for r in live]
        c = t.interaction_log.c
        if touched:
            if self.mode == "delete" and event.operation != "redact":
                tx.execute(delete(t.interaction_log).where(c.id.in_(touched)))
            else:
                tx.execute(
                    update(t.interaction_log)
                    .where(c.id.in_(touched))
                    .values(prompt=REDACTED, response=REDACTED, pseudonym=None, content_sha256=None, redacted=1)
                )
        after = self.store.find(tx, event.tenant, pseudonyms=event.pseudonyms, digests=event.content_sha256, ids=ids)
        return Receipt(
            event_id=event.id,
            case_id=event.case_id,
            tenant=event.tenant,
            subscriber=self.name,
            asset_id=event.asset_id,
            asset_kind=event.asset_kind,
            operation=event.operation,
            outcome="applied" if touched else "already_applied",
            started_at=started,
            finished_at=utcnow(),
            before_sha256=_digest(rows),
            after_sha256=_digest(after),
            artifact_ids=tuple(touched),
            detail=f"{len(touched)} log entr{'y' if len(touched) == 1 else 'ies'} "
            f"{'deleted' if self.mode == 'delete' and event.operation != 'redact' else 'redacted'}",
        )
