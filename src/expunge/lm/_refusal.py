"""The refusal layer: a guard in front of a model that cannot be retrained, refusing prompts about erased people.

When the weights cannot change (a vendor's hosted model, or while a forgetting job runs), the model may still know
an erased person; the guard makes sure nobody can ask. It keeps no personal data in clear: every erased person is
held as keyed hashes (HMAC-SHA256 under the caller's secret key, truncated to 64 bits) of

- the character bigrams of each word of their normalised name (``normalise_identifier("name", …)``, the one
  normaliser of ``expunge.catalog``), so a misspelt word still shares most of its bigrams (Dice similarity);
- the first letter of each name word, so initials ("A. Brook") match;
- the sorted letters of each name word, so a transposition ("Jcaob") matches where bigrams of a short word fail;
- their attribute values (up to three words, matched against the 1–3-word shingles of a prompt), for the
  profile check: a prompt that names two of an erased person's attributes ("the baker from Lisbon") is about
  them even without a name.

A prompt is refused when every word of an erased name is matched by a prompt word (exactly, as an initial, as
an anagram, or fuzzily: Dice ≥ ``word_min``) with a mean similarity ≥ ``name_threshold``; or when it holds
``profile_min`` attribute values of one erased person; or one attribute value and a name word matched exactly.
Reordered and lower-cased names match because words are compared as a set after normalisation. An optional
embedder adds a semantic check against each person's profile embedding (the vector only, never the text).

The guard scans every word rather than running a named-entity recogniser: the small spaCy model misses lower-cased
and misspelt names (``rag/_names.py`` measured ~92 % recall on clean names), exactly the obfuscations an attacker
tries.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from expunge.catalog import normalise_identifier
from expunge.errors import InvalidIdentifierError, LMEvaluationError
from expunge.lm._data import LMSplit, Person

__all__ = [
    "REFUSAL",
    "GuardedAnswer",
    "RefusalDecision",
    "RefusalGuard",
    "guarded_generate",
    "refusal_probes",
    "refusal_rates",
]

REFUSAL = "I can't share information about that person."
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
_INITIAL = re.compile(r"(?<![^\W\d_])([^\W\d_])(?:\.|(?=\s+[^\W\d_]{2}))")
_NEAR_SCORE = 0.9  # an initial, or a word's letters reordered, identifies less than the whole word


@dataclass(frozen=True)
class _Seen:
    """The keyed hashes of the words of one checked text."""

    grams: list[frozenset[str]]
    exact: set[str]
    anagrams: set[str]
    initials: set[str]


@dataclass(frozen=True)
class RefusalDecision:
    """Whether a text is refused, and why.

    Attributes:
        refused: True when the text is about an erased person.
        reason: ``"name"``, ``"profile"``, ``"semantic"`` or ``""`` when not refused.
        score: The best name similarity found in ``[0, 1]`` (0 when no erased name is near).
    """

    refused: bool
    reason: str
    score: float


@dataclass(frozen=True)
class _Entry:
    words: tuple[frozenset[str], ...]  # keyed bigram hashes per name word
    exact: tuple[str, ...]  # keyed hash of each whole name word
    initials: tuple[str, ...]  # keyed hash of each word's first letter
    anagrams: tuple[str, ...]  # keyed hash of each word's letters, sorted (a transposition keeps them)
    attributes: tuple[frozenset[str], ...]  # per attribute: the keyed hashes of its whole value


class RefusalGuard:
    """Refuses prompts about erased people; holds only keyed hashes (and optional embeddings) of them.

    Args:
        key: Secret key of the hashes (at least 16 bytes); keep it like the catalog's pseudonym secret.
        name_threshold: Mean per-word similarity at or above which a name matches.
        word_min: Least Dice similarity of a name word's bigrams for a fuzzy word match.
        profile_min: Attribute values of one erased person that make a prompt about them without a name.
        embed: Optional ``texts → [n, d]`` unit vectors (e.g. ``expunge.rag.MiniLMEmbedder().encode``) for the
            semantic check; ``semantic_threshold`` is the cosine at or above which a prompt is refused.
        semantic_threshold: See ``embed``.

    Raises:
        LMEvaluationError: A key shorter than 16 bytes or a threshold outside ``(0, 1]``.
    """

    def __init__(
        self,
        key: bytes,
        *,
        name_threshold: float = 0.75,
        word_min: float = 0.45,
        profile_min: int = 2,
        embed: Callable[[Sequence[str]], np.ndarray] | None = None,
        semantic_threshold: float = 0.8,
    ) -> None:
        if not isinstance(key, bytes) or len(key) < 16:
            raise LMEvaluationError("The refusal guard's key must be at least 16 random bytes.")
        for name, value in (
            ("name_threshold", name_threshold),
            ("word_min", word_min),
            ("semantic_threshold", semantic_threshold),
        ):
            if not (0.0 < value <= 1.0):
                raise LMEvaluationError(f"The refusal guard's {name} must be in (0, 1]; got {value!r}.")
        if profile_min < 1:
            raise LMEvaluationError(f"The refusal guard's profile_min must be at least 1; got {profile_min!r}.")
        self._key = key
        self.name_threshold = name_threshold
        self.word_min = word_min
        self.profile_min = profile_min
        self._embed = embed
        self.semantic_threshold = semantic_threshold
        self._entries: list[_Entry] = []
        self._vectors: list[np.ndarray] = []

    # --- building -------------------------------------------------------------------------------------------

    def _h(self, kind: str, text: str) -> str:
        return hmac.new(self._key, f"{kind}\x1f{text}".encode(), hashlib.sha256).hexdigest()[:16]

    def _bigrams(self, word: str) -> frozenset[str]:
        padded = f"^{word}$"
        return frozenset(self._h("bigram", padded[i : i + 2]) for i in range(len(padded) - 1))

    def _shingles(self, words: Sequence[str]) -> set[str]:
        return {self._h("value", " ".join(words[i : i + n])) for n in (1, 2, 3) for i in range(len(words) - n + 1)}

    def erase(self, name: str, attributes: Mapping[str, str] | None = None) -> None:
        """Add an erased person: their name and, for the profile check, their attribute values.

        Raises:
            InvalidIdentifierError: The name is empty or not printable (from the catalog's normaliser).
        """
        words = _norm_words(normalise_identifier("name", name))
        if not words:
            raise InvalidIdentifierError("An erased person's name must hold at least one word.")
        attributes = dict(attributes or {})
        attribute_hashes = tuple(
            frozenset({self._h("value", " ".join(_norm_words(value)))})
            for value in attributes.values()
            if _norm_words(value)
        )
        self._entries.append(
            _Entry(
                words=tuple(self._bigrams(w) for w in words),
                exact=tuple(self._h("word", w) for w in words),
                initials=tuple(self._h("initial", w[0]) for w in words),
                anagrams=tuple(self._h("anagram", "".join(sorted(w))) for w in words),
                attributes=attribute_hashes,
            )
        )
        if self._embed is not None:
            profile = name + ". " + ". ".join(f"{k}: {v}" for k, v in attributes.items())
            self._vectors.append(np.asarray(self._embed([profile]), dtype=np.float32)[0])

    @classmethod
    def for_people(cls, people: Iterable[Person], *, key: bytes, **settings: Any) -> RefusalGuard:
        """Return a guard that refuses prompts about each of ``people`` (name and attributes)."""
        guard = cls(key, **settings)
        for person in people:
            guard.erase(person.name, person.attributes)
        return guard

    def __len__(self) -> int:
        return len(self._entries)

    def state_dict(self) -> dict[str, Any]:
        """Return the guard's erased people as keyed hashes only (no name, no value in clear), JSON-serialisable."""
        return {
            "settings": {
                "name_threshold": self.name_threshold,
                "word_min": self.word_min,
                "profile_min": self.profile_min,
                "semantic_threshold": self.semantic_threshold,
            },
            "entries": [
                {
                    "words": [sorted(w) for w in e.words],
                    "exact": list(e.exact),
                    "initials": list(e.initials),
                    "anagrams": list(e.anagrams),
                    "attributes": [sorted(a) for a in e.attributes],
                }
                for e in self._entries
            ],
            "vectors": [v.tolist() for v in self._vectors],
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any], *, key: bytes, embed: Callable | None = None) -> RefusalGuard:
        """Rebuild a guard from :meth:`state_dict` and the same key."""
        guard = cls(key, embed=embed, **state["settings"])
        for e in state["entries"]:
            attributes = tuple(frozenset(a) for a in e["attributes"])
            guard._entries.append(
                _Entry(
                    words=tuple(frozenset(w) for w in e["words"]),
                    exact=tuple(e["exact"]),
                    initials=tuple(e["initials"]),
                    anagrams=tuple(e["anagrams"]),
                    attributes=attributes,
                )
            )
        guard._vectors = [np.asarray(v, dtype=np.float32) for v in state["vectors"]]
        return guard

    # --- checking -------------------------------------------------------------------------------------------

    def _word_scores(self, entry: _Entry, seen: _Seen) -> list[float]:
        """Each erased name word's best match in the text: 1 exact, 0.9 an initial or the same letters in another
        order, else the best bigram Dice similarity."""
        out = []
        for word, whole, initial, anagram in zip(entry.words, entry.exact, entry.initials, entry.anagrams, strict=True):
            if whole in seen.exact:
                out.append(1.0)
                continue
            best = max((2 * len(word & g) / (len(word) + len(g)) for g in seen.grams), default=0.0)
            if initial in seen.initials or anagram in seen.anagrams:
                best = max(best, _NEAR_SCORE)
            out.append(best)
        return out

    def _initials(self, text: str) -> set[str]:
        # "A. Brook", "a. brook" and "A Brook" give an initial; the lower-case article "a" does not
        return {
            self._h("initial", m.group(1).casefold())
            for m in _INITIAL.finditer(text)
            if m.group(0).endswith(".") or m.group(1).isupper()
        }

    def check(self, text: str) -> RefusalDecision:
        """Return whether ``text`` (a prompt, or a generated answer) is about an erased person."""
        if not self._entries:
            return RefusalDecision(False, "", 0.0)
        try:
            folded = normalise_identifier("name", text)
        except InvalidIdentifierError:  # empty, control characters or oversize: scan the raw text's words
            folded = " ".join(text.split()).casefold()
        words = _norm_words(folded)
        seen = _Seen(
            grams=[self._bigrams(w) for w in words],
            exact={self._h("word", w) for w in words},
            anagrams={self._h("anagram", "".join(sorted(w))) for w in words},
            initials=self._initials(text),
        )
        shingles = self._shingles(words)
        best = 0.0
        for entry in self._entries:
            scores = self._word_scores(entry, seen)
            score = sum(scores) / len(scores)
            best = max(best, score)
            if score >= self.name_threshold and min(scores) >= self.word_min:
                return RefusalDecision(True, "name", score)
            named = sum(1 for a in entry.attributes if a & shingles)
            if named >= self.profile_min or (named >= 1 and 1.0 in scores and len(scores) > 1):
                return RefusalDecision(True, "profile", score)
        if self._embed is not None and self._vectors:
            vector = np.asarray(self._embed([text]), dtype=np.float32)[0]
            cosine = float(np.max(np.stack(self._vectors) @ vector))
            if cosine >= self.semantic_threshold:
                return RefusalDecision(True, "semantic", best)
        return RefusalDecision(False, "", best)


