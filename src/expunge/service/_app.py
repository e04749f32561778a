"""The FastAPI application: size limits, the error handlers, the background worker, and the routers.

The routes live in :mod:`expunge.service.routers`, one module per resource; authentication and the
page parameters in :mod:`expunge.service._deps`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from expunge.db import database_error
from expunge.errors import BackendError, ExpungeError, PayloadTooLargeError
from expunge.requests import Governance
from expunge.service._errors import RETRY_AFTER_SECONDS, error_body, status_for, validation_message
from expunge.service.routers import ROUTERS

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


def create_app(
    gov: Governance,
    *,
    max_body_bytes: int = 1_048_576,
    worker: bool = False,
    worker_idle_seconds: float = 0.2,
) -> FastAPI:
    """Build the HTTP API over ``gov``.

    Args:
        gov: The governance façade every route calls (and only it, or the parts it exposes).
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

    for router in ROUTERS:
        app.include_router(router)
    return app


def _error_response(err: ExpungeError) -> JSONResponse:
    status = status_for(err)
    extra = err.details()
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return JSONResponse(error_body(err.code, err.message, status, **extra), status_code=status, headers=headers)


def _work(gov: Governance, stop: threading.Event, idle: float) -> None:
    while not stop.is_set():
        try:
            gov.bus.work(stop, idle_seconds=idle, worker_id="serve")
        except (ExpungeError, SQLAlchemyError):  # e.g. the database restarts: log it, keep serving, retry
            log.exception("background bus worker failed; restarting in 1 s")
            stop.wait(1.0)
