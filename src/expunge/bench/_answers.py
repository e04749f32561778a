"""``expunge bench answers``: do answers about a person come only from that person's chunks?

On the demo corpus (Faker, seeded; support tickets and HR notes) ingested with its subject list and spaCy's
names, with the real embedding model (all-MiniLM-L6-v2):

1. ``erase`` people are erased: the chunks the catalog's lineage gives for their name, e-mail and phone (what
   the ``rag`` subscriber deletes for such an erasure) are forgotten and purged;
2. the cut-off is calibrated on the corpus (:func:`expunge.rag.calibrate`, whose question templates differ from
   the one asked here);
3. "What did NAME report?" is asked about every erased person, about ``never`` people never ingested (Faker
   names of another seed that no document mentions) and about ``present`` people still there, plus a few
   questions about nothing in the corpus, under four answerers: the fixed 0.75 cut-off without entity check
   (what answers did before), the calibrated cut-off alone, the entity check alone, and both.

Figures per answerer: abstention on erased and on never-ingested people (goal: 100 %), answers that quote an
e-mail address or phone number (somebody else's, since the person asked about is not there), accuracy on
present people (an answer that did not abstain and whose every source mentions the person), abstention on the
off-topic questions, and the answer latency.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from expunge.catalog import Catalog, FoldedText, Pseudonymizer, closure, identifiers_in
from expunge.db import Database, open_database
from expunge.errors import RagError
from expunge.rag import (
    DEFAULT_MAX_DISTANCE,
    Answer,
    EntityCheck,
    ExtractiveAnswerer,
    MemoryCache,
    MiniLMEmbedder,
    Person,
    RagIndex,
    SpacyNameFinder,
    demo_corpus,
)
from expunge.rag.stores import open_store

__all__ = ["AnswersBenchConfig", "answers_markdown", "run_answers_bench", "write_answers_bench"]

QUESTION = "What did {} report?"
# Questions about nothing the corpus holds: a cut-off that lets them through quotes someone's ticket.
OFF_TOPIC = (
    "What is the capital of France?",
    "How do I bake sourdough bread?",
    "Who won the football world cup in 2018?",
    "Explain quantum entanglement in simple words.",
    "What will the weather be like tomorrow?",
    "Recommend a good science fiction novel.",
    "How tall is Mount Everest?",
    "How do you say thank you in Japanese?",
    "What is the boiling point of water at sea level?",
    "Which planet is the largest in the solar system?",
)
# label → (calibrated cut-off, entity check)
ANSWERERS = {
    "fixed 0.75, no entity check (before)": (False, False),
    "calibrated, no entity check": (True, False),
    "fixed 0.75 + entity check": (False, True),
    "calibrated + entity check (after)": (True, True),
}


@dataclass(frozen=True)
class AnswersBenchConfig:
    """Sizes of one run (see the module docstring)."""

    documents: int = 2000
    erase: int = 20
    never: int = 20
    present: int = 200
    k: int = 5
    sample: int = 200
    quantile: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.documents < 30:
            raise RagError(f"The answers benchmark needs at least 30 documents. Got {self.documents}.")
        people = max(1, self.documents // 3)
        if min(self.erase, self.never, self.present) < 1 or self.erase + self.present > people:
            raise RagError(
                f"--erase and --present must be at least 1 and together at most the corpus's {people} people; "
                f"--never at least 1. Got {self.erase}, {self.present} and {self.never}."
            )


def run_answers_bench(cfg: AnswersBenchConfig, *, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark; returns the figures written to ``results.json``."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="expunge-answers-") as tmp:
        db = open_database(f"sqlite:///{Path(tmp) / 'catalog.db'}")
        try:
            return _run(cfg, Catalog(Pseudonymizer(os.urandom(32))), db, progress) | {
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
            }
        finally:
            db.dispose()


def _run(cfg: AnswersBenchConfig, catalog: Catalog, db: Database, progress: Callable[[str], None]) -> dict[str, Any]:
    rng = random.Random(cfg.seed)
    corpus = demo_corpus(cfg.documents, seed=cfg.seed)
    index = RagIndex(open_store("memory://answers"), MiniLMEmbedder(), cache=MemoryCache(), catalog=catalog, db=db)
    names = SpacyNameFinder()
    progress(f"ingesting {cfg.documents} documents (MiniLM and spaCy)")
    start = time.perf_counter()
    report = index.ingest(corpus.documents, people=corpus.people, names=names)
    ingest_s = time.perf_counter() - start

    people = list(corpus.people)
    rng.shuffle(people)
    erased, present = people[: cfg.erase], people[cfg.erase : cfg.erase + cfg.present]
    never = _never_ingested(cfg, corpus.documents)
    progress(f"erasing {len(erased)} people")
    start = time.perf_counter()
    forgotten = 0
    for person in erased:
        chunk_ids = _chunks_of(catalog, db, index.name, person)
        forgotten += len(chunk_ids)
        if chunk_ids and not index.forget(chunk_ids).verified:
            raise RagError(f"The benchmark's erasure of {len(chunk_ids)} chunk(s) did not verify.")
    erase_s = time.perf_counter() - start
    left = [p for p in erased if _still_mentioned(index, p)]

    progress("calibrating the cut-off")
    start = time.perf_counter()
    calibration = index.calibrate(names=names, sample=cfg.sample, quantile=cfg.quantile, seed=cfg.seed)
    calibrate_s = time.perf_counter() - start

    check = EntityCheck()
    runs = {}
    for label, (calibrated, checked) in ANSWERERS.items():
        progress(f"asking {len(erased) + len(never) + len(present) + len(OFF_TOPIC)} questions: {label}")
        index.max_distance = calibration.max_distance if calibrated else DEFAULT_MAX_DISTANCE
        index.named_max_distance = calibration.named_max_distance if calibrated else DEFAULT_MAX_DISTANCE
        index.entities = check if checked else None
        index.generator = ExtractiveAnswerer(entities=check, check_entities=checked)
        index.cache = MemoryCache()
        runs[label] = _ask(index, cfg.k, erased, never, present)
    return {
        "benchmark": "answers",
        "config": asdict(cfg),
        "documents": report.documents,
        "chunks": report.chunks,
        "people": len(corpus.people),
        "erased_chunks": forgotten,
        "erased_people_still_mentioned": len(left),
        "calibration": asdict(calibration),
        "ingest_s": round(ingest_s, 1),
        "erase_s": round(erase_s, 1),
        "calibrate_s": round(calibrate_s, 1),
        "answerers": runs,
    }


def _never_ingested(cfg: AnswersBenchConfig, documents: Sequence[Any]) -> list[Person]:
    """Faker names of another seed that no document mentions in any spelling."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(cfg.seed + 10_007)
    corpus = FoldedText.of("\x00".join(d.text for d in documents))
    out: list[Person] = []
    while len(out) < cfg.never:
        person = Person(name=fake.name())
        if person not in out and not person.mentioned_in(corpus):
            out.append(person)
    return out


