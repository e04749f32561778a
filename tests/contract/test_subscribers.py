"""Contract suite every registered subscriber must pass: it acts, reports truthfully, and is idempotent."""

from __future__ import annotations

import hashlib

import pytest
from webhook_vendor import Vendor

from expunge.bus import (
    CatalogSubscriber,
    Event,
    LogStore,
    LogStoreSubscriber,
    MemoryStore,
    MemorySubscriber,
    WebhookSubscriber,
    available_subscribers,
)
from expunge.catalog import Catalog, Identifier, Pseudonymizer, new_id
from expunge.evidence import Signer


def catalog_world(db):
    catalog = Catalog(Pseudonymizer(b"k" * 32))
    with db.begin() as conn:
        rec = catalog.register_record(
            conn,
            "acme",
            source="crm",
            content_sha256=hashlib.sha256(b"doc").hexdigest(),
            purpose="support",
            legal_basis="contract",
            subjects=[Identifier("email", "ann@example.org")],
        )
    event = Event(new_id("evt"), "acme", "dsr_1", "catalog", "erase", rec.id, "record", f"catalog://records/{rec.id}")

    def snapshot(conn):
        return catalog.get_record(conn, "acme", rec.id).status, len(catalog.versions(conn, "acme", rec.id))

    return CatalogSubscriber(catalog), event, snapshot


def logstore_world(db):
    store = LogStore()
    pseudonym = "a" * 64
    with db.begin() as conn:
        store.add(conn, "acme", prompt="I am Ann", response="hi", pseudonym=pseudonym)
        store.add(conn, "acme", prompt="about doc", response="ok", content_sha256="b" * 64)
        store.add(conn, "acme", prompt="someone else", response="ok", pseudonym="c" * 64)
        store.add(conn, "globex", prompt="I am Ann", response="hi", pseudonym=pseudonym)
    event = Event(
        new_id("evt"), "acme", "dsr_1", "logstore", "erase", "dsr_1", "sweep", "logstore://sweep/dsr_1",
        content_sha256=("b" * 64,), pseudonyms=(pseudonym,),
    )  # fmt: skip

    def snapshot(conn):
        return [(r["tenant"], r["prompt"]) for r in store.all(conn, "acme") + store.all(conn, "globex")]

    return LogStoreSubscriber(store), event, snapshot


def webhook_world(db):
    signer = Signer.generate()
    vendor = Vendor({signer.key_id: signer.public_key})
    vendor.items.add("webhook://acme-crm/contact-9")
    event = Event(new_id("evt"), "acme", "dsr_1", "webhook", "erase", "art_9", "backup", "webhook://acme-crm/contact-9")
    return WebhookSubscriber({"acme-crm": vendor.url}, signer=signer), event, lambda conn: sorted(vendor.items)


def memory_world(db):
    store = MemoryStore()
    store.put("art_1", b"vector")
    store.put("art_2", b"other")
    event = Event(new_id("evt"), "acme", "dsr_1", "memory", "erase", "art_1", "chunk", "memory://art_1")
    return MemorySubscriber(store), event, lambda conn: sorted(store.items)


WORLDS = {"catalog": catalog_world, "logstore": logstore_world, "memory": memory_world, "webhook": webhook_world}


def test_every_registered_subscriber_has_a_contract_world():
    assert set(WORLDS) == set(available_subscribers())


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_subscriber_acts_reports_and_is_idempotent_on_the_event_id(backend_db, name):
    subscriber, event, snapshot = WORLDS[name](backend_db)
    assert subscriber.name == name
    with backend_db.begin() as conn:
        before = snapshot(conn)
        first = subscriber.handle(event, tx=conn)
        after = snapshot(conn)
    assert after != before
    assert (first.event_id, first.asset_id, first.operation, first.tenant, first.subscriber) == (
        event.id, event.asset_id, event.operation, event.tenant, name,
    )  # fmt: skip
    assert first.outcome in ("applied", "attested") and first.finished_at >= first.started_at
    with backend_db.begin() as conn:
        second = subscriber.handle(event, tx=conn)
        assert snapshot(conn) == after
    assert second.outcome in ("already_applied", first.outcome)
    assert second.event_id == event.id


def test_the_log_store_touches_only_matching_rows_of_its_tenant(backend_db):
    subscriber, event, snapshot = logstore_world(backend_db)
    with backend_db.begin() as conn:
        receipt = subscriber.handle(event, tx=conn)
        rows = snapshot(conn)
    assert len(receipt.artifact_ids) == 2
    assert rows == [("acme", "someone else"), ("globex", "I am Ann")]


def test_the_log_store_can_redact_instead_of_delete(backend_db):
    _, event, snapshot = logstore_world(backend_db)
    with backend_db.begin() as conn:
        LogStoreSubscriber(mode="redact").handle(event, tx=conn)
        rows = snapshot(conn)
    assert rows.count(("acme", "[redacted]")) == 2 and len(rows) == 4
