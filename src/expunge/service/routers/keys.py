"""API keys: create and revoke keys of the caller's tenant, and say whose key is presented."""

from __future__ import annotations

from fastapi import APIRouter

from expunge.service._deps import Caller, Gov, need
from expunge.service._errors import error_responses
from expunge.service._models import KeyIn
from expunge.service._responses import KeyOut, PrincipalOut, RevokedOut

router = APIRouter(prefix="/v1", tags=["auth"])


@router.post("/keys", status_code=201, response_model=KeyOut, responses=error_responses(413))
def create_key(body: KeyIn, caller: Caller, gov: Gov) -> dict[str, str]:
    """Create an API key in the caller's tenant; the key is in this answer only."""
    need(caller, "keys:write")
    principal, key = gov.keys.create(caller.tenant, body.role, label=body.label)
    return {**principal.to_dict(), "api_key": key}


@router.delete("/keys/{key_id}", response_model=RevokedOut, responses=error_responses(404))
def revoke_key(key_id: str, caller: Caller, gov: Gov) -> dict[str, object]:
    """Revoke an API key of the caller's tenant."""
    need(caller, "keys:write")
    return {"key_id": key_id, "revoked": gov.keys.revoke(key_id, tenant=caller.tenant)}


@router.get("/whoami", response_model=PrincipalOut, responses=error_responses(forbidden=False))
def whoami(caller: Caller) -> dict[str, str]:
    """Say which tenant and role the presented key is bound to."""
    return caller.to_dict()