def _chunks_of(catalog: Catalog, db: Database, name: str, person: Person) -> list[str]:
    """The chunk IDs the catalog derives from records linked to the person (what an erasure deletes)."""
    prefix = f"rag://{name}/chunk/"
    with db.begin() as conn:
        pseudonyms = catalog.subjects.pseudonyms("default", person.identifiers())
        subjects = catalog.subjects.by_pseudonyms(conn, "default", pseudonyms)
        records = catalog.records.by_subjects(conn, "default", subjects) if subjects else []
        assets = closure(conn, "default", records) if records else []
    return sorted(a.uri.removeprefix(prefix) for a in assets if a.uri.startswith(prefix))


def _still_mentioned(index: RagIndex, person: Person) -> bool:
    rows = index.store.get(index.store.ids({"status": "active"}))
    return any(person.mentioned_in(FoldedText.of(r.text)) for r in rows)


def _ask(
    index: RagIndex, k: int, erased: Sequence[Person], never: Sequence[Person], present: Sequence[Person]
) -> dict[str, Any]:
    groups = ["support", "hr"]
    latencies: list[float] = []

    def answer(question: str) -> Answer:
        start = time.perf_counter()
        result = index.answer(question, groups=groups, k=k)
        latencies.append((time.perf_counter() - start) * 1000)
        return result

    out: dict[str, Any] = {}
    for label, group in (("erased", erased), ("never_ingested", never)):
        answers = [answer(QUESTION.format(p.name)) for p in group]
        out[f"{label}_abstained_pct"] = _pct(sum(a.abstained for a in answers), len(answers))
        out[f"{label}_quoting_email_or_phone"] = sum(bool(identifiers_in(a.text)) for a in answers if not a.abstained)
    correct = answered = 0
    for person in present:
        result = answer(QUESTION.format(person.name))
        if result.abstained:
            continue
        answered += 1
        rows = index.store.get(list(result.sources))
        correct += bool(rows) and all(person.mentioned_in(FoldedText.of(r.text)) for r in rows)
    out["present_answered_pct"] = _pct(answered, len(present))
    out["present_accuracy_pct"] = _pct(correct, len(present))
    off = [answer(q) for q in OFF_TOPIC]
    out["off_topic_abstained_pct"] = _pct(sum(a.abstained for a in off), len(off))
    out["answer_ms_p50"] = round(float(np.percentile(latencies, 50)), 1)
    out["answer_ms_p95"] = round(float(np.percentile(latencies, 95)), 1)
    return out


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


