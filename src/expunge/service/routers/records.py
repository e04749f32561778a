"""Records, artifacts and lineage: register them, read them, and the hard filter before retrieval or training."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from expunge.catalog import Identifier
from expunge.service._deps import Caller, Gov, need
from expunge.service._errors import error_responses
from expunge.service._models import ArtifactIn, FilterIn, LineageIn, RecordIn
from expunge.service._responses import ArtifactOut, AssetsOut, FilterOut, OpenLineageOut, RecordOut

router = APIRouter(prefix="/v1", tags=["catalog"])


@router.post("/records", status_code=201, response_model=RecordOut, responses=error_responses(409, 413))
def register_record(body: RecordIn, caller: Caller, gov: Gov) -> dict[str, Any]:
    """Register a record; its subjects are pseudonymised and never stored."""
    need(caller, "catalog:write")
    record = gov.records.register(
        caller.tenant,
        source=body.source,
        content_sha256=body.content_sha256.lower(),
        purpose=body.purpose,
        legal_basis=body.legal_basis,
        subjects=[Identifier(i.kind, i.value) for i in body.subjects],
        consent=body.consent,
        retention_until=body.retention_until,
        tags=body.tags,
    )
    return record.to_dict()


@router.get("/records/{record_id}", response_model=RecordOut, responses=error_responses(404))
def get_record(record_id: str, caller: Caller, gov: Gov) -> dict[str, Any]:
    """Return a record's current version and status."""
    need(caller, "read")
    return gov.records.get(caller.tenant, record_id).to_dict()


@router.get("/records/{record_id}/lineage", response_model=AssetsOut | OpenLineageOut, responses=error_responses(404))
def lineage(
    record_id: str,
    caller: Caller,
    gov: Gov,
    format: Literal["assets", "openlineage"] = "assets",
) -> dict[str, Any]:
    """Return the lineage closure of a record, as assets or as OpenLineage run events."""
    need(caller, "read")
    if format == "openlineage":
        return {"events": gov.records.openlineage(caller.tenant, record_id)}
    return {"assets": [a.to_dict() for a in gov.records.lineage(caller.tenant, record_id)]}


@router.post("/filter", response_model=FilterOut, responses=error_responses(413))
def allowed(body: FilterIn, caller: Caller, gov: Gov) -> dict[str, list[str]]:
    """Return which candidate assets may be used for retrieval or training now (the hard filter)."""
    need(caller, "read")
    return {"allowed": sorted(gov.records.allowed(caller.tenant, body.asset_ids, use=body.use))}


@router.post("/artifacts", status_code=201, response_model=ArtifactOut, responses=error_responses(404, 413))
def register_artifact(body: ArtifactIn, caller: Caller, gov: Gov) -> dict[str, Any]:
    """Register a derived artifact held at a backend URI."""
    need(caller, "catalog:write")
    artifact = gov.records.register_artifact(
        caller.tenant, kind=body.kind, uri=body.uri, derived_from=body.derived_from
    )
    return artifact.to_dict()


@router.post("/lineage", status_code=204, responses=error_responses(404, 413))
def add_lineage(body: LineageIn, caller: Caller, gov: Gov) -> None:
    """Add ``derived_from`` edges to an artifact."""
    need(caller, "catalog:write")
    gov.records.link(caller.tenant, body.child_id, body.parent_ids)
