"""Build an install's subscribers from the registry: one function, no hand-wired list."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from expunge.bus.protocol import SUBSCRIBERS, LazySubscribers, Subscriber
from expunge.errors import SubscriberFailedError

if TYPE_CHECKING:
    from expunge.bus._logstore import LogStore
    from expunge.catalog import Catalog
    from expunge.config import Settings
    from expunge.evidence import Signer, StateDigest

__all__ = ["SubscriberParts", "build_subscribers"]


@dataclass(frozen=True)
class SubscriberParts:
    """The install's parts a registered subscriber builds itself from (its ``from_parts`` classmethod).

    Attributes:
        catalog: The install's catalog.
        logstore: The prompt/interaction log store the ``logstore`` subscriber sweeps.
        digest: The install's keyed digest of asset states for receipts (:func:`~expunge.bus.receipt_digest`).
        signer: Signs what leaves the install (webhook requests), or ``None`` when nothing is sent out.
        webhook_endpoints: External processors by name → URL; empty leaves the ``webhook`` subscriber out.
        settings: The settings, for subscribers that open a backend of their own (the RAG index), or ``None``.
    """

    catalog: Catalog
    logstore: LogStore
    digest: StateDigest
    signer: Signer | None = None
    webhook_endpoints: Mapping[str, str] = field(default_factory=dict)
    settings: Settings | None = None


def build_subscribers(
    parts: SubscriberParts,
    *,
    given: Mapping[str, Subscriber] | None = None,
    factories: Mapping[str, Callable[[], Subscriber]] | None = None,
    skip: tuple[str, ...] = (),
) -> LazySubscribers:
    """Return every registered subscriber this install can run, built from ``parts``.

    Each registered class says how: ``from_parts(parts)`` returns the subscriber, or ``None`` when the install
    does not use it (no webhook endpoints, a test double); a class with ``on_demand = True`` (the RAG index,
    whose store may not exist yet) is built when its first event arrives, if its ``configured(parts)`` says the
    install uses it. Subscribers living in other areas register when their area is imported, so import them
    (``import expunge.rag``) before calling this.

    Args:
        parts: What subscribers are built from.
        given: Subscribers already built by the caller (vector stores, caches, test doubles); they replace the
            registry's for their names.
        factories: More subscribers built when their first event arrives (``name → callable()``).
        skip: Names to leave out (the caller attaches its own later).
    """
    given = dict(given or {})
    built: dict[str, Subscriber] = {}
    on_demand: dict[str, Callable[[], Subscriber]] = {}
    for name in SUBSCRIBERS.names():
        if name in given or name in skip:
            continue
        factory: Any = SUBSCRIBERS.get(name)
        if getattr(factory, "on_demand", False):
            if factory.configured(parts):
                on_demand[name] = _later(name, factory, parts)
        elif (subscriber := factory.from_parts(parts)) is not None:
            built[name] = subscriber
    return LazySubscribers({**built, **given}, {**on_demand, **(factories or {})})


def _later(name: str, factory: Any, parts: SubscriberParts) -> Callable[[], Subscriber]:
    def build() -> Subscriber:
        subscriber = factory.from_parts(parts)
        if subscriber is None:
            raise SubscriberFailedError(f"The {name!r} subscriber is not configured on this install.")
        return subscriber

    return build
