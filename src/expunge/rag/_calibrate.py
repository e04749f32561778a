"""Calibrating the answer cut-offs on the ingested corpus instead of fixing them.

A chunk farther from a question than the cut-off (cosine distance) is no answer source. Which distance means
"about this" depends on the embedding model, on the corpus and on the kind of question, so it is measured on
*matching question→chunk pairs* built from the tenant's own chunks (``sample`` of them, seeded):

- **content questions** (naming nobody): each sampled chunk's longest sentence (six words or more), folded,
  with the names, e-mail addresses and phone numbers it holds removed, is a question that chunk answers.
  ``max_distance`` is the ``quantile`` (default 0.95) of their distances. It applies to every question, so a
  question about nothing the corpus holds ("How tall is Mount Everest?") finds no source;
- **questions naming a person**: for each sampled chunk naming someone (the :class:`NameFinder`; the first
  name of two words or more), one question about them from :data:`CALIBRATION_TEMPLATES` (rotating).
  ``named_max_distance`` is the same quantile of their distances. It applies, instead, to questions that
  name someone, *after* the entity check kept only chunks mentioning them: with a small embedding model a
  question about a person is far from the person's own chunk (MiniLM weighs the name lightly; on the demo
  corpus the median is about 0.7, farther than the nearest chunk about someone else), so relevance there is
  the entity check's to decide, and this cut-off only bounds it.

For the record, ``unmatched_within`` is the share of the named questions whose nearest chunk *not* mentioning
the person is within ``named_max_distance``: what a cut-off alone would let through and the entity check has
to stop (nearly all of them: a distance cut-off cannot tell people apart).

The templates differ from the answers benchmark's question ("What did NAME report?"), so the benchmark does
not test on the calibration's own questions.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from expunge.catalog import FoldedText, Mention, fold_text, identifiers_in
from expunge.errors import InvalidIdentifierError, RagError
from expunge.rag._names import NameFinder, SpacyNameFinder
from expunge.rag._rows import ChunkRow

if TYPE_CHECKING:
    from expunge.rag._index import RagIndex

__all__ = ["CALIBRATION_TEMPLATES", "MIN_PAIRS", "Calibration", "calibrate"]

CALIBRATION_TEMPLATES = (
    "What do we know about {}?",
    "What did {} ask for?",
    "Tell me about {}.",
    "Which issue did {} have?",
)
# Fewer pairs than this make a 95th percentile a guess.
MIN_PAIRS = 20
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Calibration:
    """The calibrated cut-offs and what they were measured on (see the module docstring).

    Attributes:
        max_distance: The cut-off of every question (cosine distance, 0-2).
        named_max_distance: The cut-off of questions naming someone, after the entity check.
        quantile: The share of matching pairs within each cut-off.
        pairs: How many content questions were measured.
        named_pairs: How many questions naming a person were measured.
        embedding_model: The model whose distances these are (a calibration of another model does not apply).
        tenant: The tenant whose chunks were sampled.
        matched: Percentiles (p50, p95) of the content questions' distances.
        named_matched: Percentiles (p50, p95) of the named questions' distances.
        unmatched_within: Share of named questions whose nearest chunk *not* mentioning the person is within
            ``named_max_distance``.
    """

    max_distance: float
    named_max_distance: float
    quantile: float
    pairs: int
    named_pairs: int
    embedding_model: str
    tenant: str
    matched: dict[str, float]
    named_matched: dict[str, float]
    unmatched_within: float

    def save(self, path: Path) -> None:
        """Write it as JSON to ``path`` (its folder is created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Calibration | None:
        """Read a calibration written by :meth:`save`; None when there is none.

        Raises:
            RagError: The file is not a calibration.
        """
        path = Path(path)
        if not path.exists():
            return None
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as err:
            raise RagError(
                f"{path} is not a calibration file ({err}); delete it and run: expunge rag calibrate"
            ) from None


def calibrate(
    index: RagIndex,
    *,
    tenant: str = "default",
    names: NameFinder | None = None,
    sample: int = 200,
    quantile: float = 0.95,
    seed: int = 0,
) -> Calibration:
    """Measure the cut-offs of ``index`` on its own chunks (see the module docstring); the index is not changed.

    Args:
        index: The index (its store, embedder and tenant's chunks).
        tenant: Whose chunks to sample.
        names: Finds people's names in chunks; default: spaCy's small English model, PERSON spans (names of one
            word are removed from content questions; questions are asked about names of two words or more).
        sample: Chunks to sample.
        quantile: Share of matching pairs each cut-off lets through, in [0.5, 1].
        seed: Seed of the sample.

    Raises:
        RagError: Bad ``sample`` or ``quantile``, or fewer than :data:`MIN_PAIRS` content questions or questions
            naming a person could be built from the sample.
    """
    if not isinstance(sample, int) or not MIN_PAIRS <= sample <= 10_000:
        raise RagError(f"The calibration sample must be an integer from {MIN_PAIRS} to 10000 chunks. Got {sample!r}.")
    if not isinstance(quantile, float | int) or not 0.5 <= quantile <= 1:
        raise RagError(f"The calibration quantile must be in [0.5, 1]. Got {quantile!r}.")
    names = names or SpacyNameFinder(min_words=1)
    where = {"tenant": tenant, "status": "active", "latest": True, "embedding_model": index.embedder.model_id}
    ids = sorted(index.store.ids(where))
    rows = index.store.get(random.Random(seed).sample(ids, min(sample, len(ids))))
    found = names.find([r.text for r in rows])
    content: list[tuple[str, ChunkRow]] = []
    named: list[tuple[str, Mention, ChunkRow]] = []
    for row, people in zip(rows, found, strict=True):
        mentions = [m for m in (_name(n) for n in people) if m is not None]
        question = _content_question(row.text, mentions, index.phone_region)
        if question:
            content.append((question, row))
        full = [(n, m) for n, m in zip(people, mentions, strict=False) if m is not None and len(n.split()) >= 2]
        if full:
            template = CALIBRATION_TEMPLATES[len(named) % len(CALIBRATION_TEMPLATES)]
            named.append((template.format(full[0][0]), full[0][1], row))
    if min(len(content), len(named)) < MIN_PAIRS:
        raise RagError(
            f"Calibration needs at least {MIN_PAIRS} chunks with a sentence of six words or more and {MIN_PAIRS} "
            f"that name a person; of the {len(rows)} sampled in tenant {tenant!r}, {len(content)} and {len(named)} "
            "do. Ingest more documents, or keep the default cut-off."
        )
    distances = _distances(index, [q for q, _ in content], [r for _, r in content])
    named_distances = _distances(index, [q for q, _, _ in named], [r for _, _, r in named])
    matched = np.diag(distances)
    named_matched = np.diag(named_distances)
    cut, named_cut = float(np.quantile(matched, quantile)), float(np.quantile(named_matched, quantile))
    folded = [FoldedText.of(r.text) for _, _, r in named]
    within = 0
    for i, (_, mention, _) in enumerate(named):
        others = [j for j in range(len(named)) if not mention.found_in(folded[j])]
        within += bool(others) and float(named_distances[i, others].min()) <= named_cut
    return Calibration(
        max_distance=round(cut, 4),
        named_max_distance=round(named_cut, 4),
        quantile=float(quantile),
        pairs=len(content),
        named_pairs=len(named),
        embedding_model=index.embedder.model_id,
        tenant=tenant,
        matched=_percentiles(matched),
        named_matched=_percentiles(named_matched),
        unmatched_within=round(within / len(named), 4),
    )


def _name(name: str) -> Mention | None:
    try:
        return Mention.of("name", name)
    except InvalidIdentifierError:  # a span of punctuation or format characters only
        return None


def _content_question(text: str, names: list[Mention], region: str | None) -> str:
    """The chunk's longest sentence of six words or more, folded, without the identifiers it holds."""
    sentences = [s for s in _SENTENCE.split(text) if len(s.split()) >= 6]
    if not sentences:
        return ""
    sentence = fold_text(max(sentences, key=len))
    found = [Mention.of(kind, value, region=region) for kind, value in identifiers_in(sentence, region=region)]
    for mention in [*found, *names]:
        sentence = mention.pattern.sub(" ", sentence)
    return " ".join(sentence.split()) if len(sentence.split()) >= 4 else ""


def _distances(index: RagIndex, questions: list[str], rows: list[ChunkRow]) -> np.ndarray:
    """Cosine distances of every question (rows of the result) to every chunk (columns)."""
    asked = _unit(index.embedder.encode(questions))
    return 1.0 - asked @ _unit(np.stack([r.vector for r in rows])).T


def _percentiles(values: np.ndarray) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(values, q)), 4) for q in (50, 95)}


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
