"""The transactional outbox: publish in the caller's transaction, list, and replay dead letters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, exists, func, insert, select, update

from expunge.bus import _tables as t
from expunge.bus.protocol import Event
from expunge.db import Page, keyset_page, utcnow
from expunge.errors import AlreadyProcessedError, UnknownEventError

__all__ = ["DeadLetter", "Outbox", "event_from_row", "route"]

STATUSES = ("pending", "done", "dead")

_CASES = t.outbox.c.case_id.in_(bindparam("case_ids", expanding=True))
_PROGRESS = (
    select(t.outbox.c.case_id, t.outbox.c.status, func.count())
    .where(_CASES)
    .group_by(t.outbox.c.case_id, t.outbox.c.status)
)
_MARKS = select(t.outbox.c.id, t.outbox.c.status, t.outbox.c.receipt_seq).where(_CASES)
_CARRYING = (
    select(t.outbox.c.id, t.outbox.c.payload)
    .where(
        t.outbox.c.subject_data.is_(True),
        t.outbox.c.processed_at <= bindparam("before"),
        t.outbox.c.status == "done",
    )
    .limit(bindparam("limit"))
)
_MINIMISE = (
    update(t.outbox).where(t.outbox.c.id == bindparam("b_id")).values(payload=bindparam("b_payload"), subject_data=None)
)
_CHANGED = select(t.outbox.c.id, t.outbox.c.case_id, t.outbox.c.effective_operation, t.outbox.c.payload).where(
    _CASES, t.outbox.c.status == "done", t.outbox.c.effective_operation.is_not(None)
)


def _dead_letters(tenant: str | None, *, include_replayed: bool) -> Select:
    query = select(t.dead_letters)
    if tenant is not None:
        query = query.where(t.dead_letters.c.tenant == tenant)
    if not include_replayed:
        query = query.where(t.dead_letters.c.replayed_at.is_(None))
    return query


def route(asset_kind: str, uri: str) -> str:
    """Return the subscriber responsible for an asset: ``catalog`` for records, else the URI scheme."""
    if asset_kind == "record":
        return "catalog"
    return uri.split("://", 1)[0]


def event_from_row(row) -> Event:
    """Rebuild an :class:`Event` from an outbox row."""
    p = row.payload
    return Event(
        id=row.id,
        tenant=row.tenant,
        case_id=row.case_id,
        subscriber=row.subscriber,
        operation=p["operation"],
        asset_id=p["asset_id"],
        asset_kind=p["asset_kind"],
        uri=p["uri"],
        content_sha256=tuple(p.get("content_sha256", ())),
        pseudonyms=tuple(p.get("pseudonyms", ())),
        params=dict(p.get("params", {})),
        attempt=row.attempts + 1,
        created_at=row.created_at,
    )


@dataclass(frozen=True)
class DeadLetter:
    """An event that failed every attempt and waits, forever, for a replay."""

    id: str
    event_id: str
    tenant: str
    subscriber: str
    attempts: int
    error: str
    dead_at: datetime
    replayed_at: datetime | None
    replayed_by: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready fields the CLI prints and the API answers."""
        return {
            "id": self.id,
            "event_id": self.event_id,
            "tenant": self.tenant,
            "subscriber": self.subscriber,
            "attempts": self.attempts,
            "error": self.error,
            "dead_at": self.dead_at.isoformat(),
            "replayed_by": self.replayed_by,
            "replayed_at": self.replayed_at.isoformat() if self.replayed_at else None,
        }


