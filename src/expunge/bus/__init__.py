"""Bus: deletion events — transactional outbox, dispatcher, subscriber protocol, retries, dead letters.

Owns the ``bus_*`` tables (outbox and dead letters), the subscriber registry (and
:func:`build_subscribers`, which builds an install's subscribers from it), and the built-in
subscribers: the catalog (tombstones), the prompt/interaction log store (``logstore_entries``), a
signed outgoing webhook for external processors, and an in-memory mock store. Events carry IDs,
pseudonyms and content hashes only.

Must not touch: requests or the service (it sits below them). It never decides what to delete — the
plan does — it only delivers, retries, records receipts through :mod:`expunge.evidence`, and keeps
what failed until someone replays it.
"""

from expunge.bus._build import SubscriberParts, build_subscribers
from expunge.bus._catalog_sub import CatalogSubscriber, guard_in_catalog, mark_in_catalog
from expunge.bus._dispatcher import Dispatcher, DispatchStats, RetryPolicy
from expunge.bus._logstore import REDACTED, LogStore, LogStoreSubscriber
from expunge.bus._memory import MemoryStore, MemorySubscriber
from expunge.bus._outbox import DeadLetter, Outbox, route
from expunge.bus._webhook import SIGNATURE_HEADER, WebhookSubscriber
from expunge.bus.protocol import (
    BatchSubscriber,
    Event,
    LazySubscribers,
    Subscriber,
    available_subscribers,
    get_subscriber_factory,
    receipt_digest,
    register_subscriber,
)

__all__ = [
    "REDACTED",
    "SIGNATURE_HEADER",
    "BatchSubscriber",
    "CatalogSubscriber",
    "DeadLetter",
    "DispatchStats",
    "Dispatcher",
    "Event",
    "LazySubscribers",
    "LogStore",
    "LogStoreSubscriber",
    "MemoryStore",
    "MemorySubscriber",
    "Outbox",
    "RetryPolicy",
    "Subscriber",
    "SubscriberParts",
    "WebhookSubscriber",
    "available_subscribers",
    "build_subscribers",
    "get_subscriber_factory",
    "guard_in_catalog",
    "mark_in_catalog",
    "receipt_digest",
    "register_subscriber",
    "route",
]
