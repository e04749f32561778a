"""Answering over retrieved chunks: an extractive answerer (no LLM), behind a protocol a user can replace.

A question that names someone (or something) is answered only from chunks that mention them: the
:class:`EntityCheck` finds the names, e-mail addresses and phone numbers a question holds and keeps the chunks
that mention every one of them, compared through the catalog's identifier normaliser. Without it, the nearest
chunk about somebody else answers a question about a person who was erased or never there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from expunge.catalog import FoldedText, Mention, identifiers_in
from expunge.errors import InvalidIdentifierError
from expunge.rag._names import NAME_LABELS, NameFinder, SpacyNameFinder
from expunge.rag._rows import Hit

__all__ = ["ABSTAIN", "Answer", "EntityCheck", "ExtractiveAnswerer", "Generator"]

ABSTAIN = "No permitted source answers this question."
_WORD = re.compile(r"[\w@.+-]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# fmt: off
_STOP = frozenset((
    "a", "an", "and", "are", "about", "any", "as", "at", "be", "by", "can", "did", "do", "does", "for", "from",
    "has", "have", "how", "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "please", "tell",
    "that", "the", "their", "them", "this", "to", "was", "we", "what", "when", "where", "which", "who", "whom",
    "why", "with", "you", "your",
))
# fmt: on


@dataclass(frozen=True)
class Answer:
    """What a question got: text, the chunk IDs it quotes, and whether it abstained."""

    text: str
    sources: tuple[str, ...]
    abstained: bool


@runtime_checkable
class Generator(Protocol):
    """Turns a question and the chunks retrieval permitted into an :class:`Answer`.

    It must answer only from ``hits`` and abstain when they are empty: it never answers from nothing.
    """

    def answer(self, question: str, hits: Sequence[Hit]) -> Answer:
        """Answer ``question`` from ``hits``."""
        ...


def _words(text: str) -> set[str]:
    return {w.strip(".").lower() for w in _WORD.findall(text)} - _STOP


class EntityCheck:
    """Which entities a question names, and whether a chunk mentions all of them.

    Entities are the e-mail addresses and phone numbers in the question (:func:`expunge.catalog.identifiers_in`)
    and the names a :class:`NameFinder` tags in it; each becomes a :class:`expunge.catalog.Mention`, so a chunk
    writing the name in capitals, NFD or with a zero-width space, or the number in another format, still
    mentions it. A chunk must mention *every* entity named: a question about two people is answered from a
    chunk about both, and a question about a person and a place from a chunk naming both.

    Args:
        names: Finds names in questions; default: spaCy's small English model, every name-like label (PERSON,
            ORG, GPE…: it labels some person names ORG), one word or more, with a second reading of words in
            capitals.
        region: Country of phone numbers written without their country code (ISO 3166-1 alpha-2).
    """

    def __init__(self, names: NameFinder | None = None, *, region: str | None = None) -> None:
        self.names = names if names is not None else SpacyNameFinder(labels=NAME_LABELS, min_words=1, recase=True)
        self.region = region
        self.named = functools.lru_cache(maxsize=4096)(self._named)

    def _named(self, question: str) -> tuple[Mention, ...]:
        """The entities ``question`` names (empty when it names none)."""
        found: dict[tuple[str, str], Mention] = {}
        for kind, canonical in identifiers_in(question, region=self.region):
            mention = Mention.of(kind, canonical, region=self.region)
            found.setdefault((kind, mention.canonical), mention)
        (names,) = self.names.find([question])
        for name in names:
            try:
                mention = Mention.of("name", name)
            except InvalidIdentifierError:  # a span of format characters or punctuation only
                continue
            if not any(m.kind != "name" and mention.canonical in m.canonical for m in found.values()):
                found.setdefault(("name", mention.canonical), mention)
        return tuple(found.values())

    def mentioned(self, text: str, named: Sequence[Mention]) -> bool:
        """True when ``text`` mentions every one of ``named``."""
        folded = FoldedText.of(text)
        return all(m.found_in(folded) for m in named)

    def keep(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        """The hits that mention every entity ``question`` names (all of them when it names none)."""
        named = self.named(question)
        if not named:
            return list(hits)
        return [h for h in hits if self.mentioned(h.row.text, named)]


class ExtractiveAnswerer:
    """Quote the sentences of the retrieved chunks that share the most words with the question.

    Args:
        sentences: How many sentences to quote at most.
        entities: The entity check applied to the hits before anything is quoted; default: a new
            :class:`EntityCheck`.
        check_entities: False turns the check off: the nearest chunks are quoted whoever they are about (what
            answers did before; the answers benchmark measures it).
    """

    def __init__(self, *, sentences: int = 2, entities: EntityCheck | None = None, check_entities: bool = True) -> None:
        self.sentences = sentences
        self.entities = (entities or EntityCheck()) if check_entities else None

    def answer(self, question: str, hits: Sequence[Hit]) -> Answer:
        """Quote from the ``hits`` that pass the entity check; abstain when none does."""
        if self.entities is not None:
            hits = self.entities.keep(question, hits)
        if not hits:
            return Answer(ABSTAIN, (), True)
        asked = _words(question)
        scored = []
        for rank, hit in enumerate(hits):
            for sentence in _SENTENCE.split(hit.row.text):
                overlap = len(asked & _words(sentence))
                scored.append((-overlap, rank, sentence.strip(), hit.row.chunk_id))
        scored.sort(key=lambda s: (s[0], s[1]))
        best = scored[: self.sentences]
        return Answer(" ".join(s[2] for s in best), tuple(dict.fromkeys(s[3] for s in best)), False)