class Outbox:
    """Write events next to the state change that caused them, and manage their delivery rows.

    Args:
        clock: Returns "now"; it must be the dispatcher's clock, which decides what is due.
    """

    def __init__(self, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock

    def publish(self, conn: Connection, events: Sequence[Event]) -> int:
        """Insert ``events`` as pending deliveries in the caller's transaction.

        Returns:
            How many were written.
        """
        if not events:
            return 0
        now = self.clock()
        conn.execute(
            insert(t.outbox),
            [
                {
                    "id": e.id,
                    "tenant": e.tenant,
                    "case_id": e.case_id,
                    "subscriber": e.subscriber,
                    "payload": e.payload(),
                    "status": "pending",
                    "subject_data": True if e.pseudonyms or e.content_sha256 else None,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for e in events
            ],
        )
        return len(events)

    def case_progress(self, conn: Connection, case_id: str) -> dict[str, int]:
        """Return ``{status: count}`` of a case's deliveries (every status present, zero if none)."""
        return self.progress(conn, [case_id])[case_id]

    def progress(self, conn: Connection, case_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Return ``{case_id: {status: count}}`` for many cases in one statement per 500."""
        out = {case_id: dict.fromkeys(STATUSES, 0) for case_id in case_ids}
        ids = list(out)
        for i in range(0, len(ids), 500):
            for case_id, status, n in conn.execute(_PROGRESS, {"case_ids": ids[i : i + 500]}):
                out[case_id][status] = n
        return out

    def receipt_marks(self, conn: Connection, case_ids: Sequence[str]) -> dict[str, tuple[str, int | None]]:
        """Return ``{event_id: (status, receipt_seq)}`` of every delivery of the cases."""
        ids = list(dict.fromkeys(case_ids))
        out: dict[str, tuple[str, int | None]] = {}
        for i in range(0, len(ids), 500):
            for event_id, status, seq in conn.execute(_MARKS, {"case_ids": ids[i : i + 500]}):
                out[event_id] = (status, seq)
        return out

    def changed_at_delivery(
        self, conn: Connection, case_ids: Sequence[str]
    ) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
        """Return, by case, ``(event_id, operation, params)`` of each delivery that did something else than planned.

        A legal hold placed after a plan was published turns an erasure into a restriction when the
        event is delivered (see ``Dispatcher``'s ``before`` hook); ``params`` then say why.
        """
        out: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
        ids = list(dict.fromkeys(case_ids))
        for i in range(0, len(ids), 500):
            for row in conn.execute(_CHANGED, {"case_ids": ids[i : i + 500]}):
                params = dict(row.payload.get("params", {}))
                out.setdefault(row.case_id, []).append((row.id, row.effective_operation, params))
        return out

    def deliveries(self, conn: Connection, case_id: str) -> list[dict[str, object]]:
        """Return a case's delivery rows, oldest first."""
        rows = conn.execute(
            select(t.outbox).where(t.outbox.c.case_id == case_id).order_by(t.outbox.c.created_at, t.outbox.c.id)
        ).mappings()
        return [dict(r) for r in rows]

    def pending_exists(self, case_id: ColumnElement[str]) -> ColumnElement[bool]:
        """Return an SQL ``EXISTS`` that is true while the case has a pending delivery."""
        return exists().where(t.outbox.c.case_id == case_id, t.outbox.c.status == "pending")

    def receipt_exists(self, event_id: ColumnElement[str]) -> ColumnElement[bool]:
        """Return an SQL ``EXISTS`` that is true when the event was delivered and its receipt logged."""
        return exists().where(
            t.outbox.c.id == event_id, t.outbox.c.status == "done", t.outbox.c.receipt_seq.is_not(None)
        )

    def minimise(self, conn: Connection, *, delivered_before: datetime, limit: int = 1000) -> int:
        """Drop the subject pseudonyms and content hashes from payloads delivered before ``delivered_before``.

        Sweep events carry them to match a subject's entries; once delivered they serve nothing but a
        confirmation oracle, so they go (the receipt keeps what was done). Events still pending or
        dead keep theirs: a retry or a replay needs them.

        Returns:
            How many payloads were minimised (at most ``limit`` per call).
        """
        rows = conn.execute(_CARRYING, {"before": delivered_before, "limit": limit}).all()
        if rows:
            conn.execute(
                _MINIMISE,
                [
                    {"b_id": row.id, "b_payload": {**row.payload, "pseudonyms": [], "content_sha256": []}}
                    for row in rows
                ],
            )
        return len(rows)

    def pending_count(self, conn: Connection) -> int:
        """Return how many deliveries wait (due now or later)."""
        return conn.execute(select(func.count()).where(t.outbox.c.status == "pending")).scalar_one()

    def dead_letters(
        self, conn: Connection, tenant: str | None = None, *, include_replayed: bool = False
    ) -> list[DeadLetter]:
        """Return dead letters, oldest first, optionally of one tenant."""
        query = _dead_letters(tenant, include_replayed=include_replayed)
        return [DeadLetter(**r._mapping) for r in conn.execute(query.order_by(t.dead_letters.c.dead_at))]

    def dead_letter_page(
        self, conn: Connection, tenant: str | None = None, *, limit: int = 100, cursor: str | None = None
    ) -> Page[DeadLetter]:
        """Return one page of the dead letters waiting for a replay, oldest first, optionally of one tenant.

        Args:
            conn: An open connection.
            tenant: Only this tenant's letters; ``None`` for every tenant.
            limit: Page size, 1 to 1000.
            cursor: ``next_cursor`` of the previous page; ``None`` for the first.

        Raises:
            InvalidPageError: ``limit`` is out of range or ``cursor`` is not one this list handed out.
        """
        page = keyset_page(
            conn,
            _dead_letters(tenant, include_replayed=False),
            at=t.dead_letters.c.dead_at,
            key=t.dead_letters.c.id,
            descending=False,
            limit=limit,
            cursor=cursor,
        )
        return page.map(lambda r: DeadLetter(**r._mapping))

    def replay(self, conn: Connection, dead_letter_id: str, *, tenant: str | None, by: str) -> str:
        """Put a dead-lettered event back in the outbox with a fresh attempt budget.

        Returns:
            The event ID, now pending again.

        Raises:
            UnknownEventError: No such dead letter (for this tenant).
            AlreadyProcessedError: The dead letter was already replayed, or its event has since been
                processed.
        """
        query = select(t.dead_letters).where(t.dead_letters.c.id == dead_letter_id)
        if tenant is not None:
            query = query.where(t.dead_letters.c.tenant == tenant)
        letter = conn.execute(query).first()
        if letter is None:
            raise UnknownEventError(f"No dead letter {dead_letter_id!r}. List them with `expunge deadletters list`.")
        if letter.replayed_at is not None:
            raise AlreadyProcessedError(
                f"Dead letter {dead_letter_id} was already replayed at {letter.replayed_at.isoformat()}."
            )
        status = conn.execute(select(t.outbox.c.status).where(t.outbox.c.id == letter.event_id)).scalar()
        if status != "dead":
            raise AlreadyProcessedError(
                f"Event {letter.event_id} is {status!r}, not dead; it cannot be replayed again."
            )
        now = self.clock()
        conn.execute(
            update(t.outbox)
            .where(t.outbox.c.id == letter.event_id)
            .values(status="pending", attempts=0, next_attempt_at=now, last_error=None)
        )
        conn.execute(
            update(t.dead_letters).where(t.dead_letters.c.id == dead_letter_id).values(replayed_at=now, replayed_by=by)
        )
        return letter.event_id
