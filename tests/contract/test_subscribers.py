"""Contract suite every registered subscriber must pass: it acts, reports truthfully, and is idempotent."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from webhook_vendor import Vendor

from expunge.bus import (
    BatchSubscriber,
    CatalogSubscriber,
    Event,
    LogStore,
    LogStoreSubscriber,
    MemoryStore,
    MemorySubscriber,
    WebhookSubscriber,
    available_subscribers,
    get_subscriber_factory,
)
from expunge.catalog import Catalog, Identifier, Pseudonymizer, new_id
from expunge.evidence import Signer
from expunge.rag import ChunkRow, MemoryCache, MiniLMEmbedder, RagIndex, RagSubscriber, chunk_uri
from expunge.rag.stores import open_store


def catalog_world(db):
    catalog = Catalog(Pseudonymizer(b"k" * 32))
    with db.begin() as conn:
        rec = catalog.records.register(
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
        return catalog.records.get(conn, "acme", rec.id).status, len(catalog.records.versions(conn, "acme", rec.id))

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
        new_id("evt"),
        "acme",
        "dsr_1",
        "logstore",
        "erase",
        "dsr_1",
        "sweep",
        "logstore://sweep/dsr_1",
        content_sha256=("b" * 64,),
        pseudonyms=(pseudonym,),
    )

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


def rag_world(db):
    rows = [
        ChunkRow(f"chk_{i}", "doc_1", "acme", "public", 1, True, "active", "m", f"{i}" * 64, f"text {i}", v)
        for i, v in enumerate(np.eye(4, dtype=np.float32)[:2])
    ]
    index = RagIndex(open_store("memory://contract"), MiniLMEmbedder(), cache=MemoryCache())
    index.store.upsert(rows)
    uri = chunk_uri("default", "vector_row", "chk_0")
    catalog = Catalog(Pseudonymizer(b"k" * 32))
    with db.begin() as conn:  # the catalog knows the row was written (active): a redelivery is "done before"
        rec = catalog.records.register(
            conn, "acme", source="doc_1", content_sha256="0" * 64, purpose="retrieval", legal_basis="consent"
        )
        art = catalog.register_artifact(conn, "acme", kind="vector_row", uri=uri, derived_from=[rec.id])
    event = Event(new_id("evt"), "acme", "dsr_1", "rag", "erase", art.id, "vector_row", uri)
    return RagSubscriber(index), event, lambda conn: index.store.ids()


WORLDS = {
    "catalog": catalog_world,
    "logstore": logstore_world,
    "memory": memory_world,
    "rag": rag_world,
    "webhook": webhook_world,
}


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
        event.id,
        event.asset_id,
        event.operation,
        event.tenant,
        name,
    )
    assert first.outcome in ("applied", "attested") and first.finished_at >= first.started_at
    with backend_db.begin() as conn:
        second = subscriber.handle(event, tx=conn)
        assert snapshot(conn) == after
    # A sweep matches by subject: once its entries are gone, a second sweep finds nothing and says so. (A store in
    # the bus database commits its effect with the receipt, so the bus itself never delivers a done event again.)
    again = ("already_applied", first.outcome, *(("not_found",) if event.asset_kind == "sweep" else ()))
    assert second.outcome in again
    assert second.event_id == event.id


def test_a_sweep_that_matches_nothing_says_not_found_not_already_applied(backend_db):
    subscriber, event, _ = logstore_world(backend_db)
    nobody = Event(
        new_id("evt"),
        "acme",
        "dsr_2",
        "logstore",
        "erase",
        "dsr_2",
        "sweep",
        "logstore://sweep/dsr_2",
        pseudonyms=("f" * 64,),
    )
    with backend_db.begin() as conn:
        receipt = subscriber.handle(nobody, tx=conn)
    assert receipt.outcome == "not_found" and receipt.artifact_ids == ()  # before: already_applied


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


@pytest.mark.parametrize("name", sorted(n for n in WORLDS if hasattr(get_subscriber_factory(n), "handle_many")))
def test_batch_delivery_has_the_effect_of_one_by_one_delivery(backend_db, name):
    """A BatchSubscriber's handle_many must leave the store as handle would, with matching receipts."""
    subscriber, event, snapshot = WORLDS[name](backend_db)
    assert isinstance(subscriber, BatchSubscriber)
    twin = Event(**{**event.__dict__, "id": new_id("evt")})  # the same action published twice
    with backend_db.begin() as conn:
        before = snapshot(conn)
        receipts = subscriber.handle_many([event, twin], tx=conn)
        after = snapshot(conn)
    assert after != before
    assert [r.event_id for r in receipts] == [event.id, twin.id]
    assert receipts[0].outcome == "applied" and receipts[1].outcome in ("already_applied", "not_found")
    with backend_db.begin() as conn:
        assert subscriber.handle(event, tx=conn).event_id == event.id
        assert snapshot(conn) == after


@pytest.mark.parametrize("mode", ["delete", "redact"])
def test_the_log_store_batches_entry_events_exactly(backend_db, mode):
    store = LogStore()
    with backend_db.begin() as conn:
        ids = [store.add(conn, "acme", prompt=f"p{i}", response="r", pseudonym="a" * 64) for i in range(3)]
    events = [
        Event(new_id("evt"), "acme", "dsr_1", "logstore", "erase", f"art_{i}", "log_entry", f"logstore://entries/{i}")
        for i in (ids[0], ids[1], ids[0])
    ]
    with backend_db.begin() as conn:
        receipts = LogStoreSubscriber(store, mode=mode).handle_many(events, tx=conn)
        rows = {r["id"]: r for r in store.all(conn, "acme")}
    assert [r.outcome for r in receipts] == ["applied", "applied", "already_applied"]
    assert [r.artifact_ids for r in receipts] == [(ids[0],), (ids[1],), ()]
    if mode == "delete":
        assert set(rows) == {ids[2]}
    else:
        assert [rows[i]["prompt"] for i in ids] == ["[redacted]", "[redacted]", "p2"]
        assert rows[ids[0]]["pseudonym"] is None and rows[ids[2]]["pseudonym"] == "a" * 64
