"""The case record as callers see it, and the intake validation of a new request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from expunge.catalog import Identifier, check_id, check_sha256, check_token
from expunge.errors import RequestError, UnknownScopeError
from expunge.evidence import canonical, sha256_hex
from expunge.requests._states import SCOPES

__all__ = ["MAX_SELECTORS", "Case", "FiledRequest", "case_from_row", "check_intake", "dedupe_key"]

MAX_SELECTORS = 100
# What params a request may carry: asset_ids names records or artifacts directly (a re-opened erasure
# after a legal hold was lifted), reopens the case it continues.
PARAMS = ("asset_ids", "consent_off", "corrections", "note", "record_ids", "reopens")


@dataclass(frozen=True)
class Case:
    """A data-subject request and where it stands. Holds pseudonyms only, never identifiers."""

    id: str
    tenant: str
    scope: str
    regulation: str
    state: str
    filed_by: str
    filed_at: datetime
    due_at: datetime
    closed_at: datetime | None
    verified_by: str | None
    pseudonym_count: int
    exceptions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "scope": self.scope,
            "regulation": self.regulation,
            "state": self.state,
            "filed_by": self.filed_by,
            "filed_at": self.filed_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "verified_by": self.verified_by,
            "pseudonym_count": self.pseudonym_count,
            "exceptions": list(self.exceptions),
        }


@dataclass(frozen=True)
class FiledRequest:
    """A new case and its verification token (shown once, to be sent to the requester).

    A request filed with an operator's approval needs no token: both token fields are ``None``.
    """

    case: Case
    token: str | None
    token_expires_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready fields the CLI prints and the API answers (the token under ``verification_token``)."""
        return {
            "case": self.case.to_dict(),
            "verification_token": self.token,
            "token_expires_at": self.token_expires_at.isoformat() if self.token_expires_at else None,
        }


def case_from_row(row) -> Case:
    """Build a :class:`Case` from a ``requests_cases`` row."""
    return Case(
        id=row.id,
        tenant=row.tenant,
        scope=row.scope,
        regulation=row.regulation,
        state=row.state,
        filed_by=row.filed_by,
        filed_at=_aware(row.filed_at),
        due_at=_aware(row.due_at),
        closed_at=_aware(row.closed_at) if row.closed_at else None,
        verified_by=row.verified_by,
        pseudonym_count=len(row.pseudonyms),
        exceptions=tuple(row.exceptions),
    )


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time expunge writes is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check_intake(
    *,
    scope: str,
    identifiers: Sequence[Identifier],
    content_sha256: Sequence[str],
    entity_tags: Sequence[str],
    params: Mapping[str, Any],
) -> None:
    """Raise unless a new request is well formed (selectors themselves are checked by the catalog).

    Raises:
        UnknownScopeError: The scope is not one of erasure, restriction, opt_out, correction.
        RequestError: No selector, too many, or correction details missing.
    """
    if scope not in SCOPES:
        raise UnknownScopeError(f"Unknown scope {scope!r}. Accepted: {', '.join(SCOPES)}.")
    counts = {"identifiers": len(identifiers), "content_sha256": len(content_sha256), "entity_tags": len(entity_tags)}
    by_id = (
        params.get("record_ids")
        or params.get("asset_ids")
        or (params.get("corrections") if scope == "correction" else None)
    )
    if not any(counts.values()) and not by_id:
        raise RequestError(
            "A request needs at least one identifier, content hash, entity tag, params.record_ids or "
            "params.asset_ids. Got none."
        )
    for name, what in (("record_ids", "record"), ("asset_ids", "record or artifact")):
        named = params.get(name, [])
        if not isinstance(named, list) or len(named) > MAX_SELECTORS:
            raise RequestError(f"params.{name} must be a list of at most {MAX_SELECTORS} {what} IDs.")
        for asset_id in named:
            check_id(asset_id, what=f"{what} ID in params.{name}")
    if "reopens" in params:
        check_id(params["reopens"], what="case ID in params.reopens")
    for name, n in counts.items():
        if n > MAX_SELECTORS:
            raise RequestError(f"A request may carry at most {MAX_SELECTORS} {name}. Got {n}.")
    if scope == "correction":
        corrections = params.get("corrections")
        if not isinstance(corrections, Mapping) or not corrections:
            raise RequestError(
                "A correction needs params.corrections: a mapping of record ID to the new content sha256."
            )
        if len(corrections) > MAX_SELECTORS:
            raise RequestError(f"A correction may name at most {MAX_SELECTORS} records. Got {len(corrections)}.")
        for record_id, digest in corrections.items():
            check_id(record_id, what="record ID in params.corrections")
            check_sha256(digest, what=f"new content_sha256 of {record_id}")
    consent_off = params.get("consent_off", [])
    if not isinstance(consent_off, list) or not all(isinstance(f, str) for f in consent_off) or len(consent_off) > 32:
        raise RequestError(
            f"params.consent_off must be a list of at most 32 consent flag names. Got {consent_off!r:.80}."
        )
    for flag in consent_off:
        check_token(flag, what="consent flag in params.consent_off")
    if not isinstance(params.get("note", ""), str) or len(params.get("note", "")) > 1000:
        raise RequestError("params.note must be text of at most 1000 characters.")
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise RequestError(f"Unknown request parameter {unknown[0]!r}. Accepted: {', '.join(PARAMS)}.")


def dedupe_key(
    scope: str, pseudonyms: Sequence[str], digests: Sequence[str], tags: Sequence[str], record_ids: Sequence[str] = ()
) -> str:
    """Return the key two requests share when they ask the same thing about the same subject or records."""
    return sha256_hex(
        canonical(
            {"scope": scope, "p": sorted(pseudonyms), "h": sorted(digests), "t": sorted(tags), "r": sorted(record_ids)}
        )
    )
