"""What every route depends on: the governance it serves, the authenticated caller, and the page parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from expunge.db import MAX_PAGE_SIZE
from expunge.requests import Governance, Principal

__all__ = ["Caller", "Cursor", "Gov", "Limit", "need"]


def _gov(request: Request) -> Governance:
    """The governance the app was built over (``create_app(gov)``)."""
    return request.app.state.gov


Gov = Annotated[Governance, Depends(_gov)]


def _principal(
    gov: Gov,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    """Authenticate the caller by ``Authorization: Bearer <key>`` or ``X-API-Key``."""
    presented = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        presented = authorization[7:].strip()
    return gov.keys.authenticate(presented)


# Every route takes a Caller: no route is reachable without a valid key.
Caller = Annotated[Principal, Depends(_principal)]
# The page of a list route: its size, and the next_cursor of the page before.
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, 1 to {MAX_PAGE_SIZE}.")]
Cursor = Annotated[
    str | None, Query(max_length=256, description="`next_cursor` of the previous page; none for the first page.")
]


def need(caller: Principal, permission: str) -> Principal:
    """Return the caller if their role grants ``permission``.

    Raises:
        ForbiddenError: It does not; the message names the roles that may.
    """
    caller.require(permission)
    return caller
