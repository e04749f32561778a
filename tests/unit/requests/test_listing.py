"""Listing requests a page at a time: a cursor, a total, newest first, and bad filters refused."""

from __future__ import annotations

import pytest

from expunge.catalog import Identifier
from expunge.errors import InvalidPageError, RequestError
from expunge.requests import STATES


def file_many(gov, clock, n, *, tenant="acme", same_time=(), start=0):
    ids = []
    for i in range(start, start + n):
        if i not in same_time:
            clock.advance(seconds=1)
        filed = gov.file_request(tenant, scope="erasure", filed_by="op", identifiers=[Identifier("user_id", f"u{i}")])
        ids.append(filed.case.id)
    return ids


def walk(gov, tenant, limit, **kw):
    pages, cursor = [], None
    while True:
        page = gov.list_cases(tenant, limit=limit, cursor=cursor, **kw)
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            return pages


def test_pages_cover_every_case_once_newest_first_even_when_times_tie(gov, clock):
    # Cases 3, 4 and 5 are filed at the same instant: the ID breaks the tie, so no page repeats or skips one.
    ids = file_many(gov, clock, 7, same_time={3, 4, 5})
    file_many(gov, clock, 2, tenant="globex")
    pages = walk(gov, "acme", 3)
    assert [len(p.items) for p in pages] == [3, 3, 1]
    assert {p.total for p in pages} == {7}
    listed = [c.id for p in pages for c in p.items]
    assert sorted(listed) == sorted(ids) and len(set(listed)) == 7
    filed_at = [c.filed_at for p in pages for c in p.items]
    assert filed_at == sorted(filed_at, reverse=True)
    assert [c.id for c in gov.list_cases("acme", limit=1000).items] == listed


def test_a_page_does_not_shift_when_cases_are_filed_meanwhile(gov, clock):
    file_many(gov, clock, 4)
    first = gov.list_cases("acme", limit=2)
    file_many(gov, clock, 3, start=4)  # newer than everything listed so far
    second = gov.list_cases("acme", limit=2, cursor=first.next_cursor)
    assert second.total == 7
    assert second.items[0].filed_at < first.items[-1].filed_at


def test_the_state_filter_counts_and_pages_within_the_state(gov, clock):
    ids = file_many(gov, clock, 3)
    gov.reject("acme", ids[0], actor="op", reason="unverifiable")
    rejected = gov.list_cases("acme", state="rejected")
    assert [c.id for c in rejected.items] == [ids[0]] and rejected.total == 1 and rejected.next_cursor is None
    assert gov.list_cases("acme", state="received").total == 2


@pytest.mark.parametrize("state", ["bogus", "", "RECEIVED"])
def test_an_unknown_state_is_refused_naming_the_states(gov, state):
    with pytest.raises(RequestError, match="Unknown request state") as err:
        gov.list_cases("acme", state=state)
    assert ", ".join(STATES) in err.value.message


@pytest.mark.parametrize("limit", [0, -1, 1001, 10**12, True, 2.5])
def test_a_page_size_out_of_range_is_refused(gov, limit):
    with pytest.raises(InvalidPageError, match="integer from 1 to 1000"):
        gov.list_cases("acme", limit=limit)


@pytest.mark.parametrize(
    "cursor", ["", "garbage", "W10", "WyJ4IiwieSJd", "WyIyMDMwLTAxLTAxVDAwOjAwOjAwIiwieCJd", "x" * 300]
)
def test_a_cursor_this_list_never_handed_out_is_refused(gov, cursor):
    # "W10" is [] and "WyJ4IiwieSJd" ["x","y"] in base64; the last but one has a naive time.
    with pytest.raises(InvalidPageError, match="not handed out by this list"):
        gov.list_cases("acme", cursor=cursor)
