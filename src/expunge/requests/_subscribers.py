"""The one place a Governance's subscribers are built: from the subscriber registry, plus the caller's extras."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from expunge.bus import LazySubscribers, LogStore, Subscriber, SubscriberParts, receipt_digest
from expunge.bus import build_subscribers as build_registered
from expunge.catalog import Catalog
from expunge.config import Settings
from expunge.evidence import Signer

__all__ = ["build_subscribers"]


def build_subscribers(
    catalog: Catalog,
    logstore: LogStore,
    *,
    signer: Signer | None = None,
    webhook_endpoints: Mapping[str, str] | None = None,
    rag_settings: Settings | None = None,
    extra: Mapping[str, Subscriber] | None = None,
    factories: Mapping[str, Callable[[], Subscriber]] | None = None,
) -> LazySubscribers:
    """Return every subscriber of an install by name; those that may not exist yet are built on first use.

    The registered subscribers (``expunge.bus.SUBSCRIBERS``) build themselves from the install's parts; the
    RAG index's registers when ``expunge.rag`` is imported, which happens here only when ``rag_settings`` asks
    for it (the import is heavy: vector stores).

    Args:
        catalog: The catalog (its subscriber writes tombstones and restrictions).
        logstore: The prompt/interaction log store (its subscriber sweeps it).
        signer: Signs webhook deliveries (needed with ``webhook_endpoints``).
        webhook_endpoints: External processors by name → URL; enables the ``webhook`` subscriber.
        rag_settings: Build the ``rag`` subscriber from these settings when its first event arrives, so a
            worker started before anything was ingested still serves erasures of chunks ingested later.
        extra: More subscribers by name (vector stores, caches, test doubles); they win over registered ones.
        factories: More subscribers built when their first event arrives (``name → callable()``).
    """
    if rag_settings is not None:
        import expunge.rag  # noqa: F401 - registers the rag subscriber

    parts = SubscriberParts(
        catalog=catalog,
        logstore=logstore,
        digest=receipt_digest(catalog.pseudonymizer),
        signer=signer,
        webhook_endpoints=dict(webhook_endpoints or {}),
        settings=rag_settings,
    )
    skip = (*(factories or {}),) if rag_settings is not None else ("rag", *(factories or {}))
    subscribers = build_registered(parts, given=extra, skip=skip)
    for name, factory in (factories or {}).items():
        subscribers.add_factory(name, factory)
    return subscribers
