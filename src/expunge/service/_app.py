"""The FastAPI application: authentication, tenant isolation, size limits, routes, errors."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from expunge.catalog import Identifier, closure, openlineage_events
from expunge.db import MAX_PAGE_SIZE, database_error
from expunge.errors import BackendError, ExpungeError, PayloadTooLargeError
from expunge.evidence import public_key_pem
from expunge.requests import STATES, ApiKeys, Governance, Principal, build_case_file
from expunge.service._errors import (
    RETRY_AFTER_SECONDS,
    error_body,
    error_responses,
    status_for,
    validation_message,
)
from expunge.service._models import (
    ArtifactIn,
    DecisionIn,
    FilterIn,
    HoldIn,
    KeyIn,
    LineageIn,
    RecordIn,
    RequestIn,
    TokenIn,
)

__all__ = ["create_app"]

log = logging.getLogger(__name__)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with the JSON error shape, before any route reads them."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, int(declared))
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                await self._refuse(send, size)
                return
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, size: int) -> None:
        err = PayloadTooLargeError(f"The request body must be at most {self.max_bytes} bytes. Got {size} or more.")
        response = JSONResponse(error_body(err.code, err.message, 413), status_code=413)
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


_KEYS = ApiKeys()


def _principal(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    """Authenticate the caller by ``Authorization: Bearer <key>`` or ``X-API-Key``."""
    presented = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        presented = authorization[7:].strip()
    gov: Governance = request.app.state.gov
    with gov.db.read() as conn:
        return _KEYS.authenticate(conn, presented)


# Every route takes a Caller: no route is reachable without a valid key.
Caller = Annotated[Principal, Depends(_principal)]
# The page of a list route: its size, and the next_cursor of the page before.
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, 1 to {MAX_PAGE_SIZE}.")]
Cursor = Annotated[
    str | None, Query(max_length=256, description="`next_cursor` of the previous page; none for the first page.")
]


def create_app(
    gov: Governance,
    *,
    max_body_bytes: int = 1_048_576,
    worker: bool = False,
    worker_idle_seconds: float = 0.2,
) -> FastAPI:
    """Build the HTTP API over ``gov``.

    Args:
        gov: The governance façade every route calls.
        max_body_bytes: Largest request body accepted (413 beyond).
        worker: Also run a bus dispatcher and case settlement in a background thread.
        worker_idle_seconds: How long the background worker sleeps when nothing is due.
    """
    stop = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        thread = None
        if worker:
            thread = threading.Thread(target=_work, args=(gov, stop, worker_idle_seconds), daemon=True)
            thread.start()
        yield
        stop.set()
        if thread is not None:
            thread.join(timeout=10)

    app = FastAPI(
        title="expunge",
        version="1",
        summary="Make AI systems forget on demand, and prove it.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.state.gov = gov

    @app.exception_handler(ExpungeError)
    async def _expunge_error(_request: Request, err: ExpungeError) -> JSONResponse:
        return _error_response(err)

    @app.exception_handler(SQLAlchemyError)
    async def _database_error(_request: Request, err: SQLAlchemyError) -> JSONResponse:
        # A SQLite file locked past the busy timeout, a PostgreSQL restart: the error tree says which.
        translated = database_error(err, url=gov.db.url)
        if type(translated) is BackendError:
            log.error("database error: %s", translated.message)
        return _error_response(translated)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, err: Exception) -> JSONResponse:
        # Starlette logs the traceback after this answer; the caller gets the one error shape.
        message = "The server failed unexpectedly; the error is logged. Retry, or report it if it persists."
        return JSONResponse(error_body("internal.error", message, 500), status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        message = validation_message(err.errors(), request.scope.get("route"))
        return JSONResponse(error_body("request.validation", message, 422), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        code = {404: "http.not_found", 405: "http.method_not_allowed"}.get(err.status_code, "http.error")
        return JSONResponse(error_body(code, str(err.detail), err.status_code), status_code=err.status_code)

    def need(caller: Principal, permission: str) -> Principal:
        caller.require(permission)
        return caller

    @app.post("/v1/keys", status_code=201, tags=["auth"], responses=error_responses(413))
    def create_key(body: KeyIn, caller: Caller) -> dict[str, str]:
        """Create an API key in the caller's tenant; the key is in this answer only."""
        need(caller, "keys:write")
        with gov.db.begin() as conn:
            principal, key = _KEYS.create(conn, caller.tenant, body.role, label=body.label)
        return {"key_id": principal.key_id, "role": principal.role, "tenant": principal.tenant, "api_key": key}

    @app.delete("/v1/keys/{key_id}", tags=["auth"], responses=error_responses(404))
    def revoke_key(key_id: str, caller: Caller) -> dict[str, Any]:
        """Revoke an API key of the caller's tenant."""
        need(caller, "keys:write")
        with gov.db.begin() as conn:
            return {"key_id": key_id, "revoked": _KEYS.revoke(conn, key_id, tenant=caller.tenant)}

    @app.get("/v1/whoami", tags=["auth"], responses=error_responses(forbidden=False))
    def whoami(caller: Caller) -> dict[str, str]:
        """Say which tenant and role the presented key is bound to."""
        return {"tenant": caller.tenant, "role": caller.role, "key_id": caller.key_id}

    @app.post("/v1/records", status_code=201, tags=["catalog"], responses=error_responses(409, 413))
    def register_record(body: RecordIn, caller: Caller) -> dict[str, Any]:
        """Register a record; its subjects are pseudonymised and never stored."""
        need(caller, "catalog:write")
        with gov.db.begin() as conn:
            rec = gov.catalog.register_record(
                conn,
                caller.tenant,
                source=body.source,
                content_sha256=body.content_sha256.lower(),
                purpose=body.purpose,
                legal_basis=body.legal_basis,
                subjects=[Identifier(i.kind, i.value) for i in body.subjects],
                consent=body.consent,
                retention_until=body.retention_until,
                tags=body.tags,
            )
        return _record_out(rec)

    @app.get("/v1/records/{record_id}", tags=["catalog"], responses=error_responses(404))
    def get_record(record_id: str, caller: Caller) -> dict[str, Any]:
        """Return a record's current version and status."""
        need(caller, "read")
        with gov.db.read() as conn:
            return _record_out(gov.catalog.get_record(conn, caller.tenant, record_id))

    @app.get("/v1/records/{record_id}/lineage", tags=["catalog"], responses=error_responses(404))
    def lineage(record_id: str, caller: Caller, format: Literal["assets", "openlineage"] = "assets") -> dict[str, Any]:  # noqa: A002
        """Return the lineage closure of a record, as assets or as OpenLineage run events."""
        need(caller, "read")
        with gov.db.read() as conn:
            gov.catalog.get_record(conn, caller.tenant, record_id)
            assets = closure(conn, caller.tenant, [record_id])
        if format == "openlineage":
            return {"events": openlineage_events(assets, namespace=caller.tenant, event_time=gov.clock())}
        return {
            "assets": [
                {
                    "id": a.id,
                    "kind": a.kind,
                    "uri": a.uri,
                    "status": a.status,
                    "depth": a.depth,
                    "parents": list(a.parents),
                }
                for a in assets
            ]
        }

    @app.post("/v1/filter", tags=["catalog"], responses=error_responses(413))
    def allowed(body: FilterIn, caller: Caller) -> dict[str, list[str]]:
        """Return which candidate assets may be used for retrieval or training now (the hard filter)."""
        need(caller, "read")
        with gov.db.read() as conn:
            return {"allowed": sorted(gov.catalog.allowed(conn, caller.tenant, body.asset_ids, use=body.use))}

    @app.post("/v1/artifacts", status_code=201, tags=["catalog"], responses=error_responses(404, 413))
    def register_artifact(body: ArtifactIn, caller: Caller) -> dict[str, Any]:
        """Register a derived artifact held at a backend URI."""
        need(caller, "catalog:write")
        with gov.db.begin() as conn:
            art = gov.catalog.register_artifact(
                conn, caller.tenant, kind=body.kind, uri=body.uri, derived_from=body.derived_from
            )
        return {"id": art.id, "kind": art.kind, "uri": art.uri, "status": art.status}

    @app.post("/v1/lineage", status_code=204, tags=["catalog"], responses=error_responses(404, 413))
    def add_lineage(body: LineageIn, caller: Caller) -> None:
        """Add ``derived_from`` edges to an artifact."""
        need(caller, "catalog:write")
        with gov.db.begin() as conn:
            gov.catalog.link(conn, caller.tenant, body.child_id, body.parent_ids)

    @app.post("/v1/holds", status_code=201, tags=["holds"], responses=error_responses(404, 413))
    def place_hold(body: HoldIn, caller: Caller) -> dict[str, Any]:
        """Place a legal hold: erasure of the target becomes restriction until it is lifted."""
        need(caller, "hold:write")
        return _hold_out(gov.place_hold(caller.tenant, body.target_id, reason=body.reason, placed_by=caller.actor))

    @app.get("/v1/holds", tags=["holds"], responses=error_responses())
    def list_holds(caller: Caller, limit: Limit = 100, cursor: Cursor = None) -> dict[str, Any]:
        """List the tenant's active holds, newest first, one page at a time."""
        need(caller, "read")
        page = gov.list_holds(caller.tenant, limit=limit, cursor=cursor)
        return {"holds": [_hold_out(h) for h in page.items], "total": page.total, "next_cursor": page.next_cursor}

    @app.delete("/v1/holds/{hold_id}", tags=["holds"], responses=error_responses(404))
    def lift_hold(hold_id: str, caller: Caller) -> dict[str, Any]:
        """Lift a legal hold; the erasures it blocked are re-opened as new approved requests (listed)."""
        need(caller, "hold:write")
        hold, reopened = gov.lift_hold(caller.tenant, hold_id, lifted_by=caller.actor)
        return {**_hold_out(hold), "reopened": [c.to_dict() for c in reopened]}

    @app.post("/v1/requests", status_code=201, tags=["requests"], responses=error_responses(404, 409, 413))
    def file_request(body: RequestIn, caller: Caller) -> dict[str, Any]:
        """File a data-subject request; the verification token is returned once (none when filed approved)."""
        need(caller, "dsr:file")
        if body.approve:
            need(caller, "dsr:decide")
        filed = gov.file_request(
            caller.tenant,
            scope=body.scope,
            regulation=body.regulation,
            identifiers=[Identifier(i.kind, i.value) for i in body.identifiers],
            content_sha256=body.content_sha256,
            entity_tags=body.entity_tags,
            params=body.params,
            filed_by=caller.actor,
            approved_by=caller.actor if body.approve else None,
        )
        return {
            "case": filed.case.to_dict(),
            "verification_token": filed.token,
            "token_expires_at": filed.token_expires_at.isoformat() if filed.token_expires_at else None,
        }

    @app.post("/v1/requests/verify", tags=["requests"], responses=error_responses(400, 409, 410, 413))
    def verify(body: TokenIn, caller: Caller) -> dict[str, Any]:
        """Verify a requester with their one-time token; the request is then planned and published."""
        need(caller, "dsr:file")
        return gov.verify_token(body.token, tenant=caller.tenant).to_dict()

    @app.post("/v1/requests/{case_id}/approve", tags=["requests"], responses=error_responses(404, 409))
    def approve(case_id: str, caller: Caller) -> dict[str, Any]:
        """Verify a requester on the operator's word; the request is then planned and published."""
        need(caller, "dsr:decide")
        return gov.approve(caller.tenant, case_id, operator=caller.actor).to_dict()

    @app.post("/v1/requests/{case_id}/reject", tags=["requests"], responses=error_responses(404, 409, 413))
    def reject(case_id: str, body: DecisionIn, caller: Caller) -> dict[str, Any]:
        """Reject a request that is not yet planned."""
        need(caller, "dsr:decide")
        return gov.reject(caller.tenant, case_id, actor=caller.actor, reason=body.reason).to_dict()

    @app.get("/v1/requests", tags=["requests"], responses=error_responses())
    def list_requests(
        caller: Caller,
        state: Annotated[str | None, Query(max_length=32, description=f"Only this state: {', '.join(STATES)}.")] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        """List the tenant's requests, newest first, one page at a time."""
        need(caller, "read")
        page = gov.list_cases(caller.tenant, state=state, limit=limit, cursor=cursor)
        return {"requests": [c.to_dict() for c in page.items], "total": page.total, "next_cursor": page.next_cursor}

    @app.get("/v1/requests/{case_id}", tags=["requests"], responses=error_responses(404))
    def get_request(case_id: str, caller: Caller) -> dict[str, Any]:
        """Return a request and its planned actions."""
        need(caller, "read")
        case = gov.get_case(caller.tenant, case_id)
        actions = [
            {
                k: a[k]
                for k in ("asset_id", "asset_kind", "operation", "subscriber", "event_id", "hold_ids", "exception")
            }
            for a in gov.actions(caller.tenant, case_id)
        ]
        return {**case.to_dict(), "actions": actions}

    @app.get("/v1/requests/{case_id}/case-file", tags=["evidence"], responses=error_responses(404))
    def case_file(case_id: str, caller: Caller, since: Annotated[int | None, Query(ge=0)] = None) -> dict[str, Any]:
        """Return the sealed case file; verify it offline with the public keys.

        ``since``: the tree size of a checkpoint the caller holds; the file then carries the
        consistency proof from it.
        """
        need(caller, "read")
        return build_case_file(gov, caller.tenant, case_id, signer=gov.audit.signer, since=since)

    @app.get("/v1/evidence/public-key", tags=["evidence"], responses=error_responses())
    def public_key(caller: Caller) -> dict[str, Any]:
        """Return the current Ed25519 public key (PEM) and the keyring of every key the log was signed with."""
        need(caller, "read")
        signer = gov.audit.signer
        keys = dict(gov.audit.public_keys.items())
        keys[signer.key_id] = signer.public_key
        return {
            "key_id": signer.key_id,
            "pem": public_key_pem(signer.public_key).decode(),
            "keys": [
                {"key_id": key_id, "pem": public_key_pem(key).decode(), "current": key_id == signer.key_id}
                for key_id, key in sorted(keys.items())
            ],
        }

    @app.get("/v1/evidence/checkpoint", tags=["evidence"], responses=error_responses())
    def checkpoint(caller: Caller) -> dict[str, Any]:
        """Return the audit log's latest signed checkpoint, after checking every entry against it."""
        need(caller, "read")
        with gov.db.read() as conn:
            return gov.audit.snapshot(conn).checkpoint.to_dict()

    @app.get("/v1/sla", tags=["requests"], responses=error_responses())
    def sla(caller: Caller) -> dict[str, Any]:
        """Report open requests as overdue, due soon or on track."""
        need(caller, "read")
        return gov.sla_report(caller.tenant)

    @app.get("/v1/deadletters", tags=["bus"], responses=error_responses())
    def dead_letters(caller: Caller, limit: Limit = 100, cursor: Cursor = None) -> dict[str, Any]:
        """List the tenant's dead letters waiting for a replay, oldest first, one page at a time."""
        need(caller, "read")
        with gov.db.read() as conn:
            page = gov.outbox.dead_letter_page(conn, caller.tenant, limit=limit, cursor=cursor)
        return {
            "dead_letters": [
                {
                    "id": d.id,
                    "event_id": d.event_id,
                    "subscriber": d.subscriber,
                    "attempts": d.attempts,
                    "error": d.error,
                    "dead_at": d.dead_at.isoformat(),
                }
                for d in page.items
            ],
            "total": page.total,
            "next_cursor": page.next_cursor,
        }

    @app.post("/v1/deadletters/{dead_letter_id}/replay", tags=["bus"], responses=error_responses(404, 409))
    def replay(dead_letter_id: str, caller: Caller) -> dict[str, str]:
        """Put a dead letter back on the bus."""
        need(caller, "deadletters:replay")
        return {"event_id": gov.replay_dead_letter(caller.tenant, dead_letter_id, by=caller.actor)}

    return app


def _error_response(err: ExpungeError) -> JSONResponse:
    status = status_for(err)
    extra = err.details()
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return JSONResponse(error_body(err.code, err.message, status, **extra), status_code=status, headers=headers)


def _work(gov: Governance, stop: threading.Event, idle: float) -> None:
    while not stop.is_set():
        try:
            gov.work(stop, idle_seconds=idle, worker_id="serve")
        except (ExpungeError, SQLAlchemyError):  # e.g. the database restarts: log it, keep serving, retry
            log.exception("background bus worker failed; restarting in 1 s")
            stop.wait(1.0)


def _record_out(rec) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "id": rec.id,
        "status": rec.status,
        "version": rec.version,
        "source": rec.source,
        "content_sha256": rec.content_sha256,
        "purpose": rec.purpose,
        "legal_basis": rec.legal_basis,
        "consent": rec.consent,
        "retention_until": rec.retention_until.isoformat() if rec.retention_until else None,
        "tags": list(rec.tags),
    }


def _hold_out(hold) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "id": hold.id,
        "target_id": hold.target_id,
        "reason": hold.reason,
        "active": hold.active,
        "placed_at": hold.placed_at.isoformat(),
        "lifted_at": hold.lifted_at.isoformat() if hold.lifted_at else None,
    }
