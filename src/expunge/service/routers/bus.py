"""The deletion bus: dead letters waiting for a replay, and the replay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from expunge.service._deps import Caller, Cursor, Gov, Limit, need
from expunge.service._errors import error_responses
from expunge.service._responses import DeadLetterPageOut, ReplayOut

router = APIRouter(prefix="/v1/deadletters", tags=["bus"])


@router.get("", response_model=DeadLetterPageOut, responses=error_responses())
def dead_letters(caller: Caller, gov: Gov, limit: Limit = 100, cursor: Cursor = None) -> dict[str, Any]:
    """List the tenant's dead letters waiting for a replay, oldest first, one page at a time."""
    need(caller, "read")
    page = gov.bus.dead_letters(caller.tenant, limit=limit, cursor=cursor)
    return {
        "dead_letters": [d.to_dict() for d in page.items],
        "total": page.total,
        "next_cursor": page.next_cursor,
    }


@router.post("/{dead_letter_id}/replay", response_model=ReplayOut, responses=error_responses(404, 409))
def replay(dead_letter_id: str, caller: Caller, gov: Gov) -> dict[str, str]:
    """Put a dead letter back on the bus."""
    need(caller, "deadletters:replay")
    return {"event_id": gov.bus.replay(caller.tenant, dead_letter_id, by=caller.actor)}
