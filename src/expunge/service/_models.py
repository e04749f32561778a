"""Request and response bodies of the HTTP API (validated at the edge, again by the areas)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "ArtifactIn",
    "DecisionIn",
    "FilterIn",
    "HoldIn",
    "KeyIn",
    "IdentifierIn",
    "LineageIn",
    "RecordIn",
    "RequestIn",
    "TokenIn",
]

Sha256 = Field(pattern=r"^[0-9a-fA-F]{64}$", max_length=64)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentifierIn(_Strict):
    """A subject identifier; it is pseudonymised on arrival and never stored."""

    kind: Literal["email", "phone", "user_id", "name"]
    value: str = Field(min_length=1, max_length=320)


class RecordIn(_Strict):
    """A record to register at version 1."""

    source: str = Field(min_length=1, max_length=512)
    content_sha256: str = Sha256
    purpose: str = Field(min_length=1, max_length=64)
    legal_basis: Literal[
        "consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests"
    ]
    subjects: list[IdentifierIn] = Field(default_factory=list, max_length=20)
    consent: dict[str, bool] = Field(default_factory=dict, max_length=32)
    retention_until: AwareDatetime | None = Field(
        default=None,
        description="When the retention period ends, with a UTC offset (e.g. 2030-01-01T00:00:00+02:00); "
        "stored in UTC. A time without an offset is refused: nothing says which zone it meant.",
    )
    tags: list[str] = Field(default_factory=list, max_length=50)


class ArtifactIn(_Strict):
    """A derived artifact and the assets it is derived from."""

    kind: Literal[
        "chunk",
        "embedding",
        "vector_row",
        "cache_entry",
        "training_set",
        "model",
        "adapter",
        "shard",
        "log_entry",
        "backup",
    ]
    uri: str = Field(min_length=4, max_length=1024)
    derived_from: list[str] = Field(default_factory=list, max_length=1000)


class LineageIn(_Strict):
    """More ``derived_from`` edges of an existing artifact."""

    child_id: str = Field(max_length=64)
    parent_ids: list[str] = Field(min_length=1, max_length=1000)


class HoldIn(_Strict):
    """A legal hold on a record, artifact or subject."""

    target_id: str = Field(max_length=64)
    reason: str = Field(min_length=1, max_length=1024)


class RequestIn(_Strict):
    """A data-subject request."""

    scope: str = Field(max_length=32)
    regulation: str = Field(default="gdpr", max_length=16)
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=100)
    content_sha256: list[str] = Field(default_factory=list, max_length=100)
    entity_tags: list[str] = Field(default_factory=list, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)
    approve: bool = Field(
        default=False,
        description="File with the caller's approval (operator or admin role; the requester was verified out of "
        "band): the request is verified, planned and published at once, and no token is issued.",
    )


class FilterIn(_Strict):
    """Candidate assets to check before retrieval or training."""

    asset_ids: list[str] = Field(max_length=10_000)
    use: Literal["retrieval", "training"]


class KeyIn(_Strict):
    """A new API key in the caller's tenant."""

    role: Literal["admin", "operator", "auditor"]
    label: str = Field(default="", max_length=128)


class TokenIn(_Strict):
    """A requester's one-time verification token."""

    token: str = Field(min_length=1, max_length=512)


class DecisionIn(_Strict):
    """An operator's reason for rejecting a request."""

    reason: str = Field(min_length=1, max_length=1000)
