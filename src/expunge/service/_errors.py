"""One JSON error shape, and the one table mapping the error tree to HTTP statuses."""

from __future__ import annotations

from typing import Any

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

__all__ = ["STATUS_BY_ERROR", "error_body", "status_for"]

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


def status_for(err: BaseException) -> int:
    """Return the HTTP status of an error (500 for anything outside the error tree)."""
    for cls, status in STATUS_BY_ERROR:
        if isinstance(err, cls):
            return status
    return 500


def error_body(code: str, message: str, status: int, **extra: Any) -> dict[str, Any]:
    """Return the one error shape every route answers with: ``{"error": {code, message, status}}``."""
    return {"error": {"code": code, "message": message, "status": status, **extra}}
