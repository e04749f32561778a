"""Bus building blocks: retry policy, routing, the event payload and the subscriber registry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from expunge.bus import (
    Event,
    MemorySubscriber,
    RetryPolicy,
    Subscriber,
    available_subscribers,
    get_subscriber_factory,
    register_subscriber,
    route,
)
from expunge.bus._outbox import event_from_row
from expunge.errors import BusError, DuplicateNameError, UnknownSubscriberError


def test_backoff_doubles_from_the_base_and_stops_at_the_cap():
    policy = RetryPolicy(max_attempts=10, base_seconds=2, max_seconds=30)
    assert [policy.delay(n) for n in range(1, 7)] == [timedelta(seconds=s) for s in (2, 4, 8, 16, 30, 30)]


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [({"max_attempts": 0}, "max_attempts"), ({"base_seconds": 10, "max_seconds": 1}, "base_seconds <= max_seconds")],
)
def test_bad_retry_policies_are_refused(kw, fragment):
    with pytest.raises(BusError, match=fragment):
        RetryPolicy(**kw)


def test_records_go_to_the_catalog_and_artifacts_to_their_uri_scheme():
    assert route("record", "catalog://records/rec_1") == "catalog"
    assert route("vector_row", "lancedb://index/rows/7") == "lancedb"
    assert route("log_entry", "logstore://entries/log_1") == "logstore"


def test_an_event_survives_the_outbox_round_trip():
    event = Event(
        "evt_1",
        "acme",
        "dsr_1",
        "memory",
        "erase",
        "art_1",
        "chunk",
        "memory://1",
        content_sha256=("a" * 64,),
        pseudonyms=("b" * 64,),
        params={"hold_ids": ["hld_1"]},
    )

    class Row:
        id, tenant, case_id, subscriber, attempts, created_at = "evt_1", "acme", "dsr_1", "memory", 2, None
        payload = event.payload()

    back = event_from_row(Row)
    assert back == Event(**{**event.__dict__, "attempt": 3})
    assert set(event.payload()) == {
        "operation",
        "asset_id",
        "asset_kind",
        "uri",
        "content_sha256",
        "pseudonyms",
        "params",
    }


def test_the_registry_refuses_duplicates_and_lists_names_for_unknown_ones():
    assert {"catalog", "logstore", "memory", "webhook"} <= set(available_subscribers())
    assert get_subscriber_factory("memory") is MemorySubscriber
    with pytest.raises(DuplicateNameError, match="already registered"):
        register_subscriber("memory")(MemorySubscriber)
    with pytest.raises(UnknownSubscriberError, match="Available: .*catalog.*memory") as info:
        get_subscriber_factory("nowhere")
    assert info.value.code == "bus.unknown_subscriber"
    assert isinstance(MemorySubscriber(), Subscriber)


def test_an_install_s_subscribers_are_built_from_the_registry(tmp_path):
    import expunge.rag  # noqa: F401 - the RAG subscriber registers when its area is imported
    from expunge.bus import LogStore, LogStoreSubscriber, SubscriberParts, WebhookSubscriber, build_subscribers
    from expunge.catalog import Catalog, Pseudonymizer
    from expunge.config import Settings
    from expunge.evidence import Signer, StateDigest

    parts = SubscriberParts(catalog=Catalog(Pseudonymizer(b"k" * 32)), logstore=LogStore(), digest=StateDigest())
    plain = build_subscribers(parts)
    # Built now: the catalog and the log store; never the test double; no webhook without an endpoint and no
    # RAG index without settings naming one.
    assert sorted(plain) == ["catalog", "logstore"]
    assert isinstance(plain["logstore"], LogStoreSubscriber) and plain["logstore"].store is parts.logstore

    full = SubscriberParts(
        catalog=parts.catalog,
        logstore=parts.logstore,
        digest=parts.digest,
        signer=Signer.generate(),
        webhook_endpoints={"crm": "https://crm.example/erase"},
        settings=Settings(home=tmp_path, rag_store=f"memory://{tmp_path.name}"),
    )
    memory = MemorySubscriber()
    every = build_subscribers(full, given={"memory": memory}, factories={"extra": MemorySubscriber}, skip=("catalog",))
    assert sorted(every) == ["extra", "logstore", "memory", "rag", "webhook"]
    assert every["memory"] is memory and isinstance(every["webhook"], WebhookSubscriber)
    assert every["rag"].name == "rag"  # opened on demand from the settings
