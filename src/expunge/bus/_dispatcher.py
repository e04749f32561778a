"""The dispatcher: claim due deliveries, hand them to subscribers, record receipts, retry, dead-letter."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, insert, select, update

from expunge.bus import _tables as t
from expunge.bus._outbox import event_from_row
from expunge.bus.protocol import BatchSubscriber, Event, Subscriber
from expunge.catalog import new_id
from expunge.db import Database, utcnow
from expunge.errors import BusError, UnknownSubscriberError, unknown_name_message
from expunge.evidence import AuditLog, Receipt

__all__ = ["DispatchStats", "Dispatcher", "RetryPolicy"]

log = logging.getLogger(__name__)

AppliedHook = Callable[[Connection, Sequence[Event], Sequence[Receipt]], None]
GuardHook = Callable[[Connection, Sequence[Event]], list[Event]]
BatchHook = Callable[[Connection, set[str]], None]

# Built once (constructing a statement costs several times what executing a cached one does).
_CLAIM = (
    select(t.outbox)
    .where(t.outbox.c.status == "pending", t.outbox.c.next_attempt_at <= bindparam("now"))
    .order_by(t.outbox.c.next_attempt_at, t.outbox.c.id)
    .limit(bindparam("limit"))
)
_CLAIM_LOCKED = _CLAIM.with_for_update(skip_locked=True)
# While lingering, look again this often whether a full batch is due.
_LINGER_POLL = 0.005
# How many deliveries are due, counted up to the claim limit, in a read transaction (no write lock).
_DUE = select(func.count()).select_from(
    select(t.outbox.c.id)
    .where(t.outbox.c.status == "pending", t.outbox.c.next_attempt_at <= bindparam("now"))
    .limit(bindparam("limit"))
    .subquery()
)
_MARK_DONE = (
    update(t.outbox)
    .where(t.outbox.c.id == bindparam("event_id"))
    .values(status="done", attempts=bindparam("n"), processed_at=bindparam("now"), receipt_seq=bindparam("seq"))
    .values(last_error=None)
)

_CHANGE_PAYLOAD = (
    update(t.outbox)
    .where(t.outbox.c.id == bindparam("event_id"))
    .values(payload=bindparam("payload"), effective_operation=bindparam("operation"))
)


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a failed delivery again, and when to give up.

    Attributes:
        max_attempts: Deliveries tried this many times go to the dead-letter table.
        base_seconds: Delay after the first failure; it doubles each time.
        max_seconds: Longest delay.
    """

    max_attempts: int = 8
    base_seconds: float = 1.0
    max_seconds: float = 900.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise BusError(f"The 'max_attempts' parameter of RetryPolicy must be >= 1. Got {self.max_attempts}.")
        if not 0 < self.base_seconds <= self.max_seconds:
            raise BusError(
                "RetryPolicy needs 0 < base_seconds <= max_seconds. "
                f"Got base_seconds={self.base_seconds}, max_seconds={self.max_seconds}."
            )

    def delay(self, attempts: int) -> timedelta:
        """Return the wait after ``attempts`` failed attempts (exponential, capped)."""
        return timedelta(seconds=min(self.max_seconds, self.base_seconds * 2 ** max(0, attempts - 1)))


