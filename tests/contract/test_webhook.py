"""The signed outgoing webhook: vendors verify it with the public key; the bus waits for attestation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from webhook_vendor import Vendor

from expunge.bus import Dispatcher, Event, Outbox, RetryPolicy, WebhookSubscriber
from expunge.catalog import new_id
from expunge.db import utcnow
from expunge.errors import BusError
from expunge.evidence import AuditLog, Signer

SIGNER = Signer.generate()


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now


def run(db, vendor, *, endpoints=None, signer=SIGNER, max_attempts=5):
    clock = Clock()
    sub = WebhookSubscriber(endpoints or {"crm": vendor.url}, signer=signer, timeout=5)
    dispatcher = Dispatcher(
        db,
        {"webhook": sub},
        audit=AuditLog(SIGNER),
        clock=clock,
        retry=RetryPolicy(max_attempts=max_attempts, base_seconds=1, max_seconds=2),
    )
    event = Event(new_id("evt"), "acme", "dsr_1", "webhook", "erase", "art_1", "backup", "webhook://crm/42")
    with db.begin() as conn:
        Outbox(clock=clock).publish(conn, [event])
    results = []
    for _ in range(max_attempts):
        results.append(dispatcher.run_once())
        clock.now += timedelta(seconds=3)
    return event, results


def test_the_bus_waits_for_the_vendor_attestation(backend_db):
    vendor = Vendor({SIGNER.key_id: SIGNER.public_key}, pending=2)
    vendor.items.add("webhook://crm/42")
    try:
        event, results = run(backend_db, vendor)
    finally:
        vendor.close()
    assert [r.retried for r in results[:2]] == [1, 1] and results[2].delivered == 1
    receipt = results[2].receipts[0]
    assert receipt.outcome == "attested" and "crm attested deleted" in receipt.detail
    assert vendor.items == set() and vendor.calls == [event.id] * 3 and vendor.bad_signatures == 0


def test_a_vendor_rejecting_the_signature_ends_in_dead_letters(backend_db):
    vendor = Vendor({SIGNER.key_id: SIGNER.public_key})
    try:
        _, results = run(backend_db, vendor, signer=Signer.generate(), max_attempts=2)
    finally:
        vendor.close()
    assert vendor.bad_signatures == 2 and sum(r.dead for r in results) == 1


def test_an_unknown_processor_or_bad_url_is_refused():
    with pytest.raises(BusError, match="http"):
        WebhookSubscriber({"crm": "ftp://x"}, signer=SIGNER)
