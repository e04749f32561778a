"""Answering over retrieved chunks: an extractive answerer (no LLM), behind a protocol a user can replace."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from expunge.rag._rows import Hit

__all__ = ["ABSTAIN", "Answer", "ExtractiveAnswerer", "Generator"]

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


class ExtractiveAnswerer:
    """Quote the sentences of the retrieved chunks that share the most words with the question.

    Args:
        sentences: How many sentences to quote at most.
    """

    def __init__(self, *, sentences: int = 2) -> None:
        self.sentences = sentences

    def answer(self, question: str, hits: Sequence[Hit]) -> Answer:
        """Quote from ``hits``; abstain when there are none."""
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
