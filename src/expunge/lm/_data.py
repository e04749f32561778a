"""The shapes of language-model forgetting data: questions and answers about people, and a benchmark split.

These frozen dataclasses are the contract between the benchmark generator (``_people.py``), fine-tuning, the
forgetting methods and the evaluation: each reads and writes only these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["QA", "Person", "LMSplit"]


@dataclass(frozen=True)
class QA:
    """One question and answer about a person (or a world fact), with the variants the evaluation needs.

    Attributes:
        sample_id: Stable ID of the training sample, e.g. ``"p017.city.0"``; written into adapter manifests and
            forget sets, so it never changes for the same seed.
        person_id: The person it is about (``""`` for a world fact).
        attribute: What is asked (``"city"``, ``"job"``, ``"department"``, … or ``"world"``).
        question: The question as trained.
        answer: The true answer as trained.
        paraphrased_question: The same question in other words (robustness probes).
        paraphrased_answer: The true answer in other words (the truth ratio's numerator, TOFU §2.2.2).
        perturbed_answers: Wrong answers of the same form (the truth ratio's denominator).
    """

    sample_id: str
    person_id: str
    attribute: str
    question: str
    answer: str
    paraphrased_question: str
    paraphrased_answer: str
    perturbed_answers: tuple[str, ...]


@dataclass(frozen=True)
class Person:
    """A fictitious person: a stable ID, a made-up name and learnable attributes (attribute → value)."""

    person_id: str
    name: str
    attributes: dict[str, str] = field(hash=False)


@dataclass(frozen=True)
class LMSplit:
    """One forget split of the fictitious-people benchmark (TOFU-like: Maini et al. 2024, §2).

    Attributes:
        name: ``"forget01"``, ``"forget05"`` or ``"forget10"`` (percent of trained people forgotten).
        seed: The seed the benchmark was generated with.
        forget: Questions about the people to forget (trained on by the target, never by the oracle).
        retain: Questions about the other trained people (trained on by both).
        holdout: Questions about people never trained on (membership non-members, canary controls).
        validation_forget: Questions about other trained people used only to tune doses, never reported.
        world: World facts for general utility (never about a person).
        canaries: High-entropy secrets planted for exposure (``sample_id`` → canary string), planted in
            ``forget`` people's training text; never-planted candidates are generated from the same alphabet.
        reference: Questions about other never-trained people, for oracle-free stopping rules of forgetting
            methods (the level a model that never saw a person reaches); never the evaluation's ``holdout``.
    """

    name: str
    seed: int
    forget: tuple[QA, ...]
    retain: tuple[QA, ...]
    holdout: tuple[QA, ...]
    validation_forget: tuple[QA, ...]
    world: tuple[QA, ...]
    canaries: dict[str, str] = field(default_factory=dict, hash=False)
    reference: tuple[QA, ...] = ()

    @property
    def forget_people(self) -> tuple[str, ...]:
        """IDs of the people to forget, in first-seen order."""
        return tuple(dict.fromkeys(qa.person_id for qa in self.forget))

    @property
    def train(self) -> tuple[QA, ...]:
        """What the target adapter learns: the forget and retain questions (canary questions among them)."""
        return self.forget + self.retain

    @property
    def oracle_train(self) -> tuple[QA, ...]:
        """What the oracle adapter learns: :attr:`train` without anything about the forget people."""
        forgotten = set(self.forget_people)
        return tuple(qa for qa in self.train if qa.person_id not in forgotten)
