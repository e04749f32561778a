"""Keyset pagination of list queries: a page of rows, the total, and an opaque cursor to the next page.

A cursor holds the sort key of the last row handed out (a timestamp and the row's ID, which breaks
ties), so the next page starts strictly after it: rows inserted meanwhile never shift a page or
repeat a row the way ``OFFSET`` would, and a page costs the same however deep it is.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from sqlalchemy import Column, Connection, Row, Select, and_, func, or_, select

from expunge.errors import InvalidPageError

__all__ = ["MAX_PAGE_SIZE", "Page", "check_page_size", "keyset_page"]

MAX_PAGE_SIZE = 1000
_MAX_CURSOR_CHARS = 256

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list.

    Attributes:
        items: The rows of this page, in the list's order (at most the page size asked for).
        total: How many rows the whole list holds with the same filters, counted with this page.
        next_cursor: Pass it back to get the next page; ``None`` on the last page.
    """

    items: list[T]
    total: int
    next_cursor: str | None

    def map(self, fn: Callable[[T], U]) -> Page[U]:
        """Return the same page with ``fn`` applied to every item."""
        return Page([fn(item) for item in self.items], self.total, self.next_cursor)


def check_page_size(limit: object) -> int:
    """Return ``limit`` if it is a page size this module serves.

    Raises:
        InvalidPageError: ``limit`` is not an integer from 1 to :data:`MAX_PAGE_SIZE`.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidPageError(f"The page size (limit) must be an integer from 1 to {MAX_PAGE_SIZE}. Got {limit!r}.")
    return limit


def keyset_page(
    conn: Connection,
    query: Select,
    *,
    at: Column[datetime],
    key: Column[str],
    descending: bool,
    limit: int,
    cursor: str | None,
) -> Page[Row]:
    """Run one page of ``query`` ordered by ``(at, key)``.

    Args:
        conn: An open connection (one read transaction: the page and its total agree).
        query: The filtered ``SELECT`` without ``ORDER BY`` or ``LIMIT``.
        at: The timestamp column the list is sorted by.
        key: A unique column that breaks ties between equal timestamps (the row ID).
        descending: Newest first when true.
        limit: Page size, 1 to :data:`MAX_PAGE_SIZE`.
        cursor: ``next_cursor`` of the previous page, or ``None`` for the first page.

    Raises:
        InvalidPageError: ``limit`` is out of range, or ``cursor`` was not handed out by this function.
    """
    check_page_size(limit)
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    page = query
    if cursor is not None:
        after_at, after_key = _decode(cursor)
        if descending:
            page = page.where(or_(at < after_at, and_(at == after_at, key < after_key)))
        else:
            page = page.where(or_(at > after_at, and_(at == after_at, key > after_key)))
    order = (at.desc(), key.desc()) if descending else (at.asc(), key.asc())
    rows = list(conn.execute(page.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1]._mapping if rows and more else None
    return Page(rows, total, _encode(last[at.name], last[key.name]) if last is not None else None)


def _encode(at: datetime, key: str) -> str:
    # SQLite hands back naive datetimes: every expunge timestamp is written in UTC.
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    raw = json.dumps([aware.astimezone(UTC).isoformat(), key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    shown = cursor[:40] if isinstance(cursor, str) else cursor
    problem = InvalidPageError(
        f"The cursor {shown!r} was not handed out by this list. Pass the next_cursor of the previous page, "
        "or no cursor for the first page."
    )
    if not isinstance(cursor, str) or not 0 < len(cursor) <= _MAX_CURSOR_CHARS:
        raise problem
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at_text, key = json.loads(raw)
        at = datetime.fromisoformat(at_text)
    except (binascii.Error, UnicodeError, ValueError, TypeError) as err:
        raise problem from err
    if not isinstance(key, str) or at.tzinfo is None:
        raise problem
    return at.astimezone(UTC), key
