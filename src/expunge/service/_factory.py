"""Build the app from ``EXPUNGE_*`` settings (the entry point ``expunge serve`` hands to uvicorn)."""

from __future__ import annotations

from fastapi import FastAPI

from expunge.bus import RetryPolicy
from expunge.config import get_settings
from expunge.requests import open_governance
from expunge.service._app import create_app

__all__ = ["app_from_settings"]


def app_from_settings() -> FastAPI:
    """Return the app over the database and keys the settings name.

    With ``EXPUNGE_SERVE_WORKER=1`` (``expunge serve --worker``) the bus also runs in-process.
    """
    settings = get_settings()
    extra = {}
    if settings.rag_in_use:  # erasures must reach the RAG index its ingest registered in the catalog
        from expunge.rag import RagSubscriber

        extra["rag"] = RagSubscriber.from_settings(settings)
    gov = open_governance(
        settings.resolved_database_url,
        keys_dir=settings.resolved_keys_dir,
        sla_days=settings.sla_days,
        due_soon_days=settings.due_soon_days,
        token_ttl_seconds=settings.token_ttl_seconds,
        webhook_endpoints=settings.webhook_endpoints,
        phone_region=settings.default_phone_region,
        retry=RetryPolicy(
            max_attempts=settings.bus_max_attempts,
            base_seconds=settings.bus_backoff_seconds,
            max_seconds=settings.bus_backoff_max_seconds,
        ),
        subscribers=extra,
    )
    return create_app(gov, max_body_bytes=settings.max_body_bytes, worker=settings.serve_worker)
