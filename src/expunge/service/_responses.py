"""Response bodies of the HTTP API: the fields the areas' ``to_dict()`` give, so the CLI prints the same.

Times are ISO 8601 strings with their UTC offset, as the areas write them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "ActionOut",
    "ArtifactOut",
    "AssetOut",
    "AssetsOut",
    "CaseOut",
    "CasePageOut",
    "CaseWithActionsOut",
    "CheckpointOut",
    "DeadLetterOut",
    "DeadLetterPageOut",
    "FiledOut",
    "FilterOut",
    "HoldOut",
    "HoldPageOut",
    "KeyOut",
    "LiftedHoldOut",
    "OpenLineageOut",
    "PrincipalOut",
    "PublicKeyOut",
    "PublicKeysOut",
    "RecordOut",
    "ReplayOut",
    "RevokedOut",
    "SlaItemOut",
    "SlaOut",
]

_NEXT = Field(description="Pass it as `cursor` to get the next page; null on the last page.")
_TOTAL = Field(description="How many items the whole list holds.")


class PrincipalOut(BaseModel):
    """Who an API key belongs to: its tenant and role."""

    key_id: str
    tenant: str
    role: str


class KeyOut(PrincipalOut):
    """A new API key; ``api_key`` is shown in this answer only (only its hash is stored)."""

    api_key: str


class RevokedOut(BaseModel):
    """The outcome of a revocation."""

    key_id: str
    revoked: bool = Field(description="Whether the key was active until now.")


class RecordOut(BaseModel):
    """A record: its current version and status."""

    id: str
    tenant: str
    status: str
    version: int
    source: str
    content_sha256: str | None
    purpose: str | None
    legal_basis: str | None
    consent: dict[str, bool]
    retention_until: str | None
    tags: list[str]


class ArtifactOut(BaseModel):
    """A derived artifact and the URI of the backend that holds it."""

    id: str
    tenant: str
    kind: str
    uri: str
    status: str


class AssetOut(BaseModel):
    """One node of a lineage closure."""

    id: str
    kind: str
    uri: str
    status: str
    depth: int = Field(description="Derivation steps from the record (0: the record itself).")
    parents: list[str]


class AssetsOut(BaseModel):
    """The lineage closure of a record, as assets."""

    assets: list[AssetOut]


class OpenLineageOut(BaseModel):
    """The lineage closure of a record, as OpenLineage run events."""

    events: list[dict[str, Any]]


class FilterOut(BaseModel):
    """The candidate assets that may be used now."""

    allowed: list[str]


class CaseOut(BaseModel):
    """A data-subject request and where it stands (pseudonyms only, never identifiers)."""

    id: str
    tenant: str
    scope: str
    regulation: str
    state: str
    filed_by: str
    filed_at: str
    due_at: str
    closed_at: str | None
    verified_by: str | None
    pseudonym_count: int
    exceptions: list[str]


class ActionOut(BaseModel):
    """One planned action of a request."""

    asset_id: str
    asset_kind: str
    uri: str
    operation: str
    subscriber: str
    event_id: str
    hold_ids: list[str]
    exception: str | None


class CaseWithActionsOut(CaseOut):
    """A request and its planned actions."""

    actions: list[ActionOut]


class FiledOut(BaseModel):
    """A filed request and its one-time verification token (both token fields null when filed approved)."""

    case: CaseOut
    verification_token: str | None
    token_expires_at: str | None


class CasePageOut(BaseModel):
    """One page of requests, newest first."""

    requests: list[CaseOut]
    total: int = _TOTAL
    next_cursor: str | None = _NEXT


class SlaItemOut(BaseModel):
    """An open request and its deadline."""

    id: str
    state: str
    due_at: str


class SlaOut(BaseModel):
    """Open requests by how close they are to their deadline."""

    overdue: list[SlaItemOut]
    due_soon: list[SlaItemOut]
    on_track: list[SlaItemOut]


class HoldOut(BaseModel):
    """A legal hold on a record, an artifact or a subject."""

    id: str
    tenant: str
    target_id: str
    reason: str
    active: bool
    placed_by: str
    placed_at: str
    lifted_by: str | None
    lifted_at: str | None


class LiftedHoldOut(HoldOut):
    """A lifted hold and the approved erasure requests filed to re-open what it blocked."""

    reopened: list[CaseOut]


class HoldPageOut(BaseModel):
    """One page of active holds, newest first."""

    holds: list[HoldOut]
    total: int = _TOTAL
    next_cursor: str | None = _NEXT


class PublicKeyOut(BaseModel):
    """An Ed25519 public key (PEM) of the keyring."""

    key_id: str
    pem: str
    current: bool


class PublicKeysOut(BaseModel):
    """The current signing key and every key the log was signed with."""

    key_id: str
    pem: str
    keys: list[PublicKeyOut]


class CheckpointOut(BaseModel):
    """The audit log's latest signed checkpoint (the note alone is authoritative)."""

    checkpoint: str
    origin: str
    size: int
    root_hash: str
    timestamp: str
    key_id: str


class DeadLetterOut(BaseModel):
    """An event that failed every attempt and waits for a replay."""

    id: str
    event_id: str
    tenant: str
    subscriber: str
    attempts: int
    error: str
    dead_at: str
    replayed_by: str | None
    replayed_at: str | None


class DeadLetterPageOut(BaseModel):
    """One page of dead letters, oldest first."""

    dead_letters: list[DeadLetterOut]
    total: int = _TOTAL
    next_cursor: str | None = _NEXT


class ReplayOut(BaseModel):
    """The event a replay put back on the bus."""

    event_id: str
