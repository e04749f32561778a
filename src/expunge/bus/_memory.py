"""An in-memory asset store and its subscriber: the bus's mock backend for tests and demos."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from expunge.bus.protocol import Event, receipt_for, register_subscriber
from expunge.db import utcnow
from expunge.errors import SubscriberFailedError
from expunge.evidence import Receipt, sha256_hex

if TYPE_CHECKING:
    from expunge.bus._build import SubscriberParts

__all__ = ["MemoryStore", "MemorySubscriber"]


class MemoryStore:
    """A dict of asset ID → bytes that counts every effect, so tests can prove "applied exactly once".

    ``effects`` maps ``(operation, asset ID)`` to how many times that operation changed the store.
    """

    def __init__(self) -> None:
        self.items: dict[str, bytes] = {}
        self.restricted: set[str] = set()
        self.effects: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def put(self, asset_id: str, data: bytes) -> None:
        """Store ``data`` under ``asset_id``."""
        with self._lock:
            self.items[asset_id] = data


@register_subscriber("memory")
class MemorySubscriber:
    """Erase or restrict assets of a :class:`MemoryStore`, idempotent on the event ID.

    Args:
        store: The store to act on.
        name: The registry name events are routed by (the URI scheme of its assets).
        fail_times: Fail this many deliveries before succeeding (to exercise retries).
    """

    @classmethod
    def from_parts(cls, parts: SubscriberParts) -> None:
        """Return ``None``: a test double is given explicitly, never built for an install."""
        return None

    def __init__(self, store: MemoryStore | None = None, *, name: str = "memory", fail_times: int = 0) -> None:
        self.store = store or MemoryStore()
        self.name = name
        self.fail_times = fail_times
        self.seen: dict[str, Receipt] = {}

    def handle_many(self, events: Sequence[Event], *, tx: Connection) -> list[Receipt]:
        """Apply each event once, in order."""
        return [self.handle(e, tx=tx) for e in events]

    def handle(self, event: Event, *, tx: Connection) -> Receipt:
        """Apply ``event`` once; a repeated event ID returns the first receipt unchanged."""
        if event.id in self.seen:
            return self.seen[event.id]
        if self.fail_times > 0:
            self.fail_times -= 1
            raise SubscriberFailedError(f"{self.name} is unavailable (injected failure) for event {event.id}.")
        started = utcnow()
        with self.store._lock:
            data = self.store.items.get(event.asset_id)
            before = sha256_hex(data) if data is not None else None
            if event.operation == "erase":
                outcome = "applied" if self.store.items.pop(event.asset_id, None) is not None else "not_found"
            elif event.operation == "restrict":
                outcome = "applied" if event.asset_id not in self.store.restricted else "already_applied"
                self.store.restricted.add(event.asset_id)
            else:
                raise SubscriberFailedError(
                    f"{self.name} cannot apply operation {event.operation!r}. Accepted: erase, restrict."
                )
            if outcome == "applied":
                key = (event.operation, event.asset_id)
                self.store.effects[key] = self.store.effects.get(key, 0) + 1
            after = self.store.items.get(event.asset_id)
        receipt = receipt_for(
            event,
            subscriber=self.name,
            outcome=outcome,
            started_at=started,
            before_sha256=before,
            after_sha256=sha256_hex(after) if after is not None else None,
        )
        self.seen[event.id] = receipt
        return receipt
