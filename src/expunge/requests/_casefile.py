"""Build the sealed case file of a request from its signed log entries, and check the tables against them.

Everything a case file shows is derived from the case's signed entries
(:func:`~expunge.evidence.case_view`), never from the unsigned tables. Building one also compares
those tables with the entries — the case row, its transitions, its planned actions and the
tombstones its erasure receipts stand for — so an edit of any of them is reported, not exported.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from expunge.errors import TamperedEvidenceError, UnknownRequestError
from expunge.evidence import CaseView, Signer, case_file_document, case_view, seal_case_file
from expunge.requests import _tables as t
from expunge.requests._case import case_from_row

if TYPE_CHECKING:
    from expunge.requests._governance import Governance

__all__ = ["build_case_file", "check_case_tables"]

# Erasures whose effect is a tombstone in the catalog (a sweep has no single asset to tombstone).
_TOMBSTONED = ("applied", "already_applied")


def build_case_file(
    gov: Governance,
    tenant: str,
    case_id: str,
    *,
    signer: Signer,
    since: int | None = None,
    conn: Connection | None = None,
) -> dict[str, Any]:
    """Return the sealed case file of a case of ``tenant``, after checking the log and the tables.

    Reads the whole log to check it against its latest signed checkpoint (O(entries)), and gives
    each of the case's entries its inclusion proof.

    Args:
        gov: The governance whose database and audit log hold the case.
        tenant: The caller's tenant.
        case_id: The case.
        signer: Seals the file.
        since: The tree size of a checkpoint an auditor already holds: the file then carries the
            consistency proof from it.
        conn: Read through this connection (and its transaction); default a read transaction of its own.

    Raises:
        UnknownRequestError: No such case in this tenant.
        TamperedEvidenceError: The log does not match its signed checkpoint, or a table disagrees
            with the signed entries (the message says which).
        EmptyLogError, UnknownKeyError: The log is empty, or its checkpoint is signed by an unknown key.
        EvidenceInputError: ``since`` is negative.
    """
    if conn is None:
        with gov.db.read() as own:
            return build_case_file(gov, tenant, case_id, signer=signer, since=since, conn=own)
    known = conn.execute(select(t.cases.c.id).where(t.cases.c.id == case_id, t.cases.c.tenant == tenant)).first()
    if known is None and not gov.audit.mentions(conn, case_id):  # the common unknown ID: answered by an index
        raise UnknownRequestError(f"No request {case_id!r} in tenant {tenant!r}.")
    snapshot = gov.audit.snapshot(conn, case_id=case_id)
    if not snapshot.entries:
        if known is None:
            raise UnknownRequestError(f"No request {case_id!r} in tenant {tenant!r}.")
        raise TamperedEvidenceError(f"Case {case_id} has no signed entry in the audit log.")
    view = case_view([e.document for e in snapshot.entries])
    if view.case["tenant"] != tenant:
        if known is None:  # another tenant's case: say no more than for a case that does not exist
            raise UnknownRequestError(f"No request {case_id!r} in tenant {tenant!r}.")
        raise TamperedEvidenceError(
            f"The signed entries of case {case_id} belong to tenant {view.case['tenant']!r}, not {tenant!r}."
        )
    check_case_tables(gov, conn, view)
    as_of = gov.clock().astimezone(UTC).isoformat()
    document = case_file_document(snapshot, view, as_of=as_of, due_soon_days=gov.policy.due_soon_days, since=since)
    return seal_case_file(document, signer)


def check_case_tables(gov: Governance, conn: Connection, view: CaseView) -> None:
    """Compare the case row, transitions, planned actions and tombstones with the signed entries.

    Args:
        gov: The governance (its catalog answers for tombstones).
        conn: An open connection.
        view: The case as its signed entries tell it.

    Raises:
        TamperedEvidenceError: A table disagrees with the signed entries; the message names it.
    """
    case_id, tenant = view.case["id"], view.case["tenant"]
    row = conn.execute(select(t.cases).where(t.cases.c.id == case_id)).first()
    if row is None or row.tenant != tenant:
        raise TamperedEvidenceError(
            f"The row of case {case_id} is missing from requests_cases or names another tenant."
        )
    stored = case_from_row(row).to_dict()
    # A legacy case (filed before its terms were signed) can only be checked on what was signed.
    fields = ("id", "tenant", "state", "filed_by") if view.legacy else tuple(stored)
    signed_case = _times(view.case)
    stored_case = _times(stored)
    for name in fields:
        if stored_case[name] != signed_case[name]:
            raise TamperedEvidenceError(
                f"requests_cases says {name} = {stored[name]!r} for case {case_id}, but its signed entries say "
                f"{view.case[name]!r}."
            )
    history = [
        {"from": r.from_state, "to": r.to_state, "actor": r.actor, "reason": r.reason, "at": _iso(r.at)}
        for r in conn.execute(
            select(t.transitions).where(t.transitions.c.case_id == case_id).order_by(t.transitions.c.id)
        )
    ]
    _same("requests_transitions", case_id, history, view.history, exact_time=not view.legacy)
    if not view.legacy:
        actions = [
            {k: v for k, v in r._mapping.items() if k not in ("case_id", "seq")}
            for r in conn.execute(select(t.actions).where(t.actions.c.case_id == case_id).order_by(t.actions.c.seq))
        ]
        _same("requests_actions", case_id, actions, view.actions)
    for receipt in view.receipts:
        if receipt["operation"] != "erase" or receipt["asset_kind"] == "sweep" or receipt["outcome"] not in _TOMBSTONED:
            continue
        tomb = gov.catalog.tombstones.get(conn, tenant, receipt["asset_id"])
        if tomb is None or tomb.asset_kind != receipt["asset_kind"]:
            raise TamperedEvidenceError(
                f"Case {case_id} has a signed erasure receipt for {receipt['asset_id']}, but catalog_tombstones "
                "holds no tombstone of it."
            )


def _same(table: str, case_id: str, stored: Sequence[Any], signed: Sequence[Any], *, exact_time: bool = True) -> None:
    stored, signed = [_times(s) for s in stored], [_times(s) for s in signed]
    if not exact_time:  # legacy transitions were timed by a second clock reading: compare the rest
        stored = [{k: v for k, v in s.items() if k != "at"} for s in stored]
        signed = [{k: v for k, v in s.items() if k != "at"} for s in signed]
    if len(stored) != len(signed):
        raise TamperedEvidenceError(
            f"{table} holds {len(stored)} rows for case {case_id}, but its signed entries say {len(signed)}."
        )
    for i, (a, b) in enumerate(zip(stored, signed, strict=True)):
        if a != b:
            raise TamperedEvidenceError(f"Row {i} of {table} for case {case_id} differs from its signed entry.")


def _times(item: dict[str, Any]) -> dict[str, Any]:
    """Return ``item`` with its ISO 8601 times as datetimes: instants compare equal whatever their offset."""
    out = dict(item)
    for key in ("at", "filed_at", "due_at", "closed_at"):
        if isinstance(out.get(key), str):
            out[key] = datetime.fromisoformat(out[key])
    return out


def _iso(value: datetime) -> str:
    # SQLite returns naive datetimes; every time expunge stores is UTC.
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
