"""The subscriber protocol and the event it receives, plus the registry of subscriber factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Connection

from expunge.db import utcnow
from expunge.errors import SubscriberFailedError, UnknownSubscriberError
from expunge.evidence import Receipt, StateDigest
from expunge.registry import Registry

__all__ = [
    "BatchSubscriber",
    "Event",
    "LazySubscribers",
    "Subscriber",
    "SubscriberFactory",
    "available_subscribers",
    "get_subscriber_factory",
    "receipt_digest",
    "receipt_for",
    "register_subscriber",
]


@dataclass(frozen=True)
class Event:
    """One delivery: an action on one asset for one subscriber. Carries IDs and pseudonyms only.

    Attributes:
        id: The event ID; a subscriber applying it twice must have the effect once.
        tenant: The tenant that owns the asset.
        case_id: The request this action belongs to, if any.
        subscriber: The registry name of the subscriber it is for.
        operation: ``erase``, ``restrict``, ``opt_out``, ``correct`` or ``redact``.
        asset_id: The catalog ID of the record or artifact (or the case ID for a sweep).
        asset_kind: ``record``, an artifact kind, or ``sweep`` (act on everything matching).
        uri: Where the asset lives (``catalog://…``, ``logstore://…``, ``lancedb://…``).
        content_sha256: Content hashes of the subject's records, for stores that match by content.
        pseudonyms: Subject pseudonyms, for stores that match by subject.
        params: Operation details (e.g. the new content hash of a correction).
        attempt: 1 for the first delivery, then 2, 3… on retries.
        created_at: When the event was published.
    """

    id: str
    tenant: str
    case_id: str | None
    subscriber: str
    operation: str
    asset_id: str
    asset_kind: str
    uri: str
    content_sha256: tuple[str, ...] = ()
    pseudonyms: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 1
    created_at: datetime | None = None

    def payload(self) -> dict[str, Any]:
        """Return the JSON payload stored in the outbox (everything but the routing columns)."""
        return {
            "operation": self.operation,
            "asset_id": self.asset_id,
            "asset_kind": self.asset_kind,
            "uri": self.uri,
            "content_sha256": list(self.content_sha256),
            "pseudonyms": list(self.pseudonyms),
            "params": dict(self.params),
        }


@runtime_checkable
class Subscriber(Protocol):
    """Something that holds personal data and can act on an :class:`Event`.

    ``handle`` applies the event and returns a :class:`~expunge.evidence.Receipt` for it. It must be
    idempotent on ``event.id``: a second delivery (after a crash, or a retry) leaves the store as the
    first did and returns an ``already_applied`` or equivalent receipt. A store that lives in the bus
    database writes through ``tx`` so its effect commits with the delivery mark; any other store ignores
    ``tx``. Raise :class:`~expunge.errors.SubscriberFailedError` (or any error) to have the event
    retried with backoff and, after the last attempt, dead-lettered.
    """

    name: str

    def handle(self, event: Event, *, tx: Connection) -> Receipt:
        """Apply ``event`` and return its receipt."""
        ...


@runtime_checkable
class BatchSubscriber(Subscriber, Protocol):
    """A subscriber that can also apply many events in one go (the dispatcher's fast path).

    ``handle_many`` must return one receipt per event, in order, with exactly the effect ``handle``
    would have had on each. If it raises, the dispatcher rolls its work back and delivers the events
    one by one through ``handle`` instead, so a single bad event fails alone.
    """

    def handle_many(self, events: Sequence[Event], *, tx: Connection) -> list[Receipt]:
        """Apply ``events`` and return their receipts, in order."""
        ...


SubscriberFactory = Callable[..., Subscriber]
SUBSCRIBERS: Registry[SubscriberFactory] = Registry("subscriber", unknown=UnknownSubscriberError)


def register_subscriber(name: str) -> Callable[[SubscriberFactory], SubscriberFactory]:
    """Register a subscriber factory under ``name`` (the URI scheme of the assets it holds).

    Raises:
        DuplicateNameError: The name is already registered.
    """
    return SUBSCRIBERS.register(name)


def get_subscriber_factory(name: str) -> SubscriberFactory:
    """Return the factory registered under ``name``.

    Raises:
        UnknownSubscriberError: Nothing is registered under that name.
    """
    return SUBSCRIBERS.get(name)


def available_subscribers() -> list[str]:
    """Return the registered subscriber names, sorted."""
    return SUBSCRIBERS.names()


class LazySubscribers(Mapping[str, Subscriber]):
    """Subscribers by name, each built by its factory when the first event for it arrives.

    A worker started before anything exists for a subscriber to act on (no RAG store yet, say) still
    serves its events later, without a restart. A factory that fails raises
    :class:`~expunge.errors.SubscriberFailedError`, so the event is retried and, in the end,
    dead-lettered with the reason.

    Args:
        built: Subscribers that exist already.
        factories: ``name → callable()`` for those built on demand.
    """

    def __init__(
        self,
        built: Mapping[str, Subscriber] | None = None,
        factories: Mapping[str, Callable[[], Subscriber]] | None = None,
    ) -> None:
        self._built = dict(built or {})
        self._factories = {k: v for k, v in (factories or {}).items() if k not in self._built}

    def __getitem__(self, name: str) -> Subscriber:
        if name in self._built:
            return self._built[name]
        factory = self._factories.get(name)
        if factory is None:
            raise KeyError(name)
        try:
            subscriber = factory()
        except Exception as err:  # whatever a backend raises on opening is reported and retried
            raise SubscriberFailedError(f"The {name!r} subscriber could not be started: {err}") from err
        self._built[name] = subscriber
        return subscriber

    def __setitem__(self, name: str, subscriber: Subscriber) -> None:
        self._built[name] = subscriber

    def add_factory(self, name: str, factory: Callable[[], Subscriber]) -> None:
        """Build ``name`` with ``factory`` when its first event arrives (unless one is built already)."""
        if name not in self._built:
            self._factories[name] = factory

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._built.keys() | self._factories.keys()))

    def __len__(self) -> int:
        return len(self._built.keys() | self._factories.keys())

    def __contains__(self, name: object) -> bool:
        return name in self._built or name in self._factories


def receipt_digest(pseudonymizer: Any) -> StateDigest:
    """Return the install's keyed digest of asset states for receipts (a key derived from its secret).

    Args:
        pseudonymizer: The install's :class:`~expunge.catalog.Pseudonymizer` (its secret is the root key).
    """
    return StateDigest(pseudonymizer.derive("receipt-state-digest"))


def receipt_for(
    event: Event,
    *,
    subscriber: str,
    outcome: str,
    started_at: datetime,
    finished_at: datetime | None = None,
    **fields: Any,
) -> Receipt:
    """Return the receipt of a subscriber's action on ``event``'s asset.

    The event's identity (ID, case, tenant, asset, kind, operation) is copied; ``finished_at`` defaults to now;
    ``fields`` add the digests, artifact IDs and detail (and may override the operation).
    """
    identity: dict[str, Any] = {
        "event_id": event.id,
        "case_id": event.case_id,
        "tenant": event.tenant,
        "asset_id": event.asset_id,
        "asset_kind": event.asset_kind,
        "operation": event.operation,
    }
    return Receipt(
        **(identity | fields),
        subscriber=subscriber,
        outcome=outcome,
        started_at=started_at,
        finished_at=finished_at or utcnow(),
    )
