"""Receipts: what one subscriber did to one asset for one event, in a signable form."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

import rfc8785

__all__ = ["OPERATIONS", "OUTCOMES", "Operation", "Outcome", "Receipt", "canonical", "sha256_hex"]

Operation = Literal["erase", "restrict", "opt_out", "correct", "redact", "notify"]
OPERATIONS: tuple[str, ...] = get_args(Operation)
Outcome = Literal["applied", "already_applied", "not_found", "restricted_by_hold", "attested"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)


def canonical(obj: Any) -> bytes:
    """Serialise ``obj`` as RFC 8785 canonical JSON: the exact bytes that are hashed and signed."""
    return rfc8785.dumps(obj)


def sha256_hex(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Receipt:
    """The outcome of one action on one asset, as a subscriber reports it.

    Attributes:
        event_id: The bus event the action answered; receipts are idempotent on it.
        case_id: The data-subject request, or ``None`` for actions outside a case.
        tenant: The tenant that owns the asset.
        subscriber: The registry name of the subscriber that acted.
        asset_id: The record or artifact acted on.
        asset_kind: ``record`` or an artifact kind.
        operation: What was done (one of :data:`OPERATIONS`).
        outcome: How it ended (one of :data:`OUTCOMES`).
        started_at: When the subscriber started.
        finished_at: When it finished.
        before_sha256: Digest of the asset's state before, if the store can tell.
        after_sha256: Digest after (for an erasure, of what is left, often nothing).
        artifact_ids: Backend-side IDs touched (row IDs, cache keys…).
        detail: One sentence for humans; never personal data.
    """

    event_id: str
    case_id: str | None
    tenant: str
    subscriber: str
    asset_id: str
    asset_kind: str
    operation: str
    outcome: str
    started_at: datetime
    finished_at: datetime
    before_sha256: str | None = None
    after_sha256: str | None = None
    artifact_ids: tuple[str, ...] = field(default_factory=tuple)
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (times as ISO 8601 strings)."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat()
        data["artifact_ids"] = list(self.artifact_ids)
        return data

    @property
    def seconds(self) -> float:
        """How long the action took."""
        return (self.finished_at - self.started_at).total_seconds()
