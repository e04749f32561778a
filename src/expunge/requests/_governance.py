"""The governance façade: file, verify, plan and publish requests, settle them, and export case files.

The CLI and the service call these methods and nothing below them, so both offer the same operations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from expunge.bus import (
    CatalogSubscriber,
    Event,
    LazySubscribers,
    LogStore,
    LogStoreSubscriber,
    Outbox,
    RetryPolicy,
    Subscriber,
    receipt_digest,
)
from expunge.catalog import Catalog, Hold, Identifier, check_sha256, check_tenant, new_id
from expunge.db import Database, Page, keyset_page, utcnow
from expunge.errors import (
    DuplicateRequestError,
    InvalidTokenError,
    InvalidTransition,
    RequestError,
    UnknownRequestError,
)
from expunge.evidence import AuditLog
from expunge.requests import _tables as t
from expunge.requests._case import MAX_SELECTORS, Case, FiledRequest, case_from_row, check_intake, dedupe_key
from expunge.requests._plan import build_plan
from expunge.requests._policy import DeadlinePolicy, TokenIssuer
from expunge.requests._reopen import blocked_erasures
from expunge.requests._settle import SettlementMixin
from expunge.requests._states import OPEN_STATES, STATES, check_transition

__all__ = ["Governance"]

_JOURNAL = "expunge_transition_journal"
_MOVES = "expunge_pending_moves"

# Built once: constructing a statement costs several times what executing a cached one does.
_ROW = select(t.cases).where(t.cases.c.id == bindparam("b_id"), t.cases.c.tenant == bindparam("b_tenant"))
_ROW_FOR_UPDATE = _ROW.with_for_update()
# The SET clause comes from the parameters given; the WHERE guards against a concurrent move.
_UPDATE = update(t.cases).where(
    t.cases.c.id == bindparam("b_id"),
    t.cases.c.tenant == bindparam("b_tenant"),
    t.cases.c.state == bindparam("b_state"),
)
_OPEN_DUPLICATE = select(t.cases.c.id).where(
    t.cases.c.tenant == bindparam("b_tenant"),
    t.cases.c.dedupe_key == bindparam("b_key"),
    t.cases.c.state.in_(sorted(OPEN_STATES)),
)


class Governance(SettlementMixin):
    """Everything a data-subject request goes through, over one database.

    Args:
        db: The open database (catalog, requests, bus and evidence share it).
        catalog: The catalog (holds the pseudonymizer).
        audit: The signed, chained audit log.
        tokens: Issues and checks requester verification tokens.
        policy: Deadlines per regulation.
        subscribers: Extra subscribers by name (vector stores, caches…); ``catalog`` and ``logstore`` are
            built in.
        subscriber_factories: Subscribers built when the first event for them arrives (``name →
            callable()``), e.g. the RAG index's, whose store may not exist yet when a worker starts.
        retry: The bus retry policy.
        sweepers: Subscribers that get one sweep event per erasure (match by pseudonym/content hash).
        payload_retention: How long a delivered event keeps the subject pseudonyms and content hashes it
            matched by (sweeps); 0 drops them as soon as the worker is idle after delivering it.
        clock: Returns "now" (tests move it).
    """

    def __init__(
        self,
        db: Database,
        *,
        catalog: Catalog,
        audit: AuditLog,
        tokens: TokenIssuer,
        policy: DeadlinePolicy | None = None,
        subscribers: Mapping[str, Subscriber] | None = None,
        subscriber_factories: Mapping[str, Callable[[], Subscriber]] | None = None,
        retry: RetryPolicy | None = None,
        sweepers: Sequence[str] = ("logstore",),
        payload_retention: timedelta = timedelta(0),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.audit = audit
        self.tokens = tokens
        self.policy = policy or DeadlinePolicy()
        self.outbox = Outbox(clock=clock)
        self.logstore = LogStore()
        digest = receipt_digest(catalog.pseudonymizer)
        built = {
            "catalog": CatalogSubscriber(catalog, digest=digest),
            "logstore": LogStoreSubscriber(self.logstore, digest=digest),
        }
        self.subscribers = LazySubscribers({**built, **(subscribers or {})}, subscriber_factories)
        self.retry = retry or RetryPolicy()
        self.sweepers = tuple(sweepers)
        self.payload_retention = payload_retention
        self.clock = clock

    # --- intake and verification ------------------------------------------------------------------

    def file_request(
        self,
        tenant: str,
        *,
        scope: str,
        filed_by: str,
        regulation: str = "gdpr",
        identifiers: Sequence[Identifier] = (),
        content_sha256: Sequence[str] = (),
        entity_tags: Sequence[str] = (),
        params: Mapping[str, Any] | None = None,
        approved_by: str | None = None,
    ) -> FiledRequest:
        """File a request: validate it, start its SLA clock, and issue a one-time verification token.

        With ``approved_by``, an operator who verified the requester out of band files it: the request
        is verified, planned and its events published in the filing's own transaction (the same steps,
        transitions and signed entries as :meth:`approve` after filing, in one commit instead of two),
        and no token is issued (``token`` and ``token_expires_at`` are ``None``).

        Raises:
            UnknownScopeError, UnknownRegulationError, RequestError, InvalidIdentifierError, CatalogError:
                The request is malformed; nothing is stored.
            DuplicateRequestError: An open request asks the same thing about the same subject.
        """
        check_tenant(tenant)
        params = dict(params or {})
        check_intake(
            scope=scope, identifiers=identifiers, content_sha256=content_sha256, entity_tags=entity_tags, params=params
        )
        kinds = {p: i.kind for i, p in zip(identifiers, self.catalog.pseudonyms(tenant, identifiers), strict=True)}
        pseudonyms = sorted(kinds)
        digests = sorted({check_sha256(d) for d in content_sha256})
        due = self.policy.due_at(regulation, self.clock())  # checks the regulation before anything is stored
        with self._tx() as conn:
            return self._file(
                conn,
                tenant,
                scope=scope,
                regulation=regulation,
                due=due,
                pseudonyms=pseudonyms,
                digests=digests,
                tags=sorted(set(entity_tags)),
                params=params,
                filed_by=filed_by,
                approved_by=approved_by,
                identifier_kinds=kinds,
            )

    def _file(
        self,
        conn: Connection,
        tenant: str,
        *,
        scope: str,
        regulation: str,
        due: datetime,
        pseudonyms: list[str],
        digests: list[str],
        tags: list[str],
        params: dict[str, Any],
        filed_by: str,
        approved_by: str | None,
        identifier_kinds: Mapping[str, str] | None = None,
    ) -> FiledRequest:
        """Store a validated request inside ``conn``'s journaled transaction (see :meth:`file_request`)."""
        named = sorted(
            set(params.get("record_ids", []))
            | set(params.get("asset_ids", []))
            | set(params.get("corrections", {}) if scope == "correction" else [])
        )
        key = dedupe_key(scope, pseudonyms, digests, tags, named)
        now = self.clock()
        dup = conn.execute(_OPEN_DUPLICATE, {"b_tenant": tenant, "b_key": key}).first()
        if dup is not None:
            raise DuplicateRequestError(
                f"Request {dup.id} already asks for {scope} of the same subject and is still open.",
                existing_id=dup.id,
            )
        case_id = new_id("dsr")
        token, expires = self.tokens.issue(case_id, now=now) if approved_by is None else (None, None)
        values = dict(
            id=case_id,
            tenant=tenant,
            scope=scope,
            regulation=regulation,
            state="received",
            pseudonyms=pseudonyms,
            content_sha256=digests,
            entity_tags=tags,
            params=params,
            identifier_kinds=dict(identifier_kinds or {}),
            dedupe_key=key,
            filed_by=filed_by,
            filed_at=now,
            due_at=due,
            token_sha256=TokenIssuer.fingerprint(token) if token is not None else None,
            token_expires_at=expires,
            exceptions=[],
            updated_at=now,
        )
        self._insert_case(conn, key, values)
        reason = f"{scope} under {regulation}"
        if params.get("reopens"):
            reason += f", re-opening {params['reopens']}: {params.get('note', '')}".rstrip(": ")
        terms = {
            "scope": scope,
            "regulation": regulation,
            "due_at": due.isoformat(),
            "pseudonym_count": len(pseudonyms),
        }
        self._record(
            conn, tenant, case_id, None, "received", actor=filed_by, reason=reason[:1000], at=now, facts={"case": terms}
        )
        if approved_by is not None:
            filed = SimpleNamespace(**values)
            self._approve_in(conn, tenant, case_id, operator=approved_by, current="received", row=filed, execute=True)
        return FiledRequest(case=self._get(conn, tenant, case_id), token=token, token_expires_at=expires)

    def _approve_in(
        self, conn: Connection, tenant: str, case_id: str, *, operator: str, current: str, row: Any, execute: bool
    ) -> None:
        """Verify on an operator's word inside ``conn``'s transaction; with ``execute``, plan and publish too."""
        self._move(
            conn,
            tenant,
            case_id,
            "verified",
            actor=operator,
            reason="operator approval",
            current=current,
            verified_by=f"operator:{operator}",
            # The requester's token must not verify a case an operator already decided.
            extra={"token_sha256": None},
        )
        if execute:
            self._execute(conn, tenant, case_id, actor=operator, row=row, state="verified")

    def enforce_retention(self, tenant: str, *, regulation: str = "gdpr", now: datetime | None = None) -> list[Case]:
        """File and approve erasure requests for the tenant's records past their retention date.

        Requests name the records directly (100 per request); an expired record already covered by an
        open request is a duplicate and is left to that request.

        Returns:
            The cases filed (empty when nothing has expired).
        """
        with self.db.read() as conn:
            expired = self.catalog.expired_records(conn, tenant, now=now or self.clock())
        cases = []
        for i in range(0, len(expired), MAX_SELECTORS):
            chunk = expired[i : i + MAX_SELECTORS]
            try:
                filed = self.file_request(
                    tenant,
                    scope="erasure",
                    regulation=regulation,
                    filed_by="retention-policy",
                    params={"record_ids": chunk, "note": "retention period ended"},
                )
            except DuplicateRequestError:
                continue
            cases.append(self.approve(tenant, filed.case.id, operator="retention-policy"))
        return cases

    def _insert_case(self, conn: Connection, key: str, values: dict[str, Any]) -> None:
        try:
            with conn.begin_nested():
                conn.execute(insert(t.cases), values)
        except IntegrityError as err:  # a concurrent filing of the same request won the unique index
            dup = conn.execute(
                select(t.cases.c.id).where(
                    t.cases.c.tenant == values["tenant"], t.cases.c.dedupe_key == key, t.cases.c.closed_at.is_(None)
                )
            ).scalar()
            raise DuplicateRequestError(
                f"Request {dup} already asks for {values['scope']} of the same subject and is still open.",
                existing_id=str(dup),
            ) from err

    def verify_token(self, token: str, *, tenant: str | None = None, execute: bool = True) -> Case:
        """Verify the requester with their one-time token; by default plan and publish at once.

        Raises:
            InvalidTokenError: Malformed, forged, already used, or superseded.
            TokenExpiredError: Past its expiry.
        """
        now = self.clock()
        case_id = self.tokens.read(token, now=now)
        with self._tx() as conn:
            row = conn.execute(select(t.cases).where(t.cases.c.id == case_id)).first()
            if row is None or (tenant is not None and row.tenant != tenant):
                raise InvalidTokenError("The verification token does not name a request of this tenant.")
            if row.token_sha256 != TokenIssuer.fingerprint(token) or row.token_used_at is not None:
                raise InvalidTokenError(f"The verification token of request {case_id} was already used or replaced.")
            self._move(
                conn,
                row.tenant,
                case_id,
                "verified",
                actor="requester",
                reason="one-time token",
                current=row.state,
                verified_by="token",
                extra={"token_used_at": now, "token_sha256": None},
            )
            if execute:
                self._execute(conn, row.tenant, case_id, actor="system", row=row, state="verified")
            return self._get(conn, row.tenant, case_id)

    def approve(self, tenant: str, case_id: str, *, operator: str, execute: bool = True) -> Case:
        """Verify the requester on an operator's word (identity checked out of band).

        Raises:
            UnknownRequestError: No such request in this tenant.
            InvalidTransition: The request is not waiting for verification.
        """
        with self._tx() as conn:
            row = self._row(conn, tenant, case_id, lock=True)
            self._approve_in(conn, tenant, case_id, operator=operator, current=row.state, row=row, execute=execute)
            return self._get(conn, tenant, case_id)

    def reject(self, tenant: str, case_id: str, *, actor: str, reason: str) -> Case:
        """Reject a request that is not yet planned (unverifiable requester, manifestly unfounded…)."""
        with self._tx() as conn:
            self._move(conn, tenant, case_id, "rejected", actor=actor, reason=reason[:1000], closed=True)
            return self._get(conn, tenant, case_id)

    def execute(self, tenant: str, case_id: str, *, actor: str) -> Case:
        """Plan a verified request and publish its events, in one transaction."""
        with self._tx() as conn:
            self._execute(conn, tenant, case_id, actor=actor)
            return self._get(conn, tenant, case_id)

    def _execute(
        self,
        conn: Connection,
        tenant: str,
        case_id: str,
        *,
        actor: str,
        row=None,
        state: str | None = None,  # type: ignore[no-untyped-def]
    ) -> None:
        if row is None:  # callers that just read (and on PostgreSQL locked) the row pass it with its new state
            row = self._row(conn, tenant, case_id, lock=True)
        state = state or row.state
        check_transition(case_id, state, "planned")
        plan = build_plan(
            conn,
            self.catalog,
            case_id=case_id,
            tenant=tenant,
            scope=row.scope,
            pseudonyms=row.pseudonyms,
            content_sha256=row.content_sha256,
            entity_tags=row.entity_tags,
            params=row.params,
            sweepers=[s for s in self.sweepers if s in self.subscribers],
            identifier_kinds=row.identifier_kinds or {},
        )
        if row.scope == "erasure" and plan.pseudonyms:
            # From now on, data naming this person is refused where it is registered (ingest, the API).
            self.catalog.suppress(conn, tenant, plan.pseudonyms, case_id=case_id)
        # The plan is signed too, so a case file shows it from the log, never from the actions table.
        actions = [
            {
                "asset_id": a.asset_id,
                "asset_kind": a.asset_kind,
                "uri": a.uri,
                "operation": a.operation,
                "subscriber": a.subscriber,
                "event_id": a.event_id,
                "hold_ids": list(a.hold_ids),
                "exception": a.exception,
            }
            for a in plan.actions
        ]
        if actions:
            conn.execute(insert(t.actions), [{"case_id": case_id, "seq": i, **a} for i, a in enumerate(actions)])
        body = {"actions": actions, "exceptions": list(plan.exceptions), "records": len(plan.record_ids)}
        self._sign(conn, tenant, case_id, "plan", body)
        summary = (
            f"{len(plan.record_ids)} record(s), {len(plan.actions)} action(s), {len(plan.exceptions)} exception(s)"
        )
        self._move(
            conn, tenant, case_id, "planned", actor=actor, reason=summary, current=state, exceptions=plan.exceptions
        )
        self.outbox.publish(
            conn,
            [
                Event(
                    id=a.event_id,
                    tenant=tenant,
                    case_id=case_id,
                    subscriber=a.subscriber,
                    operation=a.operation,
                    asset_id=a.asset_id,
                    asset_kind=a.asset_kind,
                    uri=a.uri,
                    # Only sweeps match by subject or content; other events name their asset and no more.
                    content_sha256=plan.content_sha256 if a.asset_kind == "sweep" else (),
                    pseudonyms=plan.pseudonyms if a.asset_kind == "sweep" else (),
                    params=a.params,
                )
                for a in plan.actions
            ],
        )
        self._move(
            conn,
            tenant,
            case_id,
            "executing",
            actor=actor,
            reason=f"{len(plan.actions)} event(s) published",
            current="planned",
        )
        if not plan.actions:
            self._settle_one(conn, tenant, case_id)

    # --- legal holds ------------------------------------------------------------------------------

    def place_hold(self, tenant: str, target_id: str, *, reason: str, placed_by: str) -> Hold:
        """Place a legal hold on a record, an artifact or a subject: their erasure becomes restriction.

        It takes effect at once, for requests already approved too: every delivery checks the holds
        covering its asset in its own transaction.

        Raises:
            UnknownAssetError: The target is not an asset or subject of this tenant.
            CatalogError: The reason is empty or too long.
        """
        with self.db.begin() as conn:
            return self.catalog.place_hold(conn, tenant, target_id, reason=reason, placed_by=placed_by)

    def list_holds(self, tenant: str, *, limit: int = 100, cursor: str | None = None) -> Page[Hold]:
        """Return a page of the tenant's active holds, newest first (see :class:`~expunge.db.Page`).

        Raises:
            InvalidPageError: ``limit`` is out of range or ``cursor`` is not one this method returned.
        """
        with self.db.read() as conn:
            return self.catalog.holds_page(conn, tenant, limit=limit, cursor=cursor)

    def lift_hold(self, tenant: str, hold_id: str, *, lifted_by: str) -> tuple[Hold, list[Case]]:
        """Lift a hold and, in the same transaction, re-open the erasures it blocked.

        Each erasure or correction case that restricted assets because of the hold gets a new,
        approved erasure request (its own SLA clock, ``params.reopens`` naming the old case) for the
        assets no other hold still covers; it is planned and published at once. Lifting a lifted hold
        changes nothing and re-opens nothing.

        Returns:
            The hold, and the cases filed to re-open what it blocked.

        Raises:
            UnknownAssetError: No such hold in this tenant.
        """
        with self._tx() as conn:
            was_active = self.catalog.get_hold(conn, tenant, hold_id).active
            hold = self.catalog.lift_hold(conn, tenant, hold_id, lifted_by=lifted_by)
            if not was_active:
                return hold, []
            cases = []
            for owed in blocked_erasures(conn, self.catalog, tenant, hold):
                regulation = owed.regulation
                try:
                    filed = self._file(
                        conn,
                        tenant,
                        scope="erasure",
                        regulation=regulation,
                        due=self.policy.due_at(regulation, self.clock()),
                        pseudonyms=[],
                        digests=[],
                        tags=[],
                        params={
                            "asset_ids": list(owed.asset_ids),
                            "reopens": owed.reopens,
                            "note": f"legal hold {hold.id} lifted by {lifted_by}",
                        },
                        filed_by=lifted_by,
                        approved_by=lifted_by,
                    )
                except DuplicateRequestError:  # an open request already re-opens exactly these assets
                    continue
                cases.append(filed.case)
        return hold, cases

    # --- reading ----------------------------------------------------------------------------------

    def get_case(self, tenant: str, case_id: str) -> Case:
        """Return a case of this tenant.

        Raises:
            UnknownRequestError: No such case in this tenant (also when it exists in another one).
        """
        with self.db.read() as conn:
            return self._get(conn, tenant, case_id)

    def list_cases(
        self, tenant: str, *, state: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> Page[Case]:
        """Return one page of the tenant's cases, newest first, optionally in one state.

        Args:
            tenant: The tenant whose cases are listed.
            state: Only cases in this state (one of :data:`~expunge.requests.STATES`).
            limit: Page size, 1 to 1000.
            cursor: ``next_cursor`` of the previous page; ``None`` for the first.

        Raises:
            RequestError: ``state`` is not a request state; the message lists them.
            InvalidPageError: ``limit`` is out of range or ``cursor`` is not one this list handed out.
        """
        query = select(t.cases).where(t.cases.c.tenant == tenant)
        if state is not None:
            if state not in STATES:
                raise RequestError(f"Unknown request state {state!r}. Accepted: {', '.join(STATES)}.")
            query = query.where(t.cases.c.state == state)
        with self.db.read() as conn:
            page = keyset_page(
                conn, query, at=t.cases.c.filed_at, key=t.cases.c.id, descending=True, limit=limit, cursor=cursor
            )
        return page.map(case_from_row)

    def sla_report(self, tenant: str, *, now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
        """Return open cases grouped as ``overdue``, ``due_soon`` and ``on_track`` by their deadline."""
        now = now or self.clock()
        out: dict[str, list[dict[str, Any]]] = {"overdue": [], "due_soon": [], "on_track": []}
        with self.db.read() as conn:
            rows = conn.execute(
                select(t.cases)
                .where(t.cases.c.tenant == tenant, t.cases.c.state.in_(OPEN_STATES))
                .order_by(t.cases.c.due_at)
            ).all()
        for row in rows:
            case = case_from_row(row)
            status = self.policy.status(due_at=case.due_at, now=now, closed_at=None)
            out[status].append({"id": case.id, "state": case.state, "due_at": case.due_at.isoformat()})
        return out

    def actions(self, tenant: str, case_id: str) -> list[dict[str, Any]]:
        """Return the planned actions of a case."""
        with self.db.read() as conn:
            self._row(conn, tenant, case_id)
            rows = conn.execute(select(t.actions).where(t.actions.c.case_id == case_id).order_by(t.actions.c.seq))
            return [dict(r._mapping) for r in rows]

    # --- internals --------------------------------------------------------------------------------

    def _row(self, conn: Connection, tenant: str, case_id: str, *, lock: bool = False):  # type: ignore[no-untyped-def]
        self._write_moves(conn)
        query = _ROW_FOR_UPDATE if lock and self.db.is_postgres else _ROW
        row = conn.execute(query, {"b_id": case_id, "b_tenant": tenant}).first()
        if row is None:
            raise UnknownRequestError(f"No request {case_id!r} in tenant {tenant!r}.")
        return row

    def _get(self, conn: Connection, tenant: str, case_id: str) -> Case:
        return case_from_row(self._row(conn, tenant, case_id))

    def _move(
        self,
        conn: Connection,
        tenant: str,
        case_id: str,
        target: str,
        *,
        actor: str,
        reason: str,
        current: str | None = None,
        verified_by: str | None = None,
        exceptions: Sequence[str] | None = None,
        closed: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Move a case along the transition table; ``current`` saves a read when the caller knows it.

        Inside :meth:`_tx` the row is written once, when the transaction ends (or before the case is
        read again): a case moved verified → planned → executing costs one UPDATE, still guarded by
        the state it started from, and every step is journaled and signed as before.
        """
        if current is None:
            current = self._row(conn, tenant, case_id).state
        check_transition(case_id, current, target)
        now = self.clock()
        values: dict[str, Any] = {"state": target, "updated_at": now, **(extra or {})}
        if verified_by is not None:
            values["verified_by"] = verified_by
        if exceptions is not None:
            values["exceptions"] = list(exceptions)
        facts: dict[str, Any] = {} if verified_by is None else {"verified_by": verified_by}
        if closed or target in ("completed", "completed_with_exceptions", "rejected"):
            values["closed_at"] = now
            facts["closed"] = True
        moves: dict[str, tuple[str, str, dict[str, Any]]] | None = conn.info.get(_MOVES)
        if moves is None:
            self._write_move(conn, case_id, (tenant, current, values))
        elif case_id in moves:
            if moves[case_id][2]["state"] != current:
                raise InvalidTransition(f"Request {case_id} changed state concurrently; retry the operation.")
            moves[case_id][2].update(values)
        else:
            moves[case_id] = (tenant, current, values)
        self._record(conn, tenant, case_id, current, target, actor=actor, reason=reason, at=now, facts=facts)

    @staticmethod
    def _write_move(conn: Connection, case_id: str, move: tuple[str, str, dict[str, Any]]) -> None:
        tenant, source, values = move
        result = conn.execute(_UPDATE, {"b_id": case_id, "b_tenant": tenant, "b_state": source, **values})
        if result.rowcount != 1:
            raise InvalidTransition(f"Request {case_id} changed state concurrently; retry the operation.")

    def _write_moves(self, conn: Connection) -> None:
        """Write the pending moves of this transaction (before a case is read, and at its end)."""
        moves = conn.info.get(_MOVES)
        while moves:
            case_id = next(iter(moves))
            self._write_move(conn, case_id, moves.pop(case_id))

    def _record(
        self,
        conn: Connection,
        tenant: str,
        case_id: str,
        source: str | None,
        target: str,
        *,
        actor: str,
        reason: str,
        at: datetime | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> None:
        """Store a transition and sign it; ``facts`` (the filing's terms, who verified, closing) are signed with it."""
        now = at or self.clock()
        row = {
            "case_id": case_id,
            "from_state": source,
            "to_state": target,
            "actor": actor,
            "reason": reason,
            "at": now,
        }
        body = {"from": source, "to": target, "actor": actor, "reason": reason, "at": now.isoformat(), **(facts or {})}
        self._sign(conn, tenant, case_id, "transition", body, row=row)

    def _sign(
        self,
        conn: Connection,
        tenant: str,
        case_id: str,
        kind: str,
        body: dict[str, Any],
        *,
        row: dict[str, Any] | None = None,
    ) -> None:
        """Sign a log entry of a case (and store its transition ``row``), at the end of :meth:`_tx` if inside one."""
        journal = conn.info.get(_JOURNAL)
        if journal is None:  # outside _tx(): write and sign it now
            if row is not None:
                conn.execute(insert(t.transitions).values(**row))
            self.audit.append(conn, tenant=tenant, case_id=case_id, kind=kind, body=body)
        else:
            journal.append((row, (tenant, case_id, kind, body)))

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Connection]:
        """Open a write transaction whose transitions are stored and signed in one go at the end."""
        with self.db.begin() as conn, self._journaled(conn):
            yield conn

    @contextlib.contextmanager
    def _journaled(self, conn: Connection) -> Iterator[None]:
        """Within an open transaction: keep case moves and transitions, and write and sign them at the end."""
        journal: list[tuple[dict[str, Any] | None, tuple[str, str | None, str, dict[str, Any]]]] = []
        conn.info[_JOURNAL] = journal
        conn.info[_MOVES] = {}
        try:
            yield
            self._write_moves(conn)
            if journal:
                rows = [row for row, _ in journal if row is not None]
                if rows:
                    conn.execute(insert(t.transitions), rows)
                self.audit.append_many(conn, [entry for _, entry in journal])
        finally:
            conn.info.pop(_JOURNAL, None)
            conn.info.pop(_MOVES, None)
