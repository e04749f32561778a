"""Evidence: a request's sealed case file, the public keys and the audit log's signed checkpoint."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from expunge.service._deps import Caller, Gov, need
from expunge.service._errors import error_responses
from expunge.service._responses import CheckpointOut, PublicKeysOut

router = APIRouter(prefix="/v1", tags=["evidence"])


@router.get("/requests/{case_id}/case-file", response_model=dict[str, Any], responses=error_responses(404))
def case_file(
    case_id: str, caller: Caller, gov: Gov, since: Annotated[int | None, Query(ge=0)] = None
) -> dict[str, Any]:
    """Return the sealed case file; verify it offline with the public keys.

    ``since``: the tree size of a checkpoint the caller holds; the file then carries the
    consistency proof from it.
    """
    need(caller, "read")
    return gov.evidence.case_file(caller.tenant, case_id, since=since)


@router.get("/evidence/public-key", response_model=PublicKeysOut, responses=error_responses())
def public_key(caller: Caller, gov: Gov) -> dict[str, Any]:
    """Return the current Ed25519 public key (PEM) and the keyring of every key the log was signed with."""
    need(caller, "read")
    return gov.evidence.public_keys()


@router.get("/evidence/checkpoint", response_model=CheckpointOut, responses=error_responses())
def checkpoint(caller: Caller, gov: Gov) -> dict[str, Any]:
    """Return the audit log's latest signed checkpoint, after checking every entry against it."""
    need(caller, "read")
    return gov.evidence.checkpoint()
