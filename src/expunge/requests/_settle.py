"""Delivery and settlement: run the deletion bus of a Governance and close cases whose receipts are all in.

:class:`Settlement` is ``gov.bus``: it holds the outbox, the subscribers and the retry policy, delivers
events through a :class:`~expunge.bus.Dispatcher`, and moves finished cases on through the
:class:`~expunge.requests.CaseJournal` (verifying, then completed or failed).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, select, update

from expunge.bus import (
    DeadLetter,
    Dispatcher,
    DispatchStats,
    LazySubscribers,
    Outbox,
    RetryPolicy,
    guard_in_catalog,
    mark_in_catalog,
)
from expunge.catalog import Catalog
from expunge.db import Database, Page
from expunge.requests import _tables as t
from expunge.requests._journal import CaseJournal

__all__ = ["Settlement"]

# While busy a worker settles the cases it delivered to; this often it also looks at every case.
_SWEEP_SECONDS = 5.0
# How long a worker waits for more events when fewer than its limit are due (see Dispatcher.run_once).
# Measured with `bench dsr` (300 DSRs, one worker process): 65–85 batches instead of 107 and 4.2–4.5 s
# of writer slot held instead of 5.2 s, for at most this much more time to forget.
_LINGER_SECONDS = 0.05
# How often a busy worker asks whether the tables it grows need fresh planner statistics (PostgreSQL).
_STATISTICS_SECONDS = 2.0
# The tables a DSR's intake and delivery grow (or, for the log store, shrink).
_GROWING_TABLES = (
    "bus_outbox",
    "catalog_tombstones",
    "catalog_tombstoned_content",
    "evidence_log",
    "logstore_entries",
    "requests_actions",
    "requests_cases",
    "requests_transitions",
)
_RECORD_CHANGE = (
    update(t.actions)
    .where(t.actions.c.event_id == bindparam("b_event"))
    .values(operation=bindparam("b_operation"), hold_ids=bindparam("b_holds"), exception=bindparam("b_exception"))
)
_PROBLEMS = {"receipt": "no receipt for {}", "tombstone": "{} has no tombstone", "active": "{} is still active"}


class Settlement:
    """The deletion bus as a :class:`~expunge.requests.Governance` runs it (``gov.bus``).

    Args:
        journal: Moves and signs cases (and holds the database, the audit log and the clock).
        catalog: Checks each delivery against the holds, and each settled action against the catalog.
        outbox: The events, their receipts and dead letters.
        subscribers: The subscribers events are delivered to, by name (add one with ``bus.subscribers[name] = …``).
        retry: The bus retry policy.
        payload_retention: How long a delivered event keeps the subject pseudonyms and content hashes it
            matched by (sweeps); 0 drops them as soon as the worker is idle after delivering it.
    """

    def __init__(
        self,
        journal: CaseJournal,
        *,
        catalog: Catalog,
        outbox: Outbox,
        subscribers: LazySubscribers,
        retry: RetryPolicy,
        payload_retention: timedelta,
    ) -> None:
        self.journal = journal
        self.db: Database = journal.db
        self.catalog = catalog
        self.outbox = outbox
        self.subscribers = subscribers
        self.retry = retry
        self.payload_retention = payload_retention

    def dispatcher(self, *, worker_id: str | None = None, clock: Callable[[], datetime] | None = None) -> Dispatcher:
        """Return a dispatcher over this install's subscribers (for ``expunge worker`` or in-process use)."""
        return Dispatcher(
            self.db,
            self.subscribers,
            audit=self.journal.audit,
            retry=self.retry,
            before=guard_in_catalog(self.catalog),
            on_applied=mark_in_catalog(self.catalog),
            on_batch=self._settle_batch,
            worker_id=worker_id,
            clock=clock or self.journal.clock,
        )

    def process(self, *, limit: int = 100) -> DispatchStats:
        """Deliver every due event in-process, then settle the cases they finished."""
        stats = self.dispatcher().drain(limit=limit)
        self.settle()
        self.minimise_payloads()
        if stats.delivered:
            self.db.checkpoint()
        return stats

    def work(
        self,
        stop: threading.Event,
        *,
        idle_seconds: float = 0.2,
        limit: int = 50,
        once: bool = False,
        worker_id: str | None = None,
        linger: float | None = None,
    ) -> int:
        """Run a bus worker until ``stop`` is set: deliver due events, settle cases, checkpoint when idle.

        After each batch only the cases it touched are settled; every case is looked at on start, when
        going idle and every few seconds while busy (cases another worker delivered, then crashed).

        Args:
            stop: Set it (e.g. from a signal handler) to finish after the current transaction.
            idle_seconds: Sleep when nothing is due.
            limit: Events claimed per transaction.
            once: Return as soon as nothing is due.
            worker_id: Names this worker in logs.
            linger: When fewer than ``limit`` events are due, wait this long before claiming them so
                that one batch takes more (see :meth:`Dispatcher.run_once`); default
                ``_LINGER_SECONDS``, 0 to claim at once.

        Returns:
            How many deliveries this worker handled.
        """
        dispatcher = self.dispatcher(worker_id=worker_id)
        linger = _LINGER_SECONDS if linger is None else linger
        total = 0
        dirty = bool(self.settle())  # cases a crashed worker delivered but did not settle
        swept = measured = time.monotonic()
        while not stop.is_set():
            stats = dispatcher.run_once(limit=limit, linger=0.0 if once else linger)
            total += stats.handled
            if stats.handled:
                # The batch settled its cases in its own transaction (Dispatcher.on_batch). SQLite has a
                # single writer, so that transaction saw every other worker's deliveries; on PostgreSQL
                # two workers may each hold half of a case's last events uncommitted, and neither saw it
                # finish: look again now that this batch has committed.
                if self.db.is_postgres:
                    self.settle(case_ids=stats.case_ids)
                if time.monotonic() - swept > _SWEEP_SECONDS:
                    self.settle()
                    swept = time.monotonic()
                if self.db.is_postgres and time.monotonic() - measured > _STATISTICS_SECONDS:
                    self.db.refresh_statistics(_GROWING_TABLES)
                    measured = time.monotonic()
                dirty = True
                continue
            if dirty:  # going idle after work: settle everything, truncate the WAL so erased rows leave no old frames
                self.settle()
                self.minimise_payloads()
                swept = time.monotonic()
                self.db.checkpoint()
                dirty = False
            if once:
                break
            stop.wait(idle_seconds)
        return total

    def minimise_payloads(self, *, now: datetime | None = None) -> int:
        """Drop subject pseudonyms and content hashes from events delivered more than ``payload_retention`` ago.

        Returns:
            How many event payloads were minimised.
        """
        before = (now or self.journal.clock()) - self.payload_retention
        total = 0
        while True:
            with self.db.begin() as conn:
                n = self.outbox.minimise(conn, delivered_before=before)
            total += n
            if n < 1000:
                return total

    def settle(self, *, limit: int = 500, case_ids: Collection[str] | None = None) -> list[str]:
        """Move executing cases whose deliveries have all ended to verifying and on to their outcome.

        Args:
            limit: Cases per transaction.
            case_ids: Look only at these cases (those a worker just delivered to); default all.

        Returns:
            The IDs of the cases that changed state.
        """
        moved: list[str] = []
        todo = sorted(case_ids) if case_ids is not None else None
        while True:  # in transactions of at most `limit` cases, until none is left to move
            with self.journal.transaction() as conn:
                if todo is not None:
                    batch = self._settleable(conn, todo[:limit])
                    todo = todo[limit:]
                else:
                    batch = self._settleable(conn, None, limit=limit)
                before = len(moved)
                moved.extend(self._settle_rows(conn, batch))
            if todo is not None:
                if not todo:
                    return moved
            elif len(batch) < limit or len(moved) == before:
                return moved

    @functools.cached_property
    def _settle_queries(self) -> dict[str, Any]:
        """The queries of settlement, built once per instance (building them costs more than running them)."""
        settleable = select(t.cases.c.id, t.cases.c.tenant, t.cases.c.state, t.cases.c.exceptions).where(
            t.cases.c.state == "executing", ~self.outbox.pending_exists(t.cases.c.id)
        )
        by_id = settleable.where(t.cases.c.id.in_(bindparam("case_ids", expanding=True)))
        any_ = settleable.limit(bindparam("limit"))
        if self.db.is_postgres:
            by_id, any_ = by_id.with_for_update(skip_locked=True), any_.with_for_update(skip_locked=True)
        a, c = t.actions.c, t.cases.c
        problem = case(
            (~self.outbox.receipt_exists(a.event_id), "receipt"),
            (
                and_(
                    a.operation == "erase",
                    a.asset_kind != "sweep",
                    ~self.catalog.tombstones.exists(c.tenant, a.asset_id),
                ),
                "tombstone",
            ),
            (and_(a.operation == "restrict", ~self.catalog.quarantined(c.tenant, a.asset_id)), "active"),
            else_=None,
        )
        problems = (
            select(a.case_id, a.asset_id, problem)
            .join(t.cases, c.id == a.case_id)
            .where(a.case_id.in_(bindparam("case_ids", expanding=True)), problem.is_not(None))
            .order_by(a.case_id, a.seq)
        )
        return {"by_id": by_id, "any": any_, "problems": problems}

    def _settleable(self, conn: Connection, case_ids: Sequence[str] | None, *, limit: int = 500) -> list[Any]:
        """Return the cases that can move: executing with nothing left pending (replays reopen failed cases)."""
        if case_ids is not None:
            return list(conn.execute(self._settle_queries["by_id"], {"case_ids": list(case_ids)}).all())
        return list(conn.execute(self._settle_queries["any"], {"limit": limit}).all())

    def _settle_batch(self, conn: Connection, case_ids: set[str]) -> None:
        """Settle, in a delivery batch's own transaction, the cases the batch touched."""
        todo = sorted(case_ids)
        with self.journal.journaled(conn):
            for i in range(0, len(todo), 500):
                self._settle_rows(conn, self._settleable(conn, todo[i : i + 500]))

    def settle_case(self, conn: Connection, tenant: str, case_id: str) -> bool:
        """Settle one case inside ``conn``'s journaled transaction (a plan with nothing to deliver); say if it moved."""
        return bool(self._settle_rows(conn, [self.journal.row(conn, tenant, case_id)]))

    def _settle_rows(self, conn: Connection, rows: Sequence[Any]) -> list[str]:
        """Settle cases (rows with ``id``, ``tenant``, ``state``, ``exceptions``) with a few statements for all."""
        if not rows:
            return []
        progress = self.outbox.progress(conn, [r.id for r in rows])
        done = [r for r in rows if not progress[r.id]["pending"] and not progress[r.id]["dead"]]
        exceptions = self._record_delivery_changes(conn, done)
        problems = self._verify_effects(conn, [(r.tenant, r.id) for r in done])
        moved = []
        for row in rows:
            tenant, case_id, state, counts = row.tenant, row.id, row.state, progress[row.id]
            if counts["pending"]:
                if state == "failed":  # a dead letter was replayed
                    reason = "dead letters replayed"
                    self.journal.move(conn, tenant, case_id, "executing", actor="system", reason=reason, current=state)
                    moved.append(case_id)
                continue
            if counts["dead"]:
                if state != "failed":
                    reason = f"{counts['dead']} event(s) dead-lettered"
                    self.journal.move(conn, tenant, case_id, "failed", actor="system", reason=reason, current=state)
                    moved.append(case_id)
                continue
            if state == "failed":
                reason = "dead letters replayed"
                self.journal.move(conn, tenant, case_id, "executing", actor="system", reason=reason, current=state)
                state = "executing"
            reason = f"{counts['done']} receipt(s)"
            stated = exceptions.get(case_id)
            self.journal.move(
                conn, tenant, case_id, "verifying", actor="system", reason=reason, current=state, exceptions=stated
            )
            if problems[case_id]:
                reason = "; ".join(problems[case_id])[:1000]
                self.journal.move(conn, tenant, case_id, "failed", actor="system", reason=reason, current="verifying")
            else:
                target = "completed_with_exceptions" if stated or row.exceptions else "completed"
                self.journal.move(
                    conn, tenant, case_id, target, actor="system", reason="every action verified", current="verifying"
                )
            moved.append(case_id)
        return moved

    def _record_delivery_changes(self, conn: Connection, rows: Sequence[Any]) -> dict[str, list[str]]:
        """Write into the cases what their deliveries did other than planned; return their new exceptions.

        A legal hold placed after approval turns an erasure into a restriction at delivery: the action
        now reads ``restrict`` with its holds and exception, so the checks below expect a restricted
        asset, not a tombstone, and the case ends ``completed_with_exceptions`` saying why.
        """
        changed = self.outbox.changed_at_delivery(conn, [r.id for r in rows])
        out: dict[str, list[str]] = {}
        for row in rows:
            items = changed.get(row.id)
            if not items:
                continue
            conn.execute(
                _RECORD_CHANGE,
                [
                    {
                        "b_event": event_id,
                        "b_operation": operation,
                        "b_holds": list(params.get("hold_ids", [])),
                        "b_exception": params.get("exception"),
                    }
                    for event_id, operation, params in items
                ],
            )
            stated = [str(p["exception"]) for _, _, p in items if p.get("exception")]
            out[row.id] = list(dict.fromkeys([*row.exceptions, *stated]))
            # Signed, so the case file (derived from signed entries only) shows the plan as it was carried out.
            changes = [
                {
                    "event_id": event_id,
                    "operation": operation,
                    "hold_ids": list(params.get("hold_ids", [])),
                    "exception": params.get("exception"),
                }
                for event_id, operation, params in items
            ]
            self.journal.sign(conn, row.tenant, row.id, "amendment", {"changes": changes, "exceptions": stated})
        return out

    def _verify_effects(self, conn: Connection, cases: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
        """Check every action of each case has its receipt and its effect is visible in the catalog.

        One query for all the cases: the database checks each action against the outbox and the
        catalog, and only the actions that fail a check come back.
        """
        problems: dict[str, list[str]] = {case_id: [] for _, case_id in cases}
        query = self._settle_queries["problems"]
        ids = list(problems)
        for i in range(0, len(ids), 500):
            for case_id, asset_id, what in conn.execute(query, {"case_ids": ids[i : i + 500]}):
                problems[case_id].append(_PROBLEMS[what].format(asset_id))
        return problems

    def dead_letters(self, tenant: str | None, *, limit: int = 100, cursor: str | None = None) -> Page[DeadLetter]:
        """Return one page of the dead letters waiting for a replay, oldest first (``tenant=None``: every tenant).

        Raises:
            InvalidPageError: ``limit`` is out of range or ``cursor`` is not one this list handed out.
        """
        with self.db.read() as conn:
            return self.outbox.dead_letter_page(conn, tenant, limit=limit, cursor=cursor)

    def replay(self, tenant: str | None, dead_letter_id: str, *, by: str) -> str:
        """Replay a dead letter and reopen its case if it had failed; return the event ID.

        Raises:
            UnknownEventError: No such dead letter (in this tenant).
            AlreadyProcessedError: It was replayed already, or its event has since been processed.
        """
        with self.journal.transaction() as conn:
            event_id = self.outbox.replay(conn, dead_letter_id, tenant=tenant, by=by)
            case_id = conn.execute(select(t.actions.c.case_id).where(t.actions.c.event_id == event_id)).scalar()
            if case_id is not None:
                row = conn.execute(select(t.cases).where(t.cases.c.id == case_id)).one()
                if row.state == "failed":
                    self.journal.move(
                        conn, row.tenant, case_id, "executing", actor=by, reason=f"replayed {dead_letter_id}"
                    )
        return event_id