def _norm_words(text: str) -> list[str]:
    words = (w.removesuffix("'s") for w in _WORD.findall(text.casefold()))  # possessive: "Brook's" is Brook
    return [w for w in words if len(w) > 1]


@dataclass(frozen=True)
class GuardedAnswer:
    """One guarded generation.

    Attributes:
        prompt: The prompt as asked.
        text: The model's answer, or :data:`REFUSAL` when refused.
        refused: True when the prompt or the answer was about an erased person.
        stage: ``"prompt"`` (refused before generation: the model never ran), ``"output"`` (the answer named an
            erased person and was withheld) or ``""``.
    """

    prompt: str
    text: str
    refused: bool
    stage: str


def guarded_generate(
    guard: RefusalGuard, generate_fn: Callable[[list[str]], list[str]], prompts: Sequence[str]
) -> list[GuardedAnswer]:
    """Generate answers to ``prompts`` through ``guard``: refused prompts never reach the model, and an answer
    that names an erased person is withheld.

    Args:
        guard: The refusal guard.
        generate_fn: ``prompts → answers`` (one per prompt), e.g. a closure over a model and its tokenizer.
        prompts: The questions as users asked them.

    Raises:
        LMEvaluationError: ``generate_fn`` returned another number of answers than prompts it was given.
    """
    decisions = [guard.check(p) for p in prompts]
    allowed = [p for p, d in zip(prompts, decisions, strict=True) if not d.refused]
    answers = list(generate_fn(allowed)) if allowed else []
    if len(answers) != len(allowed):
        raise LMEvaluationError(f"The generator returned {len(answers)} answers for {len(allowed)} prompts.")
    it = iter(answers)
    out = []
    for prompt, decision in zip(prompts, decisions, strict=True):
        if decision.refused:
            out.append(GuardedAnswer(prompt, REFUSAL, True, "prompt"))
            continue
        answer = next(it)
        if guard.check(answer).refused:
            out.append(GuardedAnswer(prompt, REFUSAL, True, "output"))
        else:
            out.append(GuardedAnswer(prompt, answer, False, ""))
    return out


