"""One JSON error shape, the one table mapping the error tree to HTTP statuses, and its OpenAPI form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from expunge.errors import (
    AlreadyProcessedError,
    AuthError,
    BackendError,
    ConfigError,
    DuplicateRequestError,
    ExpungeError,
    ForbiddenError,
    InvalidTokenError,
    InvalidTransition,
    PayloadTooLargeError,
    TokenExpiredError,
    TombstonedContentError,
)

__all__ = [
    "RETRY_AFTER_SECONDS",
    "STATUS_BY_ERROR",
    "ErrorBody",
    "ErrorOut",
    "error_body",
    "error_responses",
    "status_for",
    "validation_message",
]

# Most specific first: the first class an error is an instance of decides its status.
STATUS_BY_ERROR: tuple[tuple[type[BaseException], int], ...] = (
    (ForbiddenError, 403),
    (AuthError, 401),
    (PayloadTooLargeError, 413),
    (TokenExpiredError, 410),
    (InvalidTokenError, 400),
    (DuplicateRequestError, 409),
    (InvalidTransition, 409),
    (AlreadyProcessedError, 409),
    (TombstonedContentError, 409),
    (ConfigError, 500),
    (LookupError, 404),
    (ValueError, 422),
    (BackendError, 503),
    (ExpungeError, 400),
)

# Sent with every 503. The server already waited its busy timeout before answering, so a locked
# SQLite file or a restarting PostgreSQL is usually free again within a second or two.
RETRY_AFTER_SECONDS = 2


def status_for(err: BaseException) -> int:
    """Return the HTTP status of an error (500 for anything outside the error tree)."""
    for cls, status in STATUS_BY_ERROR:
        if isinstance(err, cls):
            return status
    return 500


def error_body(code: str, message: str, status: int, **extra: Any) -> dict[str, Any]:
    """Return the one error shape every route answers with: ``{"error": {code, message, status}}``."""
    return {"error": {"code": code, "message": message, "status": status, **extra}}


class ErrorBody(BaseModel):
    """What went wrong, in one sentence, with a stable code."""

    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Stable error code, e.g. `request.unknown_scope`.", examples=["request.unknown"])
    message: str = Field(description="One sentence: what is wrong and what is accepted.")
    status: int = Field(description="The HTTP status, repeated.")
    existing_id: str | None = Field(default=None, description="409 on a duplicate request: the open request's ID.")


class ErrorOut(BaseModel):
    """The one error shape every route answers with."""

    error: ErrorBody


_WHEN = {
    400: "The verification token is malformed, forged, already used or for another request.",
    401: "No API key, or a key that is unknown or revoked.",
    403: "The key's role does not allow this operation.",
    404: "No such request, record, hold, key or dead letter in the caller's tenant.",
    409: "A duplicate request, an illegal state transition, a replayed dead letter or tombstoned content.",
    410: "The verification token has expired.",
    413: "The request body is larger than EXPUNGE_MAX_BODY_BYTES.",
    422: "A parameter or body field is invalid; the message names it and what is accepted.",
    503: "The database is locked by another writer or unreachable; retry after `Retry-After` seconds.",
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
}


def error_responses(*statuses: int, forbidden: bool = True) -> dict[int | str, dict[str, Any]]:
    """Return the OpenAPI ``responses`` of a route, each with the :class:`ErrorOut` shape.

    Args:
        statuses: The statuses particular to the route (404 for a path ID, 409, 413 for a body…).
        forbidden: The route checks a permission, so it can answer 403.

    Returns:
        401, 422 and 503 (which every route can answer), 403 when ``forbidden``, and ``statuses``.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted({401, 422, 503, *statuses, *((403,) if forbidden else ())}):
        out[status] = {"model": ErrorOut, "description": _WHEN[status]}
    out[503]["headers"] = _RETRY_AFTER
    return out


def validation_message(errors: Sequence[Mapping[str, Any]], route: Any = None) -> str:
    """Return one sentence for FastAPI's validation errors (the first five).

    A query or path parameter's problem also gives its declared range and the value received; a body
    field's value is never echoed (it may be a subject identifier).

    Args:
        errors: ``RequestValidationError.errors()``.
        route: The matched ``APIRoute`` (``request.scope["route"]``), whose parameters declare ranges.
    """
    declared = {}
    dependant = getattr(route, "dependant", None)
    for param in (*getattr(dependant, "query_params", ()), *getattr(dependant, "path_params", ())):
        declared[param.name] = param.field_info.metadata
    problems = []
    for e in errors[:5]:
        loc = tuple(str(p) for p in e["loc"])
        text = f"{'.'.join(loc)}: {e['msg']}"
        if len(loc) == 2 and loc[0] in ("query", "path"):
            # FastAPI keeps Query(ge=…, le=…) as annotated-types Ge and Le markers.
            lows = [m.ge for m in declared.get(loc[1], ()) if getattr(m, "ge", None) is not None]
            highs = [m.le for m in declared.get(loc[1], ()) if getattr(m, "le", None) is not None]
            if lows and highs:
                text += f" (accepted: {lows[0]} to {highs[0]})"
            if isinstance(e.get("input"), str | int | float):
                text += f", got {str(e['input'])[:40]!r}"
        problems.append(text)
    return f"The request is invalid: {'; '.join(problems)}."
