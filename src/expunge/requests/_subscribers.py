"""The one place a Governance's subscribers are built: the built-in ones, the configured ones, extras."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from expunge.bus import (
    CatalogSubscriber,
    LazySubscribers,
    LogStore,
    LogStoreSubscriber,
    Subscriber,
    WebhookSubscriber,
    receipt_digest,
)
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

    Args:
        catalog: The catalog (its subscriber writes tombstones and restrictions).
        logstore: The prompt/interaction log store (its subscriber sweeps it).
        signer: Signs webhook deliveries (needed with ``webhook_endpoints``).
        webhook_endpoints: External processors by name → URL; enables the ``webhook`` subscriber.
        rag_settings: Build the ``rag`` subscriber from these settings when its first event arrives, so a
            worker started before anything was ingested still serves erasures of chunks ingested later.
        extra: More subscribers by name (vector stores, caches, test doubles); they win over built-in ones.
        factories: More subscribers built when their first event arrives (``name → callable()``).
    """
    digest = receipt_digest(catalog.pseudonymizer)
    built: dict[str, Subscriber] = {
        "catalog": CatalogSubscriber(catalog, digest=digest),
        "logstore": LogStoreSubscriber(logstore, digest=digest),
    }
    if webhook_endpoints and signer is not None:
        built["webhook"] = WebhookSubscriber(webhook_endpoints, signer=signer)
    lazy: dict[str, Callable[[], Subscriber]] = {}
    if rag_settings is not None:
        settings = rag_settings

        def rag() -> Subscriber:
            from expunge.rag import RagSubscriber  # heavy (vector stores): only when an event needs it

            return RagSubscriber.from_settings(settings, digest=digest)

        lazy["rag"] = rag
    return LazySubscribers({**built, **(extra or {})}, {**lazy, **(factories or {})})
