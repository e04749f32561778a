"""Delivery and settlement: run the bus for a Governance and close cases whose receipts are all in."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, select

from expunge.bus import Dispatcher, DispatchStats, mark_in_catalog
from expunge.requests import _tables as t

__all__ = ["SettlementMixin"]


class SettlementMixin:
    """The delivery half of :class:`~expunge.requests.Governance` (its own module for size).

    Relies on the Governance attributes ``db``, ``catalog``, ``audit``, ``outbox``, ``subscribers``,
    ``retry``, ``clock`` and its helpers ``_tx``, ``_row`` and ``_move``.
    """

    def dispatcher(self, *, worker_id: str | None = None, clock: Callable[[], datetime] | None = None) -> Dispatcher:
        """Return a dispatcher over this install's subscribers (for ``expunge worker`` or in-process use)."""
        return Dispatcher(
            self.db,
            self.subscribers,
            audit=self.audit,
            retry=self.retry,
            on_applied=mark_in_catalog(self.catalog),
            worker_id=worker_id,
            clock=clock or self.clock,
        )

    def process(self, *, limit: int = 100) -> DispatchStats:
        """Deliver every due event in-process, then settle the cases they finished."""
        stats = self.dispatcher().drain(limit=limit)
        self.settle()
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
    ) -> int:
        """Run a bus worker until ``stop`` is set: deliver due events, settle cases, checkpoint when idle.

        Args:
            stop: Set it (e.g. from a signal handler) to finish after the current transaction.
            idle_seconds: Sleep when nothing is due.
            limit: Events claimed per transaction.
            once: Return as soon as nothing is due.
            worker_id: Names this worker in logs.

        Returns:
            How many deliveries this worker handled.
        """
        dispatcher = self.dispatcher(worker_id=worker_id)
        total = 0
        dirty = bool(self.settle())  # cases a crashed worker delivered but did not settle
        while not stop.is_set():
            handled = dispatcher.run_once(limit=limit).handled
            total += handled
            if handled:
                self.settle()
                dirty = True
                continue
            if dirty:  # going idle after work: truncate the WAL so erased rows leave no old frames
                self.db.checkpoint()
                dirty = False
            if once:
                break
            stop.wait(idle_seconds)
        return total

    def settle(self, *, limit: int = 500) -> list[str]:
        """Move executing cases whose deliveries have all ended to verifying and on to their outcome.

        Returns:
            The IDs of the cases that changed state.
        """
        moved: list[str] = []
        while True:  # in transactions of at most `limit` cases, until none is left to move
            with self._tx() as conn:
                # Only cases that can move: executing with nothing left pending (replays reopen failed cases).
                query = (
                    select(t.cases.c.id, t.cases.c.tenant)
                    .where(t.cases.c.state == "executing", ~self.outbox.pending_exists(t.cases.c.id))
                    .limit(limit)
                )
                if self.db.is_postgres:
                    query = query.with_for_update(skip_locked=True)
                batch = conn.execute(query).all()
                before = len(moved)
                for case_id, tenant in batch:
                    if self._settle_one(conn, tenant, case_id):
                        moved.append(case_id)
            if len(batch) < limit or len(moved) == before:
                return moved

    def _settle_one(self, conn: Connection, tenant: str, case_id: str) -> bool:
        row = self._row(conn, tenant, case_id)
        state = row.state
        progress = self.outbox.case_progress(conn, case_id)
        if progress["pending"]:
            if state == "failed":  # a dead letter was replayed
                self._move(
                    conn, tenant, case_id, "executing", actor="system", reason="dead letters replayed", current=state
                )
                return True
            return False
        if progress["dead"]:
            if state == "failed":
                return False
            reason = f"{progress['dead']} event(s) dead-lettered"
            self._move(conn, tenant, case_id, "failed", actor="system", reason=reason, current=state)
            return True
        if state == "failed":
            self._move(
                conn, tenant, case_id, "executing", actor="system", reason="dead letters replayed", current=state
            )
            state = "executing"
        reason = f"{progress['done']} receipt(s)"
        self._move(conn, tenant, case_id, "verifying", actor="system", reason=reason, current=state)
        problems = self._verify_effects(conn, tenant, case_id)
        if problems:
            reason = "; ".join(problems)[:1000]
            self._move(conn, tenant, case_id, "failed", actor="system", reason=reason, current="verifying")
        else:
            target = "completed_with_exceptions" if row.exceptions else "completed"
            self._move(
                conn, tenant, case_id, target, actor="system", reason="every action verified", current="verifying"
            )
        return True

    def _verify_effects(self, conn: Connection, tenant: str, case_id: str) -> list[str]:
        """Check every action has its receipt and its effect is visible in the catalog."""
        problems = []
        deliveries = {d["id"]: d for d in self.outbox.deliveries(conn, case_id)}
        actions = conn.execute(select(t.actions).where(t.actions.c.case_id == case_id)).all()
        erased = [a.asset_id for a in actions if a.operation == "erase" and a.asset_kind != "sweep"]
        restricted = [a.asset_id for a in actions if a.operation == "restrict"]
        tombstoned = self.catalog.tombstoned(conn, tenant, erased) if erased else set()
        states = self.catalog.statuses(conn, tenant, restricted) if restricted else {}
        for action in actions:
            delivery = deliveries.get(action.event_id)
            if delivery is None or delivery["status"] != "done" or delivery["receipt_seq"] is None:
                problems.append(f"no receipt for {action.asset_id}")
            elif action.asset_id in erased and action.asset_id not in tombstoned:
                problems.append(f"{action.asset_id} has no tombstone")
            elif action.operation == "restrict" and states.get(action.asset_id, ("", "active"))[1] == "active":
                problems.append(f"{action.asset_id} is still active")
        return problems

    def replay_dead_letter(self, tenant: str | None, dead_letter_id: str, *, by: str) -> str:
        """Replay a dead letter and reopen its case if it had failed; return the event ID."""
        with self._tx() as conn:
            event_id = self.outbox.replay(conn, dead_letter_id, tenant=tenant, by=by)
            case_id = conn.execute(select(t.actions.c.case_id).where(t.actions.c.event_id == event_id)).scalar()
            if case_id is not None:
                row = conn.execute(select(t.cases).where(t.cases.c.id == case_id)).one()
                if row.state == "failed":
                    self._move(conn, row.tenant, case_id, "executing", actor=by, reason=f"replayed {dead_letter_id}")
        return event_id
