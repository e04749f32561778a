"""Answers about a named person come only from chunks that mention them; the cut-offs are calibrated on data."""

from __future__ import annotations

import numpy as np
import pytest

from expunge.errors import RagError
from expunge.rag import (
    ABSTAIN,
    DEFAULT_MAX_DISTANCE,
    Calibration,
    ChunkRow,
    Document,
    EntityCheck,
    ExtractiveAnswerer,
    Hit,
    MemoryCache,
    Person,
    RagIndex,
    SpacyNameFinder,
    calibrate,
    demo_corpus,
)
from expunge.rag.stores import open_store

BOB_TICKET = (
    "Support ticket 18. Bob Stone (bob.stone@example.org, phone +1 555 010 7777) reports that the router drops "
    "Wi-Fi every evening. The customer lives at 4 Elm Street, Springfield."
)
ANN_TICKET = "Support ticket 17. Ann Lee (ann.lee@example.org) reports that the invoice portal charged her twice."


class NoNames:
    """A name finder that never finds a name (as the small model misses about one in twelve)."""

    def find(self, texts):
        return [[] for _ in texts]


def hit(text: str, chunk_id: str, distance: float = 0.2) -> Hit:
    row = ChunkRow(chunk_id, "doc", "default", "support", 1, True, "active", "m", "0" * 64, text, np.zeros(4))
    return Hit(row, distance)


def test_the_answerer_refuses_to_answer_about_a_person_from_someone_elses_ticket():
    answerer = ExtractiveAnswerer()
    question = "What did Ann Lee report?"
    refused = answerer.answer(question, [hit(BOB_TICKET, "bob")])
    assert refused.abstained and refused.text == ABSTAIN and refused.sources == ()
    answered = answerer.answer(question, [hit(BOB_TICKET, "bob"), hit(ANN_TICKET, "ann", 0.6)])
    assert not answered.abstained and answered.sources == ("ann",) and "bob.stone" not in answered.text
    # the check off, as answers were before it: the nearest ticket about someone else is quoted
    before = ExtractiveAnswerer(check_entities=False).answer(question, [hit(BOB_TICKET, "bob")])
    assert not before.abstained and "bob.stone@example.org" in before.text


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("What did JÖRG WEISS report?", "Ticket 2. Jörg Weiß reports a broken thermostat."),  # capitals, ß
        ("What did Zoe\u0308 Adams report?", "Ticket 3. Zoë Adams reports a blank screen."),  # NFD
        ("Who uses ann\u200b.lee@example.org?", "Ticket 4. ANN.LEE@example.org reports a timeout."),
        ("Whose phone number is +1 555 010 9999?", "Ticket 5. Call (555) 010-9999 about the VPN client."),
        ("What did the United Nations report?", "Ticket 6. United Nations staff reported a broken router."),
    ],
)
def test_the_entity_check_compares_through_the_normaliser(question, text):
    check = EntityCheck()
    named = check.named(question)
    assert named, question
    assert check.keep(question, [hit(text, "x"), hit(BOB_TICKET, "bob")]) == [hit(text, "x")]


def test_a_question_naming_nobody_keeps_every_hit():
    check = EntityCheck()
    hits = [hit(BOB_TICKET, "bob"), hit(ANN_TICKET, "ann")]
    assert check.named("Which customer was charged twice?") == ()
    assert check.keep("Which customer was charged twice?", hits) == hits


def test_the_index_answers_a_named_person_only_from_their_chunks(index):
    """A question about an erased or unknown person abstains even when other people's tickets are near."""
    others = [
        BOB_TICKET.replace("18", str(n)).replace("Bob Stone", name)
        for n, name in [(20, "Carla Diaz"), (21, "Dora Ruiz"), (22, "Eve Tran")]
    ]
    docs = [Document(t, f"t{i}", acl="support") for i, t in enumerate([BOB_TICKET, *others])]
    index.ingest(docs, people=[Person(name="Bob Stone")], names=SpacyNameFinder())
    index.max_distance = index.named_max_distance = 2.0  # no cut-off at all: only the entity check stands
    unknown = index.answer("What did Norma Fisher report?", groups=["support"])
    assert unknown.abstained
    bob = index.answer("What did Bob Stone report?", groups=["support"])
    assert not bob.abstained and bob.sources and all("Bob Stone" in r.text for r in index.store.get(list(bob.sources)))
    # the same index with the check off quotes somebody else's ticket
    index.entities = None
    index.generator = ExtractiveAnswerer(check_entities=False)
    assert not index.answer("What did Norma Fisher report?", groups=["support"]).abstained


def test_a_named_persons_chunk_beyond_the_nearest_is_found_through_the_catalog(index):
    """Many tickets nearer to the question than the person's own: the catalog's link still finds it."""
    near = [
        Document(
            f"Ticket {i}. What did the customer report? The customer reported a router fault.", f"n{i}", acl="support"
        )
        for i in range(120)
    ]
    own = Document("HR note 7. Employee Lena Okafor asked for parental leave starting in May.", "hr7", acl="support")
    report = index.ingest([*near, own], people=[Person(name="Lena Okafor")])
    index.named_max_distance = 2.0
    answer = index.answer("What did Lena Okafor report?", groups=["support"])
    assert answer.sources == (report.chunk_ids[-1],) and "parental leave" in answer.text
    # when the name finder tags nothing, the catalog's names make the question one about her all the same
    index.entities = EntityCheck(names=NoNames())
    index.generator = ExtractiveAnswerer(entities=index.entities)
    index.cache = MemoryCache()
    assert index.entities.named("What did Lena Okafor report?") == ()
    assert index.answer("What did Lena Okafor report?", groups=["support"]).sources == (report.chunk_ids[-1],)


def test_calibration_measures_both_cut_offs_on_the_corpus_and_round_trips(index, tmp_path, words):
    corpus = demo_corpus(120, seed=3)
    index.ingest(corpus.documents, people=corpus.people)
    result = index.calibrate(sample=120, quantile=0.9)
    assert result.pairs >= 20 and result.named_pairs >= 20 and result.embedding_model == words.model_id
    assert 0 < result.matched["p50"] <= result.max_distance <= result.matched["p95"] + 1e-6
    assert 0 < result.named_matched["p50"] <= result.named_max_distance
    assert (index.max_distance, index.named_max_distance) == (result.max_distance, result.named_max_distance)
    assert result.max_distance != DEFAULT_MAX_DISTANCE
    path = tmp_path / "cal" / "calibration.json"
    result.save(path)
    assert Calibration.load(path) == result and Calibration.load(tmp_path / "none.json") is None
    other = RagIndex(open_store("memory://o"), words, cache=MemoryCache(), calibration=result)
    assert other.max_distance == result.max_distance
    stale = Calibration(**{**result.__dict__, "embedding_model": "another-model"})
    assert RagIndex(open_store("memory://s"), words, calibration=stale).max_distance == DEFAULT_MAX_DISTANCE
    with pytest.raises(RagError, match="Calibrate again"):
        other.apply(stale)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(RagError, match="not a calibration file"):
        Calibration.load(tmp_path / "bad.json")


def test_calibration_refuses_too_little_data_and_bad_parameters(index):
    index.ingest([Document("Policy: passwords rotate every ninety days for every account we run.", "p")])
    with pytest.raises(RagError, match="at least 20 chunks"):
        calibrate(index, sample=20)
    with pytest.raises(RagError, match="quantile must be in"):
        calibrate(index, quantile=0.3)
    with pytest.raises(RagError, match="sample must be an integer"):
        calibrate(index, sample=5)
