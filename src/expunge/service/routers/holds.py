"""Legal holds: place, list and lift them; lifting re-opens the erasures a hold blocked."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from expunge.service._deps import Caller, Cursor, Gov, Limit, need
from expunge.service._errors import error_responses
from expunge.service._models import HoldIn
from expunge.service._responses import HoldOut, HoldPageOut, LiftedHoldOut

router = APIRouter(prefix="/v1/holds", tags=["holds"])


@router.post("", status_code=201, response_model=HoldOut, responses=error_responses(404, 413))
def place_hold(body: HoldIn, caller: Caller, gov: Gov) -> dict[str, Any]:
    """Place a legal hold: erasure of the target becomes restriction until it is lifted."""
    need(caller, "hold:write")
    return gov.holds.place(caller.tenant, body.target_id, reason=body.reason, placed_by=caller.actor).to_dict()


@router.get("", response_model=HoldPageOut, responses=error_responses())
def list_holds(caller: Caller, gov: Gov, limit: Limit = 100, cursor: Cursor = None) -> dict[str, Any]:
    """List the tenant's active holds, newest first, one page at a time."""
    need(caller, "read")
    page = gov.holds.list(caller.tenant, limit=limit, cursor=cursor)
    return {"holds": [h.to_dict() for h in page.items], "total": page.total, "next_cursor": page.next_cursor}


@router.delete("/{hold_id}", response_model=LiftedHoldOut, responses=error_responses(404))
def lift_hold(hold_id: str, caller: Caller, gov: Gov) -> dict[str, Any]:
    """Lift a legal hold; the erasures it blocked are re-opened as new approved requests (listed)."""
    need(caller, "hold:write")
    hold, reopened = gov.holds.lift(caller.tenant, hold_id, lifted_by=caller.actor)
    return {**hold.to_dict(), "reopened": [c.to_dict() for c in reopened]}
