"""The RAG index over the real embedding model: lineage, versions, hard filters, abstention, forgetting, holds."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from expunge.catalog import Identifier, closure
from expunge.errors import InvalidFilterError, RagError, SubscriberFailedError
from expunge.rag import (
    ABSTAIN,
    ChunkRow,
    Document,
    MemoryCache,
    MiniLMEmbedder,
    Person,
    RagIndex,
    RagSubscriber,
    SqliteCache,
    chunk_uri,
    probe_subject,
)
from expunge.rag.stores import open_store
from expunge.requests import build_case_file, open_governance

ANN = Person(name="Ann Lee", email="ann.lee@example.org")
BOB = Person(name="Bob Stone", email="bob.stone@example.org")
TICKET = (
    "Support ticket 17. Ann Lee (ann.lee@example.org) reports that the invoice portal charged her twice in March. "
    "Agent Bob Stone refunded the second charge and promised a callback."
)
HR = "HR note 4. Carla Diaz asked to move to the Lisbon office next spring; her manager agreed."


@pytest.fixture(scope="session")
def embedder():
    return MiniLMEmbedder()


@pytest.fixture
def gov(tmp_path):
    g = open_governance(f"sqlite:///{tmp_path / 'expunge.db'}", keys_dir=tmp_path / "keys")
    yield g
    g.db.dispose()


@pytest.fixture(params=["memory", "lancedb"])
def index(request, tmp_path, embedder, gov):
    url = "memory://t" if request.param == "memory" else f"lancedb://{tmp_path / 'store'}"
    idx = RagIndex(
        open_store(url), embedder, cache=SqliteCache(tmp_path / "cache.sqlite"), catalog=gov.catalog, db=gov.db
    )
    gov.subscribers["rag"] = RagSubscriber(idx)
    return idx


def erase(gov, person: Person, tenant="default"):
    filed = gov.file_request(tenant, scope="erasure", filed_by="t", identifiers=[Identifier("email", person.email)])
    case = gov.verify_token(filed.token)
    stats = gov.bus.process()
    return gov.get_case(tenant, case.id), stats


def test_ingest_registers_the_lineage_of_every_chunk_and_each_person_apart(index, gov):
    report = index.ingest([Document(TICKET, "t17", acl="support")], people=[ANN, BOB])
    assert report.chunks == 1 and report.embedded == 1
    (chunk_id,) = report.chunk_ids
    with gov.db.begin() as conn:
        ann = gov.catalog.subjects.find(conn, "default", [Identifier("email", ANN.email)])
        bob = gov.catalog.subjects.find(conn, "default", [Identifier("name", BOB.name)])
        assert ann and bob and ann != bob  # two people, not one merged subject
        (record,) = gov.catalog.records.by_subjects(conn, "default", ann)
        assets = closure(conn, "default", [record])
    assert [a.kind for a in assets] == ["record", "chunk", "embedding", "vector_row"]
    assert [a.uri for a in assets[1:]] == [
        chunk_uri("default", k, chunk_id) for k in ("chunk", "embedding", "vector_row")
    ]


def test_answers_quote_permitted_chunks_and_abstain_otherwise(index):
    index.ingest([Document(TICKET, "t17", acl="support"), Document(HR, "hr4", acl="hr")])
    answer = index.answer("Which portal charged Ann Lee twice?", groups=["support"])
    assert not answer.abstained and "charged her twice" in answer.text
    assert answer.sources == tuple(
        index.retrieve("Which portal charged Ann Lee twice?", groups=["support"]).chunk_ids[:1]
    )
    # the HR note is outside the caller's groups, and another tenant sees nothing
    hidden = index.answer("Who asked to move to the Lisbon office?", groups=["support"])
    assert hidden.abstained and hidden.text == ABSTAIN and hidden.sources == ()
    assert index.answer("Who asked to move to the Lisbon office?", groups=["hr"]).sources
    assert index.retrieve("invoice portal charged twice", tenant="globex", groups=["support"]).hits == ()
    with pytest.raises(RagError, match="at least one ACL group"):
        index.retrieve("x", groups=[])


def test_filters_hold_inside_the_search_even_when_forbidden_rows_are_nearest(index, embedder):
    index.ingest([Document(TICKET, "t17", acl="support")])
    # 30 HR rows that are *closer* to the query than the permitted ticket
    query = "Which portal charged Ann Lee twice?"
    q = embedder.encode([query])[0]
    near = [
        ChunkRow(f"chk_hr_{i}", "doc_hr", "default", "hr", 1, True, "active", embedder.model_id, "0" * 64, f"hr {i}", q)
        for i in range(30)
    ]
    index.store.upsert(near)
    hits = index.retrieve(query, groups=["support"], k=3).hits
    assert [h.row.acl for h in hits] == ["support"]  # a post-filter on the top-3 would have returned nothing
    with pytest.raises(InvalidFilterError, match="Cannot filter on 'owner'"):
        index.store.search(q, 3, {"owner": "x"})


def test_vectors_of_another_embedding_model_never_come_back(index, embedder):
    index.ingest([Document(TICKET, "t17", acl="support")])
    query = "Which portal charged Ann Lee twice?"
    q = embedder.encode([query])[0]
    old = ChunkRow("chk_old", "doc_old", "default", "support", 1, True, "active", "old-model-v0", "1" * 64, "old", q)
    index.store.upsert([old])
    assert "chk_old" not in index.retrieve(query, groups=["support"]).chunk_ids


def test_a_changed_document_becomes_a_new_version_and_only_the_latest_is_retrieved(index):
    first = index.ingest([Document(TICKET, "t17", acl="support")])
    same = index.ingest([Document(TICKET, "t17", acl="support")])
    assert same.unchanged == 1 and same.chunks == 0
    edited = TICKET.replace("charged her twice in March", "charged her three times in April")
    second = index.ingest([Document(edited, "t17", acl="support")])
    assert second.chunks == 1
    ids = index.retrieve("How many times was Ann Lee charged?", groups=["support"]).chunk_ids
    assert ids == second.chunk_ids and first.chunk_ids[0] not in ids
    (old,) = index.store.get(first.chunk_ids)
    assert old.latest is False and index.store.get(second.chunk_ids)[0].version == 2


def test_identical_content_reuses_its_cached_embedding(index):
    index.ingest([Document(TICKET, "t17", acl="support")])
    again = index.ingest([Document(TICKET, "copy-of-t17", acl="support")])
    assert again.embeddings_reused == 1 and again.embedded == 0


def test_exclusion_takes_effect_before_any_purge(index):
    report = index.ingest([Document(TICKET, "t17", acl="support"), Document(HR, "hr4", acl="hr")])
    question = "Which portal charged Ann Lee twice?"
    assert not index.answer(question, groups=["support"]).abstained  # now cached
    done = index.forget([report.chunk_ids[0]], purge=False)
    assert done.deleted == 1 and done.cache_evicted >= 2 and done.purge is None
    assert index.answer(question, groups=["support"]).abstained


def test_erasure_through_the_bus_purges_verifies_and_signs(index, gov):
    report = index.ingest([Document(TICKET, "t17", acl="support"), Document(HR, "hr4", acl="hr")], people=[ANN, BOB])
    question = "Which portal charged Ann Lee twice?"
    assert not index.answer(question, groups=["support"]).abstained
    assert probe_subject(index, ANN).found
    shouted = probe_subject(index, Person(email=ANN.email.upper()))  # identifiers are matched ignoring case
    assert shouted.knn_leaks
    if hasattr(index.store, "path"):  # a store with files: the byte probe finds the e-mail in them
        assert "email" in shouted.on_disk
    case, stats = erase(gov, ANN)
    assert case.state == "completed" and stats.dead == 0
    rag = [r for r in stats.receipts if r.subscriber == "rag"]
    assert sorted(r.asset_kind for r in rag) == ["chunk", "embedding", "vector_row"]
    assert all(r.outcome == "applied" and "found nothing" in r.detail for r in rag)
    assert index.answer(question, groups=["support"]).abstained
    result = probe_subject(index, ANN)
    assert not result.found, result
    assert result.questions >= 4
    assert index.store.get([report.chunk_ids[1]])  # the HR note about someone else stays
    # the same content cannot come back: the catalog refuses what it erased
    again = index.ingest([Document(TICKET, "t17-reupload", acl="support")], people=[ANN, BOB])
    assert again.chunks == 0 and "erased" in again.refused[0]


def test_redelivery_is_idempotent(index, gov):
    index.ingest([Document(TICKET, "t17", acl="support")], people=[ANN])
    from expunge.bus import Event

    case, stats = erase(gov, ANN)
    r = next(r for r in stats.receipts if r.subscriber == "rag")
    uri = chunk_uri("default", r.asset_kind, r.artifact_ids[0])
    event = Event(r.event_id, "default", case.id, "rag", "erase", r.asset_id, r.asset_kind, uri)
    with gov.db.begin() as conn:
        receipt = gov.subscribers["rag"].handle(event, tx=conn)
    assert receipt.outcome == "already_applied"


def test_a_retry_after_a_crash_before_the_purge_still_purges_and_proves_it(index, gov):
    """The worker died between the native delete and the purge: the retry has no content fingerprints left."""
    from expunge.bus import Event
    from expunge.rag import Fingerprint

    report = index.ingest([Document(TICKET, "t17", acl="support")], people=[ANN])
    chunk = report.chunk_ids[0]
    index.exclude([chunk])  # the first attempt got this far
    if hasattr(index.store, "path"):
        assert chunk in index.store.verify_absent([], [Fingerprint.of_id(chunk)]).on_disk
    uri = chunk_uri("default", "vector_row", chunk)
    with gov.db.begin() as conn:
        (record,) = gov.catalog.records.by_tags(conn, "default", [Document(TICKET, "t17").id])
        (row_asset,) = [a.id for a in closure(conn, "default", [record]) if a.uri == uri]
    event = Event("evt_retry", "default", "dsr_x", "rag", "erase", row_asset, "vector_row", uri)
    with gov.db.begin() as conn:
        receipt = RagSubscriber(index).handle(event, tx=conn)  # a fresh process: nothing in memory
    assert receipt.outcome == "already_applied" and "and 1 chunk ID(s)" in receipt.detail
    assert index.store.verify_absent([chunk], [Fingerprint.of_id(chunk)]).ok
    assert not probe_subject(index, ANN).on_disk


def test_a_legal_hold_restricts_instead_of_erasing(index, gov):
    report = index.ingest([Document(TICKET, "t17", acl="support")], people=[ANN])
    with gov.db.begin() as conn:
        (record,) = gov.catalog.records.by_subjects(
            conn, "default", gov.catalog.subjects.find(conn, "default", [Identifier("email", ANN.email)])
        )
        gov.catalog.holds.place(conn, "default", record, reason="litigation 2026-7", placed_by="legal")
    case, stats = erase(gov, ANN)
    assert case.state == "completed_with_exceptions"
    rag = [r for r in stats.receipts if r.subscriber == "rag"]
    assert {r.outcome for r in rag} == {"restricted"}
    (row,) = index.store.get(report.chunk_ids)
    assert row.status == "restricted"
    assert index.answer("Which portal charged Ann Lee twice?", groups=["support"]).abstained
    result = probe_subject(index, ANN)
    assert result.held == report.chunk_ids and not result.retrievable


def test_events_for_another_index_or_a_bad_uri_fail_clearly(index, gov):
    from expunge.bus import Event

    sub = gov.subscribers["rag"]
    with gov.db.begin() as conn:
        with pytest.raises(SubscriberFailedError, match="serves 'default'"):
            sub.handle(Event("e1", "default", None, "rag", "erase", "a", "chunk", "rag://other/chunk/c1"), tx=conn)
        with pytest.raises(SubscriberFailedError, match="rag://INDEX/KIND/CHUNK_ID"):
            sub.handle(Event("e2", "default", None, "rag", "erase", "a", "chunk", "rag://default/c1"), tx=conn)
        with pytest.raises(SubscriberFailedError, match="Accepted: correct, erase, restrict"):
            sub.handle(Event("e3", "default", None, "rag", "opt_out", "a", "chunk", "rag://default/chunk/c"), tx=conn)


def test_index_without_catalog_still_forgets(embedder):
    idx = RagIndex(open_store("memory://plain"), embedder, cache=MemoryCache())
    report = idx.ingest([Document(TICKET, "t17", acl="support")])
    done = idx.forget(report.chunk_ids)
    assert done.verified and done.deleted == 1
    assert np.isfinite(done.exclude_ms)


def test_an_event_of_another_tenant_never_touches_a_chunk(index, gov):
    from expunge.bus import Event

    report = index.ingest([Document(TICKET, "t17", acl="support")])
    (chunk_id,) = report.chunk_ids
    uri = chunk_uri("default", "vector_row", chunk_id)
    sub = gov.subscribers["rag"]
    with gov.db.begin() as conn:
        erase = sub.handle(Event("e1", "globex", None, "rag", "erase", "art_x", "vector_row", uri), tx=conn)
        hold = sub.handle(Event("e2", "globex", None, "rag", "restrict", "art_x", "vector_row", uri), tx=conn)
    assert erase.outcome == "not_found" and hold.outcome == "not_found"  # before: erase read already_applied
    (row,) = index.store.get([chunk_id])
    assert row.status == "active" and row.tenant == "default"


class _ErasingEmbedder:
    """Runs ``action`` (an erasure, a hold…) while ingest is embedding: the window the race lives in."""

    def __init__(self, inner, action):
        self.inner, self.action = inner, action
        self.model_id, self.dim = inner.model_id, inner.dim

    def encode(self, texts):
        if self.action is not None:
            action, self.action = self.action, None
            action()
        return self.inner.encode(texts)


def test_an_erasure_delivered_while_a_document_is_being_ingested_wins(index, gov):
    cases = []
    index.embedder = _ErasingEmbedder(index.embedder, lambda: cases.append(erase(gov, ANN)))
    report = index.ingest([Document(TICKET, "t17", acl="support")], people=[ANN, BOB])
    ((case, _),) = cases
    assert case.state == "completed"
    # Before: the receipt said already_applied for rows it never saw, then ingest wrote the chunk as active.
    assert report.chunks == 0 and "erased by a request while the document was being ingested" in report.refused[0]
    assert not probe_subject(index, ANN).found and index.store.count() == 0
    document = build_case_file(gov, "default", case.id, signer=gov.audit.signer)
    rag = [r for r in document["receipts"] if r["subscriber"] == "rag"]
    assert len(rag) == 3 and {r["outcome"] for r in rag} == {"not_found"}
    # A second erasure finds nothing left to do, and the person cannot be ingested again.
    again = index.ingest([Document(TICKET, "t17", acl="support")], people=[ANN, BOB])
    assert again.chunks == 0 and index.store.count() == 0


def test_a_hold_placed_while_a_document_is_being_ingested_restricts_its_rows(index, gov):
    def hold():
        with gov.db.begin() as conn:
            (subject,) = gov.catalog.subjects.find(conn, "default", [Identifier("email", ANN.email)])
        gov.holds.place("default", subject, reason="matter 7", placed_by="legal")
        filed = gov.file_request(
            "default", scope="erasure", filed_by="t", identifiers=[Identifier("email", ANN.email)], approved_by="op"
        )
        gov.bus.process()
        cases.append(gov.get_case("default", filed.case.id))

    cases = []
    index.embedder = _ErasingEmbedder(index.embedder, hold)
    report = index.ingest([Document(TICKET, "t17", acl="support")], people=[ANN])
    assert cases[0].state == "completed_with_exceptions"
    (chunk,) = report.chunk_ids
    (row,) = index.store.get([chunk])
    assert row.status == "restricted"  # written, kept for the matter, never retrieved
    assert index.retrieve("invoice portal charged twice", groups=["support"]).hits == ()


@pytest.mark.parametrize(
    "variant",
    [
        lambda t: t + " ",  # one trailing space
        lambda t: t.upper(),
        lambda t: t.replace(" ", "  \n"),
        lambda t: unicodedata.normalize("NFD", t),
        lambda t: t.replace("invoice", "in\u200bvoice"),  # a zero-width space
    ],
    ids=["trailing-space", "upper-case", "whitespace", "nfd", "zero-width"],
)
def test_erased_content_is_refused_again_in_any_spelling_ingest_normalises(index, gov, variant):
    text = TICKET.replace("twice", "twïce")
    index.ingest([Document(text, "t17", acl="support")], people=[BOB])
    filed = gov.file_request(
        "default", scope="erasure", filed_by="t", identifiers=[Identifier("email", BOB.email)], approved_by="op"
    )
    gov.bus.process()
    assert gov.get_case("default", filed.case.id).state == "completed"
    report = index.ingest([Document(variant(text), "t17-copy", acl="support")])
    # Before: one trailing space brought the person back (in one run even under the same chunk ID).
    assert report.chunks == 0 and report.refused, report
    assert index.store.count() == 0


def test_a_new_document_naming_an_erased_person_keeps_only_the_chunks_that_do_not(index, gov):
    index.ingest([Document(TICKET, "t17", acl="support")], people=[ANN])
    erase(gov, ANN)
    other = " ".join(f"Unrelated paragraph {i} about the office move to Porto next spring." for i in range(12))
    text = other + " Later, Ann Lee (ann.lee@example.org) asked for a refund again."
    report = index.ingest([Document(text, "t99", acl="support")], people=[ANN])
    assert report.chunks >= 1 and "name a person whose erasure was accepted" in report.refused[0]
    assert not any("Ann Lee" in r.text or "ann.lee" in r.text for r in index.store.get(report.chunk_ids))
    assert not probe_subject(index, ANN).retrievable


def test_a_receipt_and_a_candidate_text_do_not_confirm_what_was_erased(index, gov):
    from expunge.evidence import canonical, sha256_hex

    report = index.ingest([Document(TICKET, "t17", acl="support")], people=[ANN])
    (chunk,) = report.chunk_ids
    case, _ = erase(gov, ANN)
    document = build_case_file(gov, "default", case.id, signer=gov.audit.signer)
    (receipt,) = [r for r in document["receipts"] if r["subscriber"] == "rag" and r["asset_kind"] == "vector_row"]
    # What an attacker holding the receipt and the candidate text can compute (the embedding model is public).
    text = " ".join(TICKET.split())
    vector = index.embedder.encode([text])[0]
    guess = sha256_hex(canonical([[chunk, sha256_hex(text.encode()), "active", sha256_hex(vector.tobytes())]]))
    assert receipt["before_sha256"] != guess  # before: equal, so the receipt confirmed the erased text
    assert receipt["before_sha256"] != receipt["after_sha256"]
    assert chunk in receipt["artifact_ids"] and TICKET[:20] not in str(document)
