"""Chunking, entity tagging, the demo corpus, the tagged caches and the byte probe's matching rules."""

from __future__ import annotations

import numpy as np
import pytest

from expunge.errors import EmptyDocumentError, RagError
from expunge.rag import (
    ChunkConfig,
    Document,
    Fingerprint,
    MemoryCache,
    Person,
    SqliteCache,
    chunk_document,
    demo_corpus,
    find_people,
    scan_files,
)

ANN = Person(name="Ann Lee", email="ann.lee@example.org", phone="+1 555-010-9999")


def test_chunks_overlap_carry_ids_and_the_people_they_mention():
    text = "Ann Lee wrote in. " + " ".join(f"word{i}" for i in range(200)) + " Call +1 (555) 010-9999 back."
    doc = Document(text=text, source="mail/1.txt", tenant="acme")
    chunks = chunk_document(doc, 1, ChunkConfig(size=200, overlap=40), [ANN])
    assert len(chunks) > 4
    assert all(len(c.text) <= 200 for c in chunks)
    assert chunks[0].text.split()[-1] in chunks[1].text  # neighbours overlap
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    assert chunks[0].people == (0,) and chunks[-1].people == (0,)  # by name, then by phone in another format
    assert all(c.people == () for c in chunks[1:-1])
    # Chunk IDs land in receipts and case files: they must not be derivable from the document and its content
    # (before, they were a hash of the document ID, version, position and text, so the same input gave the same ID).
    again = chunk_document(doc, 1, ChunkConfig(size=200, overlap=40), [ANN])
    assert not {c.chunk_id for c in again} & {c.chunk_id for c in chunks}
    assert all(c.content_sha256 == a.content_sha256 for c, a in zip(chunks, again, strict=True))


def test_find_people_adds_unknown_emails_and_phones_as_their_own_subjects():
    text = "Ann Lee forwarded bob@example.net's note; call 030 1234567 or ann.lee@example.org."
    found = find_people(text, [ANN], region="DE")
    assert found[0] == ANN
    assert Person(email="bob@example.net") in found
    assert Person(phone="+49301234567") in found  # normalised: a national number read in the default region
    assert len(found) == 3  # Ann's own e-mail is not a second person
    # without a default region a number lacking its country code names nobody (intake refuses it too)
    assert Person(phone="+49301234567") not in find_people(text, [ANN])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"text": "   "}, EmptyDocumentError, "has no text"),
        ({"text": "x", "acl": "has space"}, RagError, "ACL group"),
        ({"text": "x", "tenant": "Bad Tenant"}, Exception, "tenant"),
    ],
)
def test_bad_documents_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        Document(source="s", **kwargs)


def test_chunk_config_names_what_is_accepted():
    with pytest.raises(RagError, match="at least 32"):
        ChunkConfig(size=10)
    with pytest.raises(RagError, match="less than half the size"):
        ChunkConfig(size=100, overlap=60)


def test_demo_corpus_is_seeded_synthetic_and_plants_one_canary_per_person():
    a, b = demo_corpus(12, seed=3), demo_corpus(12, seed=3)
    assert [d.text for d in a.documents] == [d.text for d in b.documents]
    assert len(a.people) == 4 and len(set(a.canaries)) == 4
    for person, canary in zip(a.people, a.canaries, strict=True):
        holders = [d for d in a.documents if canary in d.text]
        assert len(holders) == 1 and person.name in holders[0].text
    assert {d.acl for d in a.documents} <= {"support", "hr"}
    assert demo_corpus(12, seed=4).documents[0].text != a.documents[0].text


@pytest.fixture(params=["memory", "sqlite"])
def cache(request, tmp_path):
    clock = {"now": 1000.0}
    make = {
        "memory": lambda: MemoryCache(ttl=60, clock=lambda: clock["now"]),
        "sqlite": lambda: SqliteCache(tmp_path / "c.sqlite", ttl=60, clock=lambda: clock["now"]),
    }[request.param]
    c = make()
    c.clock_state = clock
    return c


def test_cache_evicts_every_entry_an_id_influenced(cache):
    cache.put("generation", "q1", {"text": "a"}, ["chk_1", "chk_2"])
    cache.put("retrieval", "q1", ["chk_2", "chk_3"], ["chk_2", "chk_3"])
    cache.put("generation", "q2", {"text": "b"}, ["chk_3"])
    assert cache.get("generation", "q1") == {"text": "a"}
    assert cache.evict(["chk_2"]) == 2
    assert cache.get("generation", "q1") is None and cache.get("retrieval", "q1") is None
    assert cache.get("generation", "q2") == {"text": "b"}
    assert cache.tagged(["chk_1", "chk_2"]) == []
    assert cache.evict(["chk_2"]) == 0


def test_cache_entries_expire_even_if_a_deletion_signal_is_missed(cache):
    cache.put("generation", "q", "answer", ["chk_1"])
    cache.put("generation", "short", "answer", ["chk_1"], ttl=5)
    cache.clock_state["now"] += 10
    assert cache.get("generation", "short") is None
    assert cache.get("generation", "q") == "answer"
    cache.clock_state["now"] += 60
    assert cache.get("generation", "q") is None


def test_cache_rejects_an_unknown_namespace(cache):
    with pytest.raises(RagError, match="Available: embedding, retrieval, generation"):
        cache.put("answers", "k", 1, [])


def test_sqlite_cache_leaves_no_evicted_text_in_its_file(tmp_path):
    cache = SqliteCache(tmp_path / "c.sqlite")
    secret = "Ann Lee's diagnosis is confidential-7731"
    cache.put("generation", "q", {"text": secret}, ["chk_1"])
    probe = [Fingerprint("chk_1", np.zeros(0, np.float32), secret)]
    assert scan_files(cache.files(), probe).found  # the probe sees it while it is there
    cache.evict(["chk_1"])
    assert not scan_files(cache.files(), probe).found  # secure_delete: gone from free pages and the WAL


def test_byte_probe_finds_normalised_copies_at_any_alignment(tmp_path):
    rng = np.random.default_rng(0)
    v = rng.normal(size=48).astype(np.float32)
    unit = v / np.linalg.norm(v)
    # a copy normalised with another summation order: a few ULPs off, so no byte-exact match
    off = (unit * np.float32(1 + 3e-7)).astype(np.float32)
    assert off.tobytes() != unit.astype(np.float32).tobytes()
    (tmp_path / "index.bin").write_bytes(b"\x01\x02\x03" + off.tobytes() + rng.bytes(500))
    (tmp_path / "other.bin").write_bytes(rng.normal(size=480).astype(np.float32).tobytes())
    scan = scan_files(sorted(tmp_path.iterdir()), [Fingerprint("chk_1", v, "never written")], root=tmp_path)
    assert scan.found == {"chk_1": ["index.bin: normalised vector"]}
    assert scan.files == 2
