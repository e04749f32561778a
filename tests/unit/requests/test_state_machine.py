"""Hypothesis state machine: whatever is called in whatever order, cases move only along TRANSITIONS."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from dsr_support import SIGNER, Clock, sha
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from sqlalchemy import select

from expunge.bus import MemoryStore, MemorySubscriber, RetryPolicy
from expunge.catalog import Catalog, Identifier, Pseudonymizer
from expunge.db import open_database
from expunge.errors import DuplicateRequestError, InvalidTokenError, InvalidTransition, SubscriberFailedError
from expunge.evidence import AuditLog
from expunge.requests import TERMINAL_STATES, TRANSITIONS, DeadlinePolicy, Governance, TokenIssuer
from expunge.requests import _tables as rt

_TEMPLATE: dict[str, Path] = {}


def template() -> Path:
    if "path" not in _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="expunge-sm-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = folder / "template.db"
        open_database(f"sqlite:///{path}").dispose()
        _TEMPLATE["path"] = path
    return _TEMPLATE["path"]


class Flaky(MemorySubscriber):
    """A memory subscriber that fails while ``broken`` is set."""

    broken = False

    def handle(self, event, *, tx):
        if self.broken:
            raise SubscriberFailedError("store down")
        return super().handle(event, tx=tx)


class RequestMachine(RuleBasedStateMachine):
    cases = Bundle("cases")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="expunge-sm-run-"))
        shutil.copy(template(), self.dir / "e.db")
        self.db = open_database(f"sqlite:///{self.dir / 'e.db'}")
        self.clock = Clock()
        self.store = MemoryStore()
        self.flaky = Flaky(self.store)
        self.gov = Governance(
            self.db,
            catalog=Catalog(Pseudonymizer(b"p" * 32)),
            audit=AuditLog(SIGNER),
            tokens=TokenIssuer(b"t" * 32, ttl=timedelta(hours=1)),
            policy=DeadlinePolicy(),
            subscribers={"memory": self.flaky},
            retry=RetryPolicy(max_attempts=2, base_seconds=1, max_seconds=2),
            clock=self.clock,
        )
        with self.db.begin() as conn:
            for i in range(3):
                rec = self.gov.catalog.records.register(
                    conn,
                    "acme",
                    source="s",
                    content_sha256=sha(f"r{i}"),
                    purpose="p",
                    legal_basis="consent",
                    subjects=[Identifier("user_id", f"u{i}")],
                )
                art = self.gov.catalog.register_artifact(
                    conn, "acme", kind="chunk", uri=f"memory://{i}", derived_from=[rec.id]
                )
                self.store.put(art.id, b"x")
        self.tokens: dict[str, str] = {}

    def teardown(self) -> None:
        self.db.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    def state_of(self, case_id: str) -> str:
        return self.gov.get_case("acme", case_id).state

    def expect(self, case_id: str, target: str, call) -> None:
        before = self.state_of(case_id)
        if target in TRANSITIONS[before]:
            call()
            assert self.state_of(case_id) != before
        else:
            with pytest.raises((InvalidTransition, InvalidTokenError)):
                call()
            assert self.state_of(case_id) == before

    @rule(target=cases, user=st.integers(0, 4), scope=st.sampled_from(["erasure", "restriction"]))
    def file(self, user, scope):
        try:
            filed = self.gov.file_request(
                "acme", scope=scope, filed_by="op", identifiers=[Identifier("user_id", f"u{user}")]
            )
        except DuplicateRequestError as err:
            assert self.state_of(err.existing_id) not in TERMINAL_STATES
            return err.existing_id
        self.tokens[filed.case.id] = filed.token
        assert filed.case.state == "received"
        return filed.case.id

    @rule(case=cases)
    def verify(self, case):
        token = self.tokens.pop(case, None)
        if token is None:
            return
        self.expect(case, "verified", lambda: self.gov.verify_token(token))

    @rule(case=cases)
    def approve(self, case):
        self.expect(case, "verified", lambda: self.gov.approve("acme", case, operator="op"))

    @rule(case=cases)
    def reject(self, case):
        self.expect(case, "rejected", lambda: self.gov.reject("acme", case, actor="op", reason="no"))

    @rule(case=cases)
    def execute(self, case):
        self.expect(case, "planned", lambda: self.gov.execute("acme", case, actor="op"))

    @rule(broken=st.booleans())
    def set_store(self, broken):
        self.flaky.broken = broken

    @rule()
    def process(self):
        self.clock.advance(seconds=5)
        self.gov.bus.process()

    @rule()
    def replay(self):
        with self.db.begin() as conn:
            letters = self.gov.outbox.dead_letters(conn)
        for letter in letters:
            self.gov.bus.replay("acme", letter.id, by="op")

    @invariant()
    def histories_follow_the_table(self):
        with self.db.begin() as conn:
            rows = conn.execute(select(rt.transitions).order_by(rt.transitions.c.id)).all()
            states = dict(conn.execute(select(rt.cases.c.id, rt.cases.c.state)).all())
            closed = dict(conn.execute(select(rt.cases.c.id, rt.cases.c.closed_at)).all())
        last: dict[str, str | None] = {}
        for row in rows:
            prev = last.get(row.case_id)
            assert row.from_state == prev
            assert prev is None and row.to_state == "received" or row.to_state in TRANSITIONS[prev]
            last[row.case_id] = row.to_state
        assert last == states
        for case_id, state in states.items():
            assert (closed[case_id] is not None) == (state in TERMINAL_STATES)

    @invariant()
    def nothing_is_erased_twice(self):
        assert all(n == 1 for n in self.store.effects.values())


RequestMachine.TestCase.settings = settings(
    max_examples=8, stateful_step_count=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_request_state_machine = RequestMachine.TestCase