_ROWS = [
    ("abstained on erased people (%)", "erased_abstained_pct"),
    ("answers about erased people quoting an e-mail or phone", "erased_quoting_email_or_phone"),
    ("abstained on never-ingested people (%)", "never_ingested_abstained_pct"),
    ("answers about never-ingested people quoting an e-mail or phone", "never_ingested_quoting_email_or_phone"),
    ("present people: answered (%)", "present_answered_pct"),
    ("present people: accurate (%)", "present_accuracy_pct"),
    ("off-topic questions abstained (%)", "off_topic_abstained_pct"),
    ("answer latency p50 / p95 (ms)", ("answer_ms_p50", "answer_ms_p95")),
]


def answers_markdown(results: dict[str, Any]) -> str:
    """A table with one column per answerer, and the calibration under it."""
    runs = results["answerers"]
    lines = ["| figure | " + " | ".join(runs) + " |", "| --- |" + " --- |" * len(runs)]
    for label, keys in _ROWS:
        keys = (keys,) if isinstance(keys, str) else keys
        lines.append(f"| {label} | " + " | ".join(" / ".join(str(r[k]) for k in keys) for r in runs.values()) + " |")
    cal, cfg = results["calibration"], results["config"]
    lines += [
        "",
        f"{results['documents']:,} documents ({results['chunks']:,} chunks, {results['people']} people, Faker seed "
        f"{cfg['seed']}); {cfg['erase']} people erased ({results['erased_chunks']} chunks; "
        f"{results['erased_people_still_mentioned']} still mentioned afterwards), {cfg['never']} never ingested, "
        f'{cfg["present"]} present; question "{QUESTION.format("NAME")}", k = {cfg["k"]}. Ingested with the '
        "corpus's subject list and spaCy's PERSON names.",
        "Accurate: the answer did not abstain and every source mentions the person (through the normaliser). That "
        "is the property the entity check enforces, so with the check accurate = answered: there the row measures "
        "that no answer about a present person was lost; without it, how many answers quoted somebody else.",
        f"Calibrated cut-offs (the {cal['quantile']} quantile of matching question→chunk distances): "
        f"{cal['max_distance']} for any question ({cal['pairs']} content questions, p50 {cal['matched']['p50']}), "
        f"{cal['named_max_distance']} for a question naming someone, after the entity check ({cal['named_pairs']} "
        f"questions, p50 {cal['named_matched']['p50']}; the nearest chunk about someone else is within it for "
        f"{cal['unmatched_within']:.0%} of them).",
        f"Ingest {results['ingest_s']} s, erasure {results['erase_s']} s, calibration {results['calibrate_s']} s; "
        f"load average {results['load_average_before']} before, {results['load_average_after']} after.",
    ]
    return "\n".join(lines) + "\n"


def write_answers_bench(results: dict[str, Any], out: Path) -> None:
    """Write ``out/results.json`` and ``out/results.md``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(answers_markdown(results))
