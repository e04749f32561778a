"""Build the sealed case file of a request: plan, receipts, exceptions, times to forget, SLA."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from expunge.evidence import Signer, seal_case_file
from expunge.requests import _tables as t
from expunge.requests._governance import Governance

__all__ = ["build_case_file"]


def build_case_file(gov: Governance, tenant: str, case_id: str, *, signer: Signer) -> dict[str, Any]:
    """Return the sealed case file of a case of ``tenant``.

    Raises:
        UnknownRequestError: No such case in this tenant.
    """
    case = gov.get_case(tenant, case_id)
    actions = gov.actions(tenant, case_id)
    with gov.db.begin() as conn:
        entries = gov.audit.entries(conn, case_id=case_id)
        history = [
            {"from": r.from_state, "to": r.to_state, "actor": r.actor, "reason": r.reason, "at": _iso(r.at)}
            for r in conn.execute(
                select(t.transitions).where(t.transitions.c.case_id == case_id).order_by(t.transitions.c.id)
            )
        ]
    documents = [json.loads(e.text) for e in entries]
    receipts = [d["body"] for d in documents if d["kind"] == "receipt"]
    forget_seconds = {
        r["asset_id"]: round((datetime.fromisoformat(r["finished_at"]) - case.filed_at).total_seconds(), 3)
        for r in receipts
    }
    sla_status = gov.policy.status(due_at=case.due_at, now=gov.clock(), closed_at=case.closed_at)
    document = {
        "case": case.to_dict(),
        "history": history,
        "plan": [
            {
                "asset_id": a["asset_id"],
                "asset_kind": a["asset_kind"],
                "operation": a["operation"],
                "subscriber": a["subscriber"],
                "event_id": a["event_id"],
                "hold_ids": list(a["hold_ids"]),
                "exception": a["exception"],
            }
            for a in actions
        ],
        "receipts": receipts,
        "exceptions": list(case.exceptions),
        "times_to_forget_seconds": forget_seconds,
        "sla": {"due_at": case.due_at.isoformat(), "status": sla_status, "regulation": case.regulation},
        "entries": [e.to_dict() for e in entries],
    }
    return seal_case_file(document, signer)


def _iso(value: datetime) -> str:
    # SQLite returns naive datetimes; every time expunge stores is UTC.
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
