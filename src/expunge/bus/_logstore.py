"""The built-in prompt/interaction log store, and its subscriber that erases or redacts by match."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from expunge.bus import _tables as t
from expunge.bus.protocol import Event, receipt_for, register_subscriber
from expunge.catalog import new_id
from expunge.db import utcnow
from expunge.errors import BusError, SubscriberFailedError
from expunge.evidence import Receipt, StateDigest

if TYPE_CHECKING:
    from expunge.bus._build import SubscriberParts

__all__ = ["REDACTED", "LogStore", "LogStoreSubscriber"]

REDACTED = "[redacted]"

# Built once, by pseudonym, content hash and ID (constructing a statement costs more than running it).
_FIND = tuple(
    select(t.interaction_log).where(
        t.interaction_log.c.tenant == bindparam("tenant"), column.in_(bindparam("values", expanding=True))
    )
    for column in (t.interaction_log.c.pseudonym, t.interaction_log.c.content_sha256, t.interaction_log.c.id)
)
_DELETE = delete(t.interaction_log).where(t.interaction_log.c.id.in_(bindparam("ids", expanding=True)))


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
        """Return the tenant's entries matching any pseudonym, content hash or ID (each looked up by index)."""
        found: dict[str, dict[str, object]] = {}
        for statement, values in zip(_FIND, (pseudonyms, digests, ids), strict=True):
            values = list(values)
            for i in range(0, len(values), 500):
                for row in conn.execute(statement, {"tenant": tenant, "values": values[i : i + 500]}):
                    found[row.id] = dict(row._mapping)
        return [found[k] for k in sorted(found)]

    def all(self, conn: Connection, tenant: str) -> list[dict[str, object]]:
        """Return every entry of the tenant."""
        rows = conn.execute(select(t.interaction_log).where(t.interaction_log.c.tenant == tenant).order_by("id"))
        return [dict(r._mapping) for r in rows]


