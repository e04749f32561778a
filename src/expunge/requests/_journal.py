"""Journaled state moves of cases: every move checked against the transition table, stored and signed.

Inside :meth:`CaseJournal.transaction` (or :meth:`CaseJournal.journaled` over a transaction already
open) a case's moves are kept and written once when the transaction ends, or before the case is read
again: a case moved verified → planned → executing costs one UPDATE, still guarded by the state it
started from, and its transitions are stored and signed together (one ``append_many`` on the log).
Outside one, each move is written and signed at once.

The journal is the one writer of ``requests_cases.state`` and ``requests_transitions``; intake
(:class:`~expunge.requests.Governance`) and settlement (:class:`~expunge.requests.Bus`) both move
cases through it and nothing else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from expunge.db import Database
from expunge.errors import InvalidTransition, UnknownRequestError
from expunge.evidence import AuditLog
from expunge.requests import _tables as t
from expunge.requests._case import Case, case_from_row
from expunge.requests._states import check_transition

__all__ = ["CaseJournal"]

_JOURNAL = "expunge_transition_journal"
_MOVES = "expunge_pending_moves"

# Built once: constructing a statement costs several times what executing a cached one does.
_ROW = select(t.cases).where(t.cases.c.id == bindparam("b_id"), t.cases.c.tenant == bindparam("b_tenant"))
_ROW_FOR_UPDATE = _ROW.with_for_update()
# The SET clause comes from the parameters given; the WHERE guards against a concurrent move.
_UPDATE = update(t.cases).where(
    t.cases.c.id == bindparam("b_id"),
    t.cases.c.tenant == bindparam("b_tenant"),
    t.cases.c.state == bindparam("b_state"),
)
_CLOSING = ("completed", "completed_with_exceptions", "rejected")

Move = tuple[str, str, dict[str, Any]]  # (tenant, state moved from, the values to write)


class CaseJournal:
    """Read, move, record and sign cases over one database and one audit log.

    Args:
        db: The database holding the ``requests_*`` tables.
        audit: The signed, chained log every transition and plan is appended to.
        clock: Returns "now" (tests move it).
    """

    def __init__(self, db: Database, audit: AuditLog, *, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.audit = audit
        self.clock = clock

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Open a write transaction whose moves and transitions are written and signed in one go at its end."""
        with self.db.begin() as conn, self.journaled(conn):
            yield conn

    @contextlib.contextmanager
    def journaled(self, conn: Connection) -> Iterator[None]:
        """Within an open transaction: keep case moves and transitions, and write and sign them at the end."""
        journal: list[tuple[dict[str, Any] | None, tuple[str, str | None, str, dict[str, Any]]]] = []
        conn.info[_JOURNAL] = journal
        conn.info[_MOVES] = {}
        try:
            yield
            self._write_moves(conn)
            if journal:
                rows = [row for row, _ in journal if row is not None]
                if rows:
                    conn.execute(insert(t.transitions), rows)
                self.audit.append_many(conn, [entry for _, entry in journal])
        finally:
            conn.info.pop(_JOURNAL, None)
            conn.info.pop(_MOVES, None)

    def row(self, conn: Connection, tenant: str, case_id: str, *, lock: bool = False) -> Row[Any]:
        """Return a case's row, with this transaction's pending moves written first.

        Args:
            conn: An open connection.
            tenant: The case's tenant.
            case_id: The case.
            lock: Lock the row for the rest of the transaction (``FOR UPDATE`` on PostgreSQL).

        Raises:
            UnknownRequestError: No such case in this tenant.
        """
        self._write_moves(conn)
        query = _ROW_FOR_UPDATE if lock and self.db.is_postgres else _ROW
        row = conn.execute(query, {"b_id": case_id, "b_tenant": tenant}).first()
        if row is None:
            raise UnknownRequestError(f"No request {case_id!r} in tenant {tenant!r}.")
        return row

    def case(self, conn: Connection, tenant: str, case_id: str) -> Case:
        """Return a case as it stands in this transaction (see :meth:`row`)."""
        return case_from_row(self.row(conn, tenant, case_id))

    def move(
        self,
        conn: Connection,
        tenant: str,
        case_id: str,
        target: str,
        *,
        actor: str,
        reason: str,
        current: str | None = None,
        verified_by: str | None = None,
        exceptions: Sequence[str] | None = None,
        closed: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Move a case along the transition table, and record and sign the transition.

        Args:
            conn: An open connection (journaled or not).
            tenant: The case's tenant.
            case_id: The case.
            target: The state to move to.
            actor: Who moves it (named in the transition).
            reason: Why (stored and signed).
            current: The state the caller knows the case is in; saves a read.
            verified_by: How the requester was verified (written on the case, signed).
            exceptions: The case's exceptions from now on.
            closed: Close the case (terminal states close it anyway).
            extra: More columns of the case to write with the move.

        Raises:
            InvalidTransition: The table does not allow the move, or the case moved concurrently.
            UnknownRequestError: No such case in this tenant (when ``current`` is not given).
        """
        if current is None:
            current = self.row(conn, tenant, case_id).state
        check_transition(case_id, current, target)
        now = self.clock()
        values: dict[str, Any] = {"state": target, "updated_at": now, **(extra or {})}
        if verified_by is not None:
            values["verified_by"] = verified_by
        if exceptions is not None:
            values["exceptions"] = list(exceptions)
        facts: dict[str, Any] = {} if verified_by is None else {"verified_by": verified_by}
        if closed or target in _CLOSING:
            values["closed_at"] = now
            facts["closed"] = True
        moves: dict[str, Move] | None = conn.info.get(_MOVES)
        if moves is None:
            _write_move(conn, case_id, (tenant, current, values))
        elif case_id in moves:
            if moves[case_id][2]["state"] != current:
                raise InvalidTransition(f"Request {case_id} changed state concurrently; retry the operation.")
            moves[case_id][2].update(values)
        else:
            moves[case_id] = (tenant, current, values)
        self.record(conn, tenant, case_id, current, target, actor=actor, reason=reason, at=now, facts=facts)

    def record(
        self,
        conn: Connection,
        tenant: str,
        case_id: str,
        source: str | None,
        target: str,
        *,
        actor: str,
        reason: str,
        at: datetime | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> None:
        """Store a transition and sign it; ``facts`` (the filing's terms, who verified, closing) are signed with it."""
        now = at or self.clock()
        row = {
            "case_id": case_id,
            "from_state": source,
            "to_state": target,
            "actor": actor,
            "reason": reason,
            "at": now,
        }
        body = {"from": source, "to": target, "actor": actor, "reason": reason, "at": now.isoformat(), **(facts or {})}
        self.sign(conn, tenant, case_id, "transition", body, row=row)

    def sign(
        self,
        conn: Connection,
        tenant: str,
        case_id: str,
        kind: str,
        body: dict[str, Any],
        *,
        row: dict[str, Any] | None = None,
    ) -> None:
        """Sign a log entry of a case (and store its transition ``row``), at the end of the journal if inside one."""
        journal = conn.info.get(_JOURNAL)
        if journal is None:  # outside a journal: write and sign it now
            if row is not None:
                conn.execute(insert(t.transitions).values(**row))
            self.audit.append(conn, tenant=tenant, case_id=case_id, kind=kind, body=body)
        else:
            journal.append((row, (tenant, case_id, kind, body)))

    def _write_moves(self, conn: Connection) -> None:
        """Write the pending moves of this transaction (before a case is read, and at its end)."""
        moves = conn.info.get(_MOVES)
        while moves:
            case_id = next(iter(moves))
            _write_move(conn, case_id, moves.pop(case_id))


def _write_move(conn: Connection, case_id: str, move: Move) -> None:
    tenant, source, values = move
    result = conn.execute(_UPDATE, {"b_id": case_id, "b_tenant": tenant, "b_state": source, **values})
    if result.rowcount != 1:
        raise InvalidTransition(f"Request {case_id} changed state concurrently; retry the operation.")
