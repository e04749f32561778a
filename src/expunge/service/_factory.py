"""Build the app from ``EXPUNGE_*`` settings (the entry point ``expunge serve`` hands to uvicorn)."""

from __future__ import annotations

from fastapi import FastAPI

from expunge.config import get_settings
from expunge.requests import open_governance_from_settings
from expunge.service._app import create_app

__all__ = ["app_from_settings"]


def app_from_settings() -> FastAPI:
    """Return the app over the database and keys the settings name.

    With ``EXPUNGE_SERVE_WORKER=1`` (``expunge serve --worker``) the bus also runs in-process.
    """
    settings = get_settings()
    gov = open_governance_from_settings(settings)
    return create_app(gov, max_body_bytes=settings.max_body_bytes, worker=settings.serve_worker)