@register_subscriber("logstore")
class LogStoreSubscriber:
    """Erase (delete) or redact every log entry matching the event's pseudonyms, content hashes or ID.

    Args:
        store: The log store.
        mode: ``delete`` removes rows; ``redact`` blanks prompt and response and drops the pseudonym and
            hash, keeping a countable row.
        digest: Keys the receipts' state digests (the install's, see ``receipt_digest``); default a random key.
    """

    name = "logstore"

    @classmethod
    def from_parts(cls, parts: SubscriberParts) -> LogStoreSubscriber:
        """Build the subscriber of the install's log store (see :func:`~expunge.bus.build_subscribers`)."""
        return cls(parts.logstore, digest=parts.digest)

    def __init__(
        self,
        store: LogStore | None = None,
        *,
        mode: Literal["delete", "redact"] = "delete",
        digest: StateDigest | None = None,
    ) -> None:
        if mode not in ("delete", "redact"):
            raise BusError(f"The 'mode' parameter of LogStoreSubscriber must be 'delete' or 'redact'. Got {mode!r}.")
        self.store = store or LogStore()
        self.mode = mode
        self.digest = digest or StateDigest()

    def _digest(self, rows: Sequence[dict[str, object]]) -> str:
        """The keyed digest of entries (their prompts and responses are personal: never a plain hash of them)."""
        return self.digest([{k: str(v) for k, v in sorted(r.items()) if k != "created_at"} for r in rows])

    def handle_many(self, events: Sequence[Event], *, tx: Connection) -> list[Receipt]:
        """Apply log-entry events with one lookup and one write; sweeps go one by one."""
        receipts: dict[int, Receipt] = {}
        entries: dict[tuple[str, bool], list[int]] = {}
        for i, event in enumerate(events):
            self._check(event)
            if event.asset_kind == "log_entry" and event.operation != "restrict":
                entries.setdefault((event.tenant, self._redacts(event)), []).append(i)
        for (tenant, redact), indexes in entries.items():
            started = utcnow()
            ids = [self._entry_id(events[i]) for i in indexes]
            rows = {str(r["id"]): r for r in self.store.find(tx, tenant, ids=ids)}
            self._apply(tx, [r for r in rows.values() if not r["redacted"]], redact=redact)
            done: set[str] = set()
            for i, entry_id in zip(indexes, ids, strict=True):
                row = rows.get(entry_id)
                touched = row is not None and not row["redacted"] and entry_id not in done
                receipts[i] = self._receipt(
                    tx,
                    events[i],
                    started,
                    before=[row] if row and touched else [],
                    touched=[entry_id] if touched else [],
                    found=row is not None or entry_id in done,
                )
                done.add(entry_id)
        for i, event in enumerate(events):
            if i not in receipts:
                receipts[i] = self.handle(event, tx=tx)
        return [receipts[i] for i in range(len(events))]

    def handle(self, event: Event, *, tx: Connection) -> Receipt:
        """Apply the event to every matching entry.

        A ``log_entry`` event acts on that entry; a ``sweep`` on every entry of the subject's
        pseudonyms or content hashes. The outcome is ``applied`` when entries changed,
        ``already_applied`` when the entry named is there and already redacted, ``not_found`` when
        nothing matched (a sweep that found no entry, or an entry that is not there).
        """
        self._check(event)
        started = utcnow()
        if event.operation == "restrict":
            return self._keep(tx, event, started)
        if event.asset_kind == "log_entry":
            rows = self.store.find(tx, event.tenant, ids=[self._entry_id(event)])
        else:
            rows = self.store.find(tx, event.tenant, pseudonyms=event.pseudonyms, digests=event.content_sha256)
        live = [r for r in rows if not r["redacted"]]
        self._apply(tx, live, redact=self._redacts(event))
        return self._receipt(tx, event, started, before=rows, touched=[str(r["id"]) for r in live], found=bool(rows))

    def _keep(self, tx: Connection, event: Event, started) -> Receipt:
        """Restrict (a legal hold, a restriction request): the entry is kept as it is.

        The log store serves no retrieval and no training, so nothing in it changes; the catalog marks the
        entry's artifact ``restricted`` (the dispatcher's hook), which is what every hard filter reads.
        """
        rows = self.store.find(tx, event.tenant, ids=[self._entry_id(event)]) if event.asset_kind == "log_entry" else []
        digest = self._digest(rows)
        return receipt_for(
            event,
            subscriber=self.name,
            outcome="restricted" if rows else "not_found",
            started_at=started,
            before_sha256=digest,
            after_sha256=digest,
            artifact_ids=tuple(str(r["id"]) for r in rows),
            detail="kept unchanged: the log store serves no retrieval or training; the catalog marks it restricted",
        )

    @staticmethod
    def _check(event: Event) -> None:
        if event.operation not in ("erase", "redact", "correct", "restrict"):
            raise SubscriberFailedError(
                f"The log store cannot apply operation {event.operation!r}. Accepted: correct, erase, redact, restrict."
            )

    @staticmethod
    def _entry_id(event: Event) -> str:
        return event.uri.rsplit("/", 1)[-1]

    def _redacts(self, event: Event) -> bool:
        return self.mode == "redact" or event.operation == "redact"

    @staticmethod
    def _apply(tx: Connection, live: Sequence[dict[str, object]], *, redact: bool) -> None:
        touched = [str(r["id"]) for r in live]
        c = t.interaction_log.c
        for i in range(0, len(touched), 500):
            chunk = touched[i : i + 500]
            if redact:
                tx.execute(
                    update(t.interaction_log)
                    .where(c.id.in_(chunk))
                    .values(prompt=REDACTED, response=REDACTED, pseudonym=None, content_sha256=None, redacted=1)
                )
            else:
                tx.execute(_DELETE, {"ids": chunk})

    def _receipt(self, tx: Connection, event: Event, started, *, before, touched: list[str], found: bool) -> Receipt:
        redact = self._redacts(event)
        after = self.store.find(tx, event.tenant, ids=touched) if redact and touched else []
        verb = "redacted" if redact else "deleted"
        return receipt_for(
            event,
            subscriber=self.name,
            outcome="applied" if touched else ("already_applied" if found else "not_found"),
            started_at=started,
            before_sha256=self._digest(before),
            after_sha256=self._digest(after),
            artifact_ids=tuple(touched),
            detail=f"{len(touched)} log entr{'y' if len(touched) == 1 else 'ies'} {verb}",
        )
