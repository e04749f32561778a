"""Governance on PostgreSQL: many requests, two workers claiming with SKIP LOCKED, every receipt once."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import text

from expunge.bus import MemoryStore, MemorySubscriber
from expunge.catalog import Identifier
from expunge.errors import DuplicateRequestError
from expunge.evidence import dump_case_file, verify_case_file, verify_entries
from expunge.requests import build_case_file, open_governance

pytestmark = pytest.mark.postgres


def test_two_workers_complete_every_request_applying_each_action_once(pg_schema, tmp_path):
    url, schema = pg_schema
    store = MemoryStore()
    gov = open_governance(
        url, schema=schema, keys_dir=tmp_path / "keys", subscribers={"memory": MemorySubscriber(store)}
    )
    n_subjects, n_records = 12, 4
    with gov.db.begin() as conn:
        for s in range(n_subjects):
            for r in range(n_records):
                rec = gov.catalog.records.register(
                    conn,
                    "acme",
                    source="crm",
                    content_sha256=hashlib.sha256(f"{s}-{r}".encode()).hexdigest(),
                    purpose="support",
                    legal_basis="contract",
                    subjects=[Identifier("user_id", f"user-{s}")],
                )
                art = gov.catalog.register_artifact(
                    conn, "acme", kind="embedding", uri=f"memory://{s}/{r}", derived_from=[rec.id]
                )
                store.put(art.id, b"v")
                gov.logstore.add(
                    conn, "acme", prompt=f"user {s} said", response="ok", content_sha256=rec.content_sha256
                )
    case_ids = []
    for s in range(n_subjects):
        filed = gov.file_request(
            "acme", scope="erasure", filed_by="it", identifiers=[Identifier("user_id", f"user-{s}")]
        )
        case_ids.append(gov.approve("acme", filed.case.id, operator="it").id)
    stop = threading.Event()
    handled = []
    workers = [
        threading.Thread(
            target=lambda i=i: handled.append(gov.bus.work(stop, idle_seconds=0.01, limit=8, worker_id=f"w{i}"))
        )
        for i in range(2)
    ]
    for w in workers:
        w.start()
    for _ in range(1000):
        if all(gov.get_case("acme", c).state == "completed" for c in case_ids):
            break
        stop.wait(0.02)
    stop.set()
    for w in workers:
        w.join(timeout=30)
    assert [gov.get_case("acme", c).state for c in case_ids] == ["completed"] * n_subjects
    expected_events = n_subjects * (2 * n_records + 1)
    assert sum(handled) == expected_events
    with gov.db.read() as conn:
        entries = gov.audit.entries(conn)
        assert gov.logstore.all(conn, "acme") == []
    keys = {gov.audit.signer.key_id: gov.audit.signer.public_key}
    assert verify_entries([e.to_dict() for e in entries], keys, chain="global") == len(entries)
    receipts = Counter(
        json.loads(e.text)["body"]["event_id"] for e in entries if json.loads(e.text)["kind"] == "receipt"
    )
    assert len(receipts) == expected_events and set(receipts.values()) == {1}
    assert store.items == {}
    summary = verify_case_file(dump_case_file(build_case_file(gov, "acme", case_ids[0], signer=gov.audit.signer)), keys)
    assert summary["receipts"] == 2 * n_records + 1
    gov.db.dispose()


def test_concurrent_duplicate_filings_store_one_request(pg_schema, tmp_path):
    url, schema = pg_schema
    gov = open_governance(url, schema=schema, keys_dir=tmp_path / "keys")
    barrier = threading.Barrier(4)
    outcomes = []

    def file() -> None:
        barrier.wait()
        try:
            outcomes.append(gov.file_request("acme", scope="erasure", filed_by="it", entity_tags=["crm:same"]).case.id)
        except DuplicateRequestError as err:
            outcomes.append(("duplicate", err.existing_id))

    threads = [threading.Thread(target=file) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    stored = [o for o in outcomes if isinstance(o, str)]
    assert len(stored) == 1 and gov.list_cases("acme").total == 1
    assert all(o == ("duplicate", stored[0]) for o in outcomes if not isinstance(o, str))
    gov.db.dispose()


def test_statistics_are_refreshed_once_a_table_outgrows_them(pg_schema, tmp_path):
    url, schema = pg_schema
    gov = open_governance(url, schema=schema, keys_dir=tmp_path / "keys")
    with gov.db.begin() as conn:
        conn.execute(text("ANALYZE bus_outbox"))  # measured empty, as after a fresh install
        for i in range(1200):
            gov.logstore.add(conn, "acme", prompt=f"p{i}", response="r")
    tables = ["bus_outbox", "logstore_entries"]
    # The activity counters reach pg_stat_user_tables within a second or so of the commit.
    deadline = time.monotonic() + 10
    analyzed: list[str] = []
    while not analyzed and time.monotonic() < deadline:
        analyzed = gov.db.refresh_statistics(tables)
        time.sleep(0.2)
    assert analyzed == ["logstore_entries"]
    with gov.db.read() as conn:
        rows = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'logstore_entries'::regclass")).scalar()
    assert rows >= 1200
    assert gov.db.refresh_statistics(tables) == []  # nothing changed since
    gov.db.dispose()
