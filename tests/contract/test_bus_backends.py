"""Contract suite for the bus on every storage backend: outbox, delivery, retries, dead letters, claiming."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from expunge.bus import Dispatcher, Event, MemoryStore, MemorySubscriber, Outbox, RetryPolicy
from expunge.bus import _tables as bt
from expunge.catalog import new_id
from expunge.db import utcnow
from expunge.errors import AlreadyProcessedError, UnknownEventError
from expunge.evidence import AuditLog, Signer, verify_entries

SIGNER = Signer.generate()


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now


def events(n, *, subscriber="memory", case_id="dsr_1"):
    return [
        Event(
            id=new_id("evt"),
            tenant="acme",
            case_id=case_id,
            subscriber=subscriber,
            operation="erase",
            asset_id=f"art_{i:032x}",
            asset_kind="chunk",
            uri=f"memory://{i}",
            pseudonyms=("f" * 64,),
        )
        for i in range(n)
    ]


def world(db, *, fail_times=0, max_attempts=3, clock=None):
    clock = clock or Clock()
    store = MemoryStore()
    sub = MemorySubscriber(store, fail_times=fail_times)
    audit = AuditLog(SIGNER)
    retry = RetryPolicy(max_attempts=max_attempts, base_seconds=10, max_seconds=25)
    dispatcher = Dispatcher(db, {"memory": sub}, audit=audit, retry=retry, clock=clock)
    return Outbox(clock=clock), dispatcher, store, clock, audit


def publish(db, outbox, evs):
    with db.begin() as conn:
        outbox.publish(conn, evs)


def test_every_event_is_delivered_once_with_a_chained_receipt(backend_db):
    outbox, dispatcher, store, _, audit = world(backend_db)
    evs = events(5)
    for e in evs:
        store.put(e.asset_id, b"x")
    publish(backend_db, outbox, evs)
    stats = dispatcher.drain(limit=2)
    assert stats.delivered == 5 and stats.retried == stats.dead == 0
    assert store.items == {} and set(store.effects.values()) == {1}
    with backend_db.begin() as conn:
        assert outbox.case_progress(conn, "dsr_1") == {"pending": 0, "done": 5, "dead": 0}
        entries = [e.to_dict() for e in audit.entries(conn)]
    assert verify_entries(entries, {SIGNER.key_id: SIGNER.public_key}, chain="global") == 5
    assert dispatcher.run_once().handled == 0


def test_events_roll_back_with_the_transaction_that_published_them(backend_db):
    outbox, dispatcher, *_ = world(backend_db)
    with pytest.raises(RuntimeError), backend_db.begin() as conn:
        outbox.publish(conn, events(3))
        raise RuntimeError("the case update failed")
    with backend_db.begin() as conn:
        assert outbox.pending_count(conn) == 0


def test_failures_retry_with_exponential_backoff(backend_db):
    outbox, dispatcher, store, clock, _ = world(backend_db, fail_times=2, max_attempts=5)
    publish(backend_db, outbox, events(1))
    assert dispatcher.run_once().retried == 1
    with backend_db.begin() as conn:
        row = conn.execute(select(bt.outbox)).one()
    assert row.attempts == 1 and "injected failure" in row.last_error
    assert abs((row.next_attempt_at.replace(tzinfo=None) - clock.now.replace(tzinfo=None)).total_seconds() - 10) < 1
    clock.now += timedelta(seconds=9)
    assert dispatcher.run_once().handled == 0  # not due yet
    clock.now += timedelta(seconds=2)
    assert dispatcher.run_once().retried == 1
    clock.now += timedelta(seconds=19)
    assert dispatcher.run_once().handled == 0  # second delay doubled to 20 s
    clock.now += timedelta(seconds=2)
    assert dispatcher.run_once().delivered == 1
    assert sum(store.effects.values()) == 0  # erasing an absent item is reported, not counted


def test_exhausted_events_wait_in_dead_letters_until_replayed_once(backend_db):
    outbox, dispatcher, store, clock, _ = world(backend_db, fail_times=2, max_attempts=2)
    publish(backend_db, outbox, events(1))
    dispatcher.run_once()
    clock.now += timedelta(seconds=60)
    assert dispatcher.run_once().dead == 1
    clock.now += timedelta(days=365)
    assert dispatcher.run_once().handled == 0  # kept, never retried on its own
    with backend_db.begin() as conn:
        (letter,) = outbox.dead_letters(conn, "acme")
        assert outbox.dead_letters(conn, "globex") == []
    assert letter.attempts == 2 and "injected failure" in letter.error
    with backend_db.begin() as conn:
        with pytest.raises(UnknownEventError):
            outbox.replay(conn, letter.id, tenant="globex", by="op")
        outbox.replay(conn, letter.id, tenant="acme", by="op")
    assert dispatcher.run_once().delivered == 1
    with backend_db.begin() as conn, pytest.raises(AlreadyProcessedError, match="already replayed"):
        outbox.replay(conn, letter.id, tenant="acme", by="op")
    with backend_db.begin() as conn:
        assert outbox.dead_letters(conn) == []
        assert len(outbox.dead_letters(conn, include_replayed=True)) == 1


def test_an_event_for_a_missing_subscriber_is_dead_lettered_naming_it(backend_db):
    outbox, dispatcher, *_ = world(backend_db, max_attempts=1)
    publish(backend_db, outbox, events(1, subscriber="lancedb"))
    assert dispatcher.run_once().dead == 1
    with backend_db.begin() as conn:
        (letter,) = outbox.dead_letters(conn)
    assert "Unknown subscriber 'lancedb'" in letter.error and "memory" in letter.error


def test_a_failure_after_the_subscriber_ran_rolls_back_that_delivery_only(backend_db):
    clock = Clock()
    store = MemoryStore()
    outbox = Outbox(clock=clock)
    evs = events(3)

    def hook(conn, delivered, receipts):
        if any(e.id == evs[0].id for e in delivered):
            raise RuntimeError("crash between effect and mark")

    dispatcher = Dispatcher(
        backend_db, {"memory": MemorySubscriber(store)}, audit=AuditLog(SIGNER), on_applied=hook, clock=clock
    )
    publish(backend_db, outbox, evs)
    stats = dispatcher.run_once()  # the batch fails as a whole, then each event is delivered alone
    assert stats.delivered == 2 and stats.retried == 1
    with backend_db.begin() as conn:
        rows = {r.id: r for r in conn.execute(select(bt.outbox))}
        entries = AuditLog(SIGNER).entries(conn)
    assert rows[evs[0].id].status == "pending" and rows[evs[0].id].receipt_seq is None
    assert "crash between effect and mark" in rows[evs[0].id].last_error
    assert {rows[e.id].status for e in evs[1:]} == {"done"}
    assert len(entries) == 2  # no receipt of the rolled-back batch survived


def test_concurrent_dispatchers_deliver_each_event_exactly_once(backend_db):
    store = MemoryStore()
    outbox = Outbox()
    evs = events(120)
    for e in evs:
        store.put(e.asset_id, b"x")
    publish(backend_db, outbox, evs)
    audit = AuditLog(SIGNER)
    # Separate subscriber instances: their own idempotency memory cannot hide a double delivery.
    dispatchers = [
        Dispatcher(backend_db, {"memory": MemorySubscriber(store)}, audit=audit, worker_id=f"w{i}") for i in range(2)
    ]
    totals = []
    threads = [threading.Thread(target=lambda d=d: totals.append(d.drain(limit=10).delivered)) for d in dispatchers]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(totals) == 120
    assert store.items == {} and len(store.effects) == 120 and set(store.effects.values()) == {1}
    with backend_db.begin() as conn:
        entries = [e.to_dict() for e in audit.entries(conn)]
    assert verify_entries(entries, {SIGNER.key_id: SIGNER.public_key}, chain="global") == 120
