"""Data-subject requests: file, verify, approve, reject, list and read them, and the SLA report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from expunge.catalog import Identifier
from expunge.requests import STATES
from expunge.service._deps import Caller, Cursor, Gov, Limit, need
from expunge.service._errors import error_responses
from expunge.service._models import DecisionIn, RequestIn, TokenIn
from expunge.service._responses import CaseOut, CasePageOut, CaseWithActionsOut, FiledOut, SlaOut

router = APIRouter(prefix="/v1", tags=["requests"])

State = Annotated[str | None, Query(max_length=32, description=f"Only this state: {', '.join(STATES)}.")]


@router.post("/requests", status_code=201, response_model=FiledOut, responses=error_responses(404, 409, 413))
def file_request(body: RequestIn, caller: Caller, gov: Gov) -> dict[str, Any]:
    """File a data-subject request; the verification token is returned once (none when filed approved)."""
    need(caller, "dsr:file")
    if body.approve:
        need(caller, "dsr:decide")
    filed = gov.file_request(
        caller.tenant,
        scope=body.scope,
        regulation=body.regulation,
        identifiers=[Identifier(i.kind, i.value) for i in body.identifiers],
        content_sha256=body.content_sha256,
        entity_tags=body.entity_tags,
        params=body.params,
        filed_by=caller.actor,
        approved_by=caller.actor if body.approve else None,
    )
    return filed.to_dict()


@router.post("/requests/verify", response_model=CaseOut, responses=error_responses(400, 409, 410, 413))
def verify(body: TokenIn, caller: Caller, gov: Gov) -> dict[str, Any]:
    """Verify a requester with their one-time token; the request is then planned and published."""
    need(caller, "dsr:file")
    return gov.verify_token(body.token, tenant=caller.tenant).to_dict()


@router.post("/requests/{case_id}/approve", response_model=CaseOut, responses=error_responses(404, 409))
def approve(case_id: str, caller: Caller, gov: Gov) -> dict[str, Any]:
    """Verify a requester on the operator's word; the request is then planned and published."""
    need(caller, "dsr:decide")
    return gov.approve(caller.tenant, case_id, operator=caller.actor).to_dict()


@router.post("/requests/{case_id}/reject", response_model=CaseOut, responses=error_responses(404, 409, 413))
def reject(case_id: str, body: DecisionIn, caller: Caller, gov: Gov) -> dict[str, Any]:
    """Reject a request that is not yet planned."""
    need(caller, "dsr:decide")
    return gov.reject(caller.tenant, case_id, actor=caller.actor, reason=body.reason).to_dict()


@router.get("/requests", response_model=CasePageOut, responses=error_responses())
def list_requests(
    caller: Caller, gov: Gov, state: State = None, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    """List the tenant's requests, newest first, one page at a time."""
    need(caller, "read")
    page = gov.list_cases(caller.tenant, state=state, limit=limit, cursor=cursor)
    return {"requests": [c.to_dict() for c in page.items], "total": page.total, "next_cursor": page.next_cursor}


@router.get("/requests/{case_id}", response_model=CaseWithActionsOut, responses=error_responses(404))
def get_request(case_id: str, caller: Caller, gov: Gov) -> dict[str, Any]:
    """Return a request and its planned actions."""
    need(caller, "read")
    case = gov.get_case(caller.tenant, case_id)
    return {**case.to_dict(), "actions": gov.actions(caller.tenant, case_id)}


@router.get("/sla", response_model=SlaOut, responses=error_responses())
def sla(caller: Caller, gov: Gov) -> dict[str, Any]:
    """Report open requests as overdue, due soon or on track."""
    need(caller, "read")
    return gov.sla_report(caller.tenant)