@dataclass
class DispatchStats:
    """What one dispatcher pass did."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    receipts: list[Receipt] = field(default_factory=list)
    case_ids: set[str] = field(default_factory=set)
    """The cases of every delivery handled, whatever its fate (what a settler has to look at)."""

    @property
    def handled(self) -> int:
        """Deliveries taken off the queue in this pass, whatever their fate."""
        return self.delivered + self.retried + self.dead


class Dispatcher:
    """Deliver outbox events at least once; with idempotent subscribers, effectively once.

    Each delivery runs in a savepoint inside a batch transaction: the subscriber's same-database
    effect, the signed receipt in the audit log and the ``done`` mark commit together, so a crash
    at any point either keeps all three or none (and the event is delivered again).

    Args:
        db: The database holding the outbox.
        subscribers: Subscribers by registry name; an event for a missing name fails and retries.
        audit: Where receipts are signed and chained.
        retry: The retry policy.
        before: Called first in each delivery's savepoint with the events about to be delivered; it
            returns them, possibly changed (e.g. locked in the catalog and an erasure of an asset under
            legal hold turned into a restriction). A changed event is stored back in the outbox with
            its ``effective_operation``, so settlement and any redelivery see what was really done.
        on_applied: Called in the delivery's transaction after each successful receipt (e.g. to mark
            the artifact erased in the catalog).
        on_batch: Called at the end of each batch's transaction with the IDs of the cases it touched
            (e.g. to settle them). It runs in a savepoint: a failure is logged and undone, and the
            deliveries still commit.
        worker_id: Names this worker in logs; default ``host:pid``.
        clock: Returns "now"; tests move it forward to make retries due.
    """

    def __init__(
        self,
        db: Database,
        subscribers: Mapping[str, Subscriber],
        *,
        audit: AuditLog,
        retry: RetryPolicy | None = None,
        before: GuardHook | None = None,
        on_applied: AppliedHook | None = None,
        on_batch: BatchHook | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        # Looked up per event, not copied: a mapping may build a subscriber when its first event arrives.
        self.subscribers = subscribers
        self.audit = audit
        self.retry = retry or RetryPolicy()
        self.before = before
        self.on_applied = on_applied
        self.on_batch = on_batch
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.clock = clock

    def due(self, *, limit: int = 50) -> int:
        """Count the deliveries due now, up to ``limit``, in a read transaction (it takes no write lock)."""
        with self.db.read() as conn:
            return conn.execute(_DUE, {"now": self.clock(), "limit": limit}).scalar_one()

    def run_once(self, *, limit: int = 50, linger: float = 0.0) -> DispatchStats:
        """Claim up to ``limit`` due deliveries and process them in one transaction.

        Args:
            limit: Deliveries claimed at most.
            linger: When some but fewer than ``limit`` deliveries are due, wait this many seconds
                first so that the batch takes in those published meanwhile. A batch has a fixed cost
                (its transaction, claim, commit, settlement) that small batches pay per event; on
                SQLite the writer slot it holds is the one intake waits for.
        """
        stats = DispatchStats()
        # Look before taking the writer slot: an idle worker polling every few ms must not queue
        # with, and hold up, the transactions that file requests.
        due = self.due(limit=limit)
        if due == 0:
            return stats
        if linger > 0 and due < limit:
            until = time.monotonic() + linger
            while due < limit and (left := until - time.monotonic()) > 0:
                time.sleep(min(left, _LINGER_POLL))
                due = self.due(limit=limit)
        with self.db.begin() as conn:
            groups: dict[str, list] = {}
            for row in self._claim(conn, limit):
                groups.setdefault(row.subscriber, []).append(row)
                if row.case_id is not None:
                    stats.case_ids.add(row.case_id)
            batched = [rows for name, rows in groups.items() if len(rows) > 1 and self._batches(name)]
            # All batch subscribers at once; if that fails, each alone, so that a failing one fails alone.
            if batched and not self._deliver_many(conn, batched, stats):
                for rows in batched:
                    if len(batched) == 1 or not self._deliver_many(conn, [rows], stats):
                        for row in rows:
                            self._deliver(conn, row, stats)
            for rows in groups.values():
                if not any(rows is b for b in batched):
                    for row in rows:
                        self._deliver(conn, row, stats)
            if self.on_batch is not None and stats.case_ids:
                try:
                    with conn.begin_nested():
                        self.on_batch(conn, stats.case_ids)
                # The deliveries and their receipts stand; what the hook does can be done again later.
                except Exception as err:
                    log.warning("the batch hook failed after %d deliveries: %s", stats.handled, err)
        return stats

    def _deliver_many(self, conn: Connection, groups, stats: DispatchStats) -> bool:
        """Try the fast path: one savepoint, one call per subscriber, one log append, one status update."""
        rows = [row for group in groups for row in group]
        events = [event_from_row(r) for r in rows]
        names = ", ".join(group[0].subscriber for group in groups)
        try:
            with conn.begin_nested():
                events = self._guard(conn, events)
                receipts: list[Receipt] = []
                start = 0
                for group in groups:
                    batch = events[start : start + len(group)]
                    start += len(group)
                    found = self.subscribers[batch[0].subscriber].handle_many(batch, tx=conn)
                    self._check(batch, found)
                    receipts.extend(found)
                if self.on_applied is not None:
                    self.on_applied(conn, events, receipts)
                # Last: the append takes the log's head lock, which every other writer waits for until
                # this transaction commits.
                entries = self.audit.append_receipts(conn, receipts)
                now = self.clock()
                conn.execute(
                    _MARK_DONE,
                    [
                        {"event_id": e.id, "n": r.attempts + 1, "seq": entry.seq, "now": now}
                        for e, r, entry in zip(events, rows, entries, strict=True)
                    ],
                )
        # Any failure of the batch falls back to smaller batches, then one-by-one delivery, where it is
        # recorded per event.
        except Exception as err:
            log.warning("batch of %d for %s fell back to smaller deliveries: %s", len(events), names, err)
            return False
        stats.delivered += len(events)
        stats.receipts.extend(receipts)
        return True

    def _batches(self, name: str) -> bool:
        """Tell whether the subscriber takes batches; one that cannot be started fails per event, later."""
        try:
            return isinstance(self.subscribers.get(name), BatchSubscriber)
        except Exception:  # the per-event delivery records this failure and retries it
            return False

    def _guard(self, conn: Connection, events: list[Event]) -> list[Event]:
        """Run the ``before`` hook and store back every event it changed (same savepoint as the delivery)."""
        if self.before is None:
            return events
        guarded = self.before(conn, events)
        if len(guarded) != len(events) or any(g.id != e.id for g, e in zip(guarded, events, strict=True)):
            raise BusError("The dispatcher's before hook must return the events it was given, in order.")
        changed = [g for g, e in zip(guarded, events, strict=True) if g != e]
        if changed:
            conn.execute(
                _CHANGE_PAYLOAD,
                [{"event_id": g.id, "payload": g.payload(), "operation": g.operation} for g in changed],
            )
        return guarded

    @staticmethod
    def _check(events: Sequence[Event], receipts: Sequence[Receipt]) -> None:
        if len(receipts) != len(events):
            raise BusError(f"A subscriber returned {len(receipts)} receipts for {len(events)} events.")
        for event, receipt in zip(events, receipts, strict=True):
            if receipt.event_id != event.id or receipt.asset_id != event.asset_id:
                raise BusError(
                    f"Subscriber {event.subscriber!r} returned a receipt for event {receipt.event_id} / asset "
                    f"{receipt.asset_id}; expected event {event.id} / asset {event.asset_id}."
                )

    def drain(self, *, limit: int = 50, max_passes: int = 10_000) -> DispatchStats:
        """Run passes until no delivery is due; return the totals."""
        total = DispatchStats()
        for _ in range(max_passes):
            stats = self.run_once(limit=limit)
            total.delivered += stats.delivered
            total.retried += stats.retried
            total.dead += stats.dead
            total.receipts.extend(stats.receipts)
            total.case_ids |= stats.case_ids
            if stats.handled == 0:
                break
        return total

    def run(
        self, *, stop: threading.Event | None = None, idle_sleep: float = 0.2, limit: int = 50, linger: float = 0.0
    ) -> None:
        """Loop until ``stop`` is set, sleeping ``idle_sleep`` seconds whenever nothing is due."""
        stop = stop or threading.Event()
        log.info("bus worker %s started", self.worker_id)
        while not stop.is_set():
            if self.run_once(limit=limit, linger=linger).handled == 0:
                stop.wait(idle_sleep)

    def _claim(self, conn: Connection, limit: int) -> list:
        # N PostgreSQL workers share the queue: each locks the rows it takes and skips rows others hold.
        query = _CLAIM_LOCKED if self.db.is_postgres else _CLAIM
        return list(conn.execute(query, {"now": self.clock(), "limit": limit}))

    def _deliver(self, conn: Connection, row, stats: DispatchStats) -> None:
        event = event_from_row(row)
        started = time.perf_counter()
        try:
            with conn.begin_nested():
                subscriber = self.subscribers.get(event.subscriber)
                if subscriber is None:
                    raise UnknownSubscriberError(
                        unknown_name_message("subscriber", event.subscriber, self.subscribers)
                        + " Start the worker with it, then replay the dead letter."
                    )
                (event,) = self._guard(conn, [event])
                receipt = subscriber.handle(event, tx=conn)
                self._check([event], [receipt])
                entry = self.audit.append_receipt(conn, receipt)
                if self.on_applied is not None:
                    self.on_applied(conn, [event], [receipt])
                conn.execute(
                    update(t.outbox)
                    .where(t.outbox.c.id == event.id)
                    .values(
                        status="done",
                        attempts=row.attempts + 1,
                        processed_at=self.clock(),
                        receipt_seq=entry.seq,
                        last_error=None,
                    )
                )
        # A subscriber is third-party code: whatever it raises is recorded on the row, retried and
        # finally dead-lettered (visible and replayable) — never swallowed.
        except Exception as err:
            self._fail(conn, row, event, err, stats)
            return
        stats.delivered += 1
        stats.receipts.append(receipt)
        log.debug("delivered %s to %s in %.1f ms", event.id, event.subscriber, 1000 * (time.perf_counter() - started))

    def _fail(self, conn: Connection, row, event: Event, err: Exception, stats: DispatchStats) -> None:
        attempts = row.attempts + 1
        message = f"{type(err).__name__}: {err}"[:4000]
        now = self.clock()
        if attempts >= self.retry.max_attempts:
            conn.execute(
                update(t.outbox)
                .where(t.outbox.c.id == event.id)
                .values(status="dead", attempts=attempts, last_error=message)
            )
            conn.execute(
                insert(t.dead_letters).values(
                    id=new_id("dlq"),
                    event_id=event.id,
                    tenant=event.tenant,
                    subscriber=event.subscriber,
                    attempts=attempts,
                    error=message,
                    dead_at=now,
                )
            )
            stats.dead += 1
            log.warning("event %s dead after %d attempts: %s", event.id, attempts, message)
        else:
            conn.execute(
                update(t.outbox)
                .where(t.outbox.c.id == event.id)
                .values(attempts=attempts, last_error=message, next_attempt_at=now + self.retry.delay(attempts))
            )
            stats.retried += 1
            log.info("event %s failed (attempt %d), retrying: %s", event.id, attempts, message)
