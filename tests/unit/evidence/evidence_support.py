"""Helpers shared by the evidence tests (a module name unique across test folders)."""

from __future__ import annotations

from datetime import timedelta

from expunge.db import utcnow
from expunge.evidence import (
    AuditLog,
    Receipt,
    Signer,
    case_file_document,
    case_view,
    dump_case_file,
    seal_case_file,
)

SIGNER = Signer.generate()
KEYS = {SIGNER.key_id: SIGNER.public_key}


def receipt(i: int, case_id: str = "dsr_1", *, tenant: str = "acme") -> Receipt:
    now = utcnow()
    return Receipt(
        event_id=f"evt_{case_id}_{i}",
        case_id=case_id,
        tenant=tenant,
        subscriber="memory",
        asset_id=f"art_{i}",
        asset_kind="chunk",
        operation="erase",
        outcome="applied",
        started_at=now,
        finished_at=now,
        before_sha256="a" * 64,
        artifact_ids=(f"row-{i}",),
    )


def filled_log(db, n=3, cases=("dsr_1",), log=None):
    log = log or AuditLog(SIGNER)
    with db.begin() as conn:
        for i in range(n):
            log.append_receipt(conn, receipt(i, cases[i % len(cases)]))
    with db.begin() as conn:
        return log, log.entries(conn)


def append_case(log: AuditLog, db, case_id: str = "dsr_1", *, tenant: str = "acme", receipts: int = 2) -> None:
    """Append the entries of a whole synthetic case: filing, verification, plan, receipts, completion."""
    now = utcnow()

    def move(source, target, **facts):
        body = {"from": source, "to": target, "actor": "ops", "reason": f"to {target}", "at": now.isoformat()}
        return (tenant, case_id, "transition", {**body, **facts})

    terms = {"scope": "erasure", "regulation": "gdpr", "due_at": (now + timedelta(days=30)).isoformat()}
    actions = [
        {
            "asset_id": f"art_{i}",
            "asset_kind": "chunk",
            "uri": f"memory://c/art_{i}",
            "operation": "erase",
            "subscriber": "memory",
            "event_id": f"evt_{case_id}_{i}",
            "hold_ids": [],
            "exception": None,
        }
        for i in range(receipts)
    ]
    with db.begin() as conn:
        log.append_many(
            conn,
            [
                move(None, "received", case={**terms, "pseudonym_count": 1}),
                move("received", "verified", verified_by="token"),
                (tenant, case_id, "plan", {"actions": actions, "exceptions": [], "records": 1}),
                move("verified", "planned"),
                move("planned", "executing"),
            ],
        )
    with db.begin() as conn:
        log.append_receipts(conn, [receipt(i, case_id, tenant=tenant) for i in range(receipts)])
    with db.begin() as conn:
        log.append_many(conn, [move("executing", "verifying"), move("verifying", "completed", closed=True)])


def case_file(log: AuditLog, db, case_id: str = "dsr_1", *, since: int | None = None, signer=None) -> bytes:
    """Build and seal a case file from the log alone (what ``build_case_file`` does minus the table checks)."""
    with db.read() as conn:
        snapshot = log.snapshot(conn, case_id=case_id)
    view = case_view([e.document for e in snapshot.entries])
    document = case_file_document(snapshot, view, as_of=utcnow().isoformat(), due_soon_days=5, since=since)
    return dump_case_file(seal_case_file(document, signer or log.signer))
