"""The governance façade: file, verify, plan and publish requests; its parts run holds, the bus and the rest.

The CLI and the service call this object and the parts it exposes (``holds``, ``bus``…), and nothing
below them, so both offer the same operations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from expunge.bus import Event, LogStore, Outbox, RetryPolicy, Subscriber
from expunge.catalog import Catalog, Hold, Identifier, check_sha256, check_tenant, new_id
from expunge.config import Settings
from expunge.db import Database, Page, keyset_page, utcnow
from expunge.errors import DuplicateRequestError, InvalidTokenError, RequestError
from expunge.evidence import AuditLog
from expunge.requests import _tables as t
from expunge.requests._case import MAX_SELECTORS, Case, FiledRequest, case_from_row, check_intake, dedupe_key
from expunge.requests._holds import LegalHolds
from expunge.requests._journal import CaseJournal
from expunge.requests._parts import EvidencePart, KeysPart, RecordsPart
from expunge.requests._plan import build_plan
from expunge.requests._policy import DeadlinePolicy, TokenIssuer
from expunge.requests._reopen import Reopening
from expunge.requests._settle import Settlement
from expunge.requests._states import OPEN_STATES, STATES, check_transition
from expunge.requests._subscribers import build_subscribers

__all__ = ["Governance"]

# Built once: constructing a statement costs several times what executing a cached one does.
_ACTION_FIELDS = [
    t.actions.c[name]
    for name in ("asset_id", "asset_kind", "uri", "operation", "subscriber", "event_id", "hold_ids", "exception")
]
_OPEN_DUPLICATE = select(t.cases.c.id).where(
    t.cases.c.tenant == bindparam("b_tenant"),
    t.cases.c.dedupe_key == bindparam("b_key"),
    t.cases.c.state.in_(sorted(OPEN_STATES)),
)


class Governance:
    """Everything a data-subject request goes through, over one database.

    Requests are filed, verified, planned and published by the methods of this class; the other
    operations are grouped in its parts:

    - ``holds`` (:class:`LegalHolds`): place, list and lift legal holds;
    - ``bus`` (:class:`Settlement`): deliver events, settle cases, dead letters;
    - ``keys`` (:class:`KeysPart`): API keys; ``records`` (:class:`RecordsPart`): records, artifacts,
      lineage and the hard filter; ``evidence`` (:class:`EvidencePart`): public keys, checkpoint,
      log export and case files;
    - ``journal`` (:class:`CaseJournal`): the journaled, signed state moves every part goes through.

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
        webhook_endpoints: External processors by name → URL; enables the ``webhook`` subscriber.
        rag_settings: Build the ``rag`` subscriber from these settings when its first event arrives.
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
        webhook_endpoints: Mapping[str, str] | None = None,
        rag_settings: Settings | None = None,
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
        self.clock = clock
        self.outbox = Outbox(clock=clock)
        self.logstore = LogStore()
        self.subscribers = build_subscribers(
            catalog,
            self.logstore,
            signer=audit.signer,
            webhook_endpoints=webhook_endpoints,
            rag_settings=rag_settings,
            extra=subscribers,
            factories=subscriber_factories,
        )
        self.sweepers = tuple(sweepers)
        self.journal = CaseJournal(db, audit, clock=clock)
        self.bus = Settlement(
            self.journal,
            catalog=catalog,
            outbox=self.outbox,
            subscribers=self.subscribers,
            retry=retry or RetryPolicy(),
            payload_retention=payload_retention,
        )
        self.holds = LegalHolds(self.journal, catalog=catalog, reopen=self._reopen)
        self.keys = KeysPart(db)
        self.records = RecordsPart(db, catalog, clock=clock)
        self.evidence = EvidencePart(self)

    def close(self) -> None:
        """Close the database connections (a process that opened a Governance only to check its settings)."""
        self.db.dispose()

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
        kinds = {
            p: i.kind for i, p in zip(identifiers, self.catalog.subjects.pseudonyms(tenant, identifiers), strict=True)
        }
        pseudonyms = sorted(kinds)
        digests = sorted({check_sha256(d) for d in content_sha256})
        due = self.policy.due_at(regulation, self.clock())  # checks the regulation before anything is stored
        with self.journal.transaction() as conn:
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
        self.journal.record(
            conn, tenant, case_id, None, "received", actor=filed_by, reason=reason[:1000], at=now, facts={"case": terms}
        )
        if approved_by is not None:
            filed = SimpleNamespace(**values)
            self._approve_in(conn, tenant, case_id, operator=approved_by, current="received", row=filed, execute=True)
        return FiledRequest(case=self.journal.case(conn, tenant, case_id), token=token, token_expires_at=expires)

    def _approve_in(
        self, conn: Connection, tenant: str, case_id: str, *, operator: str, current: str, row: Any, execute: bool
    ) -> None:
        """Verify on an operator's word inside ``conn``'s transaction; with ``execute``, plan and publish too."""
        self.journal.move(
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

        Raises:
            UnknownRegulationError: No deadline policy for ``regulation`` (even when nothing has expired).
        """
        self.policy.due_at(regulation, self.clock())
        with self.db.read() as conn:
            expired = self.catalog.records.expired(conn, tenant, now=now or self.clock())
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
        with self.journal.transaction() as conn:
            row = conn.execute(select(t.cases).where(t.cases.c.id == case_id)).first()
            if row is None or (tenant is not None and row.tenant != tenant):
                raise InvalidTokenError("The verification token does not name a request of this tenant.")
            if row.token_sha256 != TokenIssuer.fingerprint(token) or row.token_used_at is not None:
                raise InvalidTokenError(f"The verification token of request {case_id} was already used or replaced.")
            self.journal.move(
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
            return self.journal.case(conn, row.tenant, case_id)

    def approve(self, tenant: str, case_id: str, *, operator: str, execute: bool = True) -> Case:
        """Verify the requester on an operator's word (identity checked out of band).

        Raises:
            UnknownRequestError: No such request in this tenant.
            InvalidTransition: The request is not waiting for verification.
        """
        with self.journal.transaction() as conn:
            row = self.journal.row(conn, tenant, case_id, lock=True)
            self._approve_in(conn, tenant, case_id, operator=operator, current=row.state, row=row, execute=execute)
            return self.journal.case(conn, tenant, case_id)

    def reject(self, tenant: str, case_id: str, *, actor: str, reason: str) -> Case:
        """Reject a request that is not yet planned (unverifiable requester, manifestly unfounded…)."""
        with self.journal.transaction() as conn:
            self.journal.move(conn, tenant, case_id, "rejected", actor=actor, reason=reason[:1000], closed=True)
            return self.journal.case(conn, tenant, case_id)

    def execute(self, tenant: str, case_id: str, *, actor: str) -> Case:
        """Plan a verified request and publish its events, in one transaction."""
        with self.journal.transaction() as conn:
            self._execute(conn, tenant, case_id, actor=actor)
            return self.journal.case(conn, tenant, case_id)

    def _execute(
        self,
        conn: Connection,
        tenant: str,
        case_id: str,
        *,
        actor: str,
        row=None,
        state: str | None = None,
    ) -> None:
        if row is None:  # callers that just read (and on PostgreSQL locked) the row pass it with its new state
            row = self.journal.row(conn, tenant, case_id, lock=True)
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
            self.catalog.subjects.suppress(conn, tenant, plan.pseudonyms, case_id=case_id)
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
        self.journal.sign(conn, tenant, case_id, "plan", body)
        summary = (
            f"{len(plan.record_ids)} record(s), {len(plan.actions)} action(s), {len(plan.exceptions)} exception(s)"
        )
        self.journal.move(
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
        self.journal.move(
            conn,
            tenant,
            case_id,
            "executing",
            actor=actor,
            reason=f"{len(plan.actions)} event(s) published",
            current="planned",
        )
        if not plan.actions:
            self.bus.settle_case(conn, tenant, case_id)

    def _reopen(self, conn: Connection, tenant: str, owed: Reopening, hold: Hold, lifted_by: str) -> Case | None:
        """File, approved, the erasure a lifted hold had blocked (see :meth:`LegalHolds.lift`)."""
        try:
            filed = self._file(
                conn,
                tenant,
                scope="erasure",
                regulation=owed.regulation,
                due=self.policy.due_at(owed.regulation, self.clock()),
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
            return None
        return filed.case

    # --- reading ----------------------------------------------------------------------------------

    def get_case(self, tenant: str, case_id: str) -> Case:
        """Return a case of this tenant.

        Raises:
            UnknownRequestError: No such case in this tenant (also when it exists in another one).
        """
        with self.db.read() as conn:
            return self.journal.case(conn, tenant, case_id)

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
        """Return the planned actions of a case, in plan order, as the CLI prints and the API answers them.

        Each is ``{"asset_id", "asset_kind", "uri", "operation", "subscriber", "event_id", "hold_ids",
        "exception"}``.

        Raises:
            UnknownRequestError: No such case in this tenant.
        """
        with self.db.read() as conn:
            self.journal.row(conn, tenant, case_id)
            rows = conn.execute(select(*_ACTION_FIELDS).where(t.actions.c.case_id == case_id).order_by(t.actions.c.seq))
            return [dict(r._mapping) for r in rows]