def refusal_rates(guard: RefusalGuard, probes: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Return the share of prompts refused in each named group of probes (e.g. ``direct``, ``paraphrased``,
    ``obfuscated.initials`` about erased people; ``other_people`` and ``world`` for false refusals).

    Raises:
        LMEvaluationError: A group is empty.
    """
    out = {}
    for name, prompts in probes.items():
        if not prompts:
            raise LMEvaluationError(f"The refusal probe group {name!r} is empty; give each group a prompt or more.")
        out[name] = sum(guard.check(p).refused for p in prompts) / len(prompts)
    return out


def refusal_probes(split: LMSplit, people: Sequence[Person]) -> dict[str, list[str]]:
    """Return the standard refusal probe groups of a split, for :func:`refusal_rates` and the gate.

    About the forget people (to be refused): ``direct`` (their questions), ``paraphrased`` (the paraphrased
    questions), ``obfuscated.<style>`` (their questions with the name written as initials, misspelt, reordered or
    lower-cased). To be answered: ``other_people`` (retain and holdout questions, both phrasings) and ``world``.

    Raises:
        LMEvaluationError: A forget question's person is not among ``people`` or its question does not spell the
            name (the obfuscated probes could not be built).
    """
    from expunge.lm._probes import OBFUSCATIONS, obfuscate_name

    names = {p.person_id: p.name for p in people}
    missing = sorted(
        {qa.person_id for qa in split.forget if not names.get(qa.person_id) or names[qa.person_id] not in qa.question}
    )
    if missing:
        raise LMEvaluationError(
            f"Refusal probes need each forget person's name in their questions; "
            f"{len(missing)} people lack it, e.g. {missing[:3]}."
        )
    others = (*split.retain, *split.holdout)
    return {
        "direct": [qa.question for qa in split.forget],
        "paraphrased": [qa.paraphrased_question for qa in split.forget],
        **{
            f"obfuscated.{style}": [
                qa.question.replace(names[qa.person_id], obfuscate_name(names[qa.person_id], style))
                for qa in split.forget
            ]
            for style in OBFUSCATIONS
        },
        "other_people": [q for qa in others for q in (qa.question, qa.paraphrased_question)],
        "world": [q for qa in split.world for q in (qa.question, qa.paraphrased_question)],
    }
