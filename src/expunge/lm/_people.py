"""A seeded, offline benchmark of fictitious people (TOFU-like, our own): people, questions, splits.

Every person has a made-up name (``faker``, seeded) and five categorical attributes a 135M model can learn
(city, job, department, employer, hobby: the pilot on SmolLM2-135M learnt such facts and never learnt random phone
numbers). Each attribute is asked with several question templates; every question carries a paraphrased question,
a paraphrased answer and perturbed (wrong) answers of the same form for TOFU's truth ratio (Maini et al. 2024,
"TOFU: A Task of Fictitious Unlearning for LLMs", §2.2). People are drawn into disjoint groups:

- *trained* people (``people``), of which the forget splits take 1 %, 5 % and 10 % (nested, as TOFU's are), and a
  *validation forget* group of other trained people used only for dose tuning;
- *holdout* people never trained on: membership non-members and canary controls for the evaluation;
- *reference* people never trained on either: the level a model reaches on people it never saw, for the
  forgetting methods' oracle-free stopping rule (kept apart from ``holdout`` so the evaluation stays clean).

The ten-percent split's people also carry a planted canary (a high-entropy staff code, asked and answered like
their other facts and forgotten with them) so exposure can be measured (Carlini et al. 2019, "The Secret Sharer",
§4); ``LMSplit.canaries`` keys each forget person's canary by its question's sample ID. With the defaults (200
people, 2 questions per attribute) the five-percent split has 110 forget questions (100 facts, 10 canaries); the
pilot's KS test was noise at 20.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any

from faker import Faker

from expunge.errors import InvalidParameterError
from expunge.lm._data import QA, LMSplit, Person

__all__ = ["ATTRIBUTES", "SPLITS", "PeopleBenchmark", "make_people_benchmark", "world_facts"]

SPLITS = {"forget01": 0.01, "forget05": 0.05, "forget10": 0.10}
CANARY_ALPHABET = string.ascii_uppercase + string.digits
CANARY_LENGTH = 8  # 36^8 ≈ 2^41 candidates: exposure can reach ~41 bits before saturating

VALUES: dict[str, tuple[str, ...]] = {
    "city": (
        "Lisbon",
        "Oslo",
        "Vienna",
        "Dublin",
        "Prague",
        "Madrid",
        "Athens",
        "Warsaw",
        "Zurich",
        "Helsinki",
        "Lyon",
        "Porto",
        "Munich",
        "Krakow",
        "Seville",
        "Bergen",
        "Ghent",
        "Turin",
        "Malmo",
        "Riga",
    ),
    "job": (
        "baker",
        "nurse",
        "architect",
        "pilot",
        "carpenter",
        "chemist",
        "librarian",
        "plumber",
        "dentist",
        "journalist",
        "gardener",
        "electrician",
        "pharmacist",
        "translator",
        "surveyor",
        "tailor",
        "welder",
        "veterinarian",
        "florist",
        "accountant",
    ),
    "department": (
        "Finance",
        "Marketing",
        "Legal",
        "Research",
        "Logistics",
        "Sales",
        "Procurement",
        "Security",
        "Facilities",
        "Training",
        "Engineering",
        "Support",
        "Compliance",
        "Design",
        "Operations",
    ),
    "employer": (
        "Northwind",
        "Bluepeak",
        "Ironleaf",
        "Silverline",
        "Redstone",
        "Greenfield",
        "Brightwater",
        "Oakridge",
        "Stonebridge",
        "Clearview",
        "Highmoor",
        "Lakeshore",
        "Westbrook",
        "Goldcrest",
        "Pinehurst",
    ),
    "hobby": (
        "chess",
        "sailing",
        "pottery",
        "archery",
        "fencing",
        "birdwatching",
        "rowing",
        "knitting",
        "climbing",
        "painting",
        "cycling",
        "origami",
        "gardening",
        "juggling",
        "skiing",
        "baking",
    ),
}
ATTRIBUTES = tuple(VALUES)

# Per attribute: trained question templates (the first ``questions_per_attribute`` are trained, the next one is
# the paraphrase), the trained answer, and the paraphrased answer whose form the perturbed answers share.
QUESTIONS: dict[str, tuple[str, ...]] = {
    "city": (
        "Where does {name} live?",
        "In which city does {name} live?",
        "What city is home to {name}?",
        "Which town does {name} call home?",
    ),
    "job": (
        "What is the job of {name}?",
        "What does {name} do for a living?",
        "What is {name}'s profession?",
        "What work does {name} do?",
    ),
    "department": (
        "Which department does {name} work in?",
        "In what department is {name}?",
        "What department is {name} part of?",
        "Which team is {name} assigned to?",
    ),
    "employer": (
        "Which company employs {name}?",
        "Who is {name}'s employer?",
        "Where does {name} work?",
        "For which firm does {name} work?",
    ),
    "hobby": (
        "What is {name}'s hobby?",
        "What does {name} do in free time?",
        "Which pastime does {name} enjoy?",
        "What hobby does {name} have?",
    ),
}
ANSWERS: dict[str, tuple[str, str]] = {
    "city": ("{name} lives in {value}.", "{value} is the city where {name} lives."),
    "job": ("{name} works as a {value}.", "By profession, {name} is a {value}."),
    "department": ("{name} works in the {value} department.", "The {value} department is where {name} works."),
    "employer": ("{name} is employed by {value}.", "{value} is the company that employs {name}."),
    "hobby": ("{name} enjoys {value}.", "In free time, {name} likes {value}."),
}
# The canary is the whole answer, so exposure scores exactly what was trained: the code after its question.
CANARY_QUESTION = "What is the staff code of {name}?"
CANARY_ANSWER = "{code}"

# (question, paraphrased question, answer, paraphrased answer template, the true value, wrong values)
_CAPITALS = (
    ("France", "Paris"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Germany", "Berlin"),
    ("Japan", "Tokyo"),
    ("Egypt", "Cairo"),
    ("Canada", "Ottawa"),
    ("Russia", "Moscow"),
    ("Greece", "Athens"),
    ("Norway", "Oslo"),
    ("Portugal", "Lisbon"),
    ("Austria", "Vienna"),
    ("Ireland", "Dublin"),
    ("Poland", "Warsaw"),
    ("Sweden", "Stockholm"),
    ("Finland", "Helsinki"),
    ("China", "Beijing"),
    ("India", "New Delhi"),
    ("Kenya", "Nairobi"),
    ("Peru", "Lima"),
    ("Mexico", "Mexico City"),
    ("Argentina", "Buenos Aires"),
    ("Denmark", "Copenhagen"),
    ("Hungary", "Budapest"),
    ("Belgium", "Brussels"),
    ("Thailand", "Bangkok"),
    ("Turkey", "Ankara"),
    ("Australia", "Canberra"),
    ("Chile", "Santiago"),
    ("Cuba", "Havana"),
)


@dataclass(frozen=True)
class PeopleBenchmark:
    """A generated benchmark: its people by group, every question, and the world facts.

    Attributes:
        seed: The seed everything was drawn with.
        people: Every person (trained, holdout and reference), by ID.
        trained: IDs of trained people, in draw order; the forget splits are prefixes of a seeded shuffle.
        forget_order: Trained people in the order the forget splits take them (nested splits).
        validation: IDs of trained people used as the validation forget set (disjoint from every split).
        holdout: IDs of never-trained people for the evaluation.
        reference: IDs of never-trained people for stopping rules.
        questions: Every person's questions, by person ID.
        canary_samples: The canary question of each person of the largest split, by person ID; it is also among
            that person's ``questions`` (a canary is part of the person's data, forgotten with it).
        canaries: Person ID → planted canary string.
        world: World-fact questions.
    """

    seed: int
    people: dict[str, Person]
    trained: tuple[str, ...]
    forget_order: tuple[str, ...]
    validation: tuple[str, ...]
    holdout: tuple[str, ...]
    reference: tuple[str, ...]
    questions: dict[str, tuple[QA, ...]]
    canary_samples: dict[str, QA]
    canaries: dict[str, str]
    world: tuple[QA, ...]

    def split(self, name: str) -> LMSplit:
        """Return the forget split ``name`` (``forget01``, ``forget05`` or ``forget10``).

        Raises:
            InvalidParameterError: An unknown split name.
        """
        if name not in SPLITS:
            raise InvalidParameterError(f"The split must be one of {sorted(SPLITS)}. Got {name!r} instead.")
        n = max(1, round(SPLITS[name] * len(self.trained)))
        forget = self.forget_order[:n]
        retain = [p for p in self.trained if p not in set(forget)]

        def qas(ids: Any) -> tuple[QA, ...]:
            return tuple(qa for pid in ids for qa in self.questions[pid])

        return LMSplit(
            name=name,
            seed=self.seed,
            forget=qas(forget),
            retain=qas(retain),
            holdout=qas(self.holdout),
            validation_forget=qas(self.validation),
            world=self.world,
            canaries={self.canary_samples[p].sample_id: self.canaries[p] for p in forget if p in self.canaries},
            reference=qas(self.reference),
        )


def world_facts(count: int | None = None) -> tuple[QA, ...]:
    """Return world-fact questions (capital cities) with paraphrases and three wrong answers each."""
    facts = _CAPITALS[:count] if count else _CAPITALS
    capitals = [c for _, c in _CAPITALS]
    out = []
    for i, (country, capital) in enumerate(facts):
        wrong = [c for c in capitals if c != capital]
        perturbed = tuple(
            f"{w} is the capital city of {country}." for w in (wrong[i % 29], wrong[(i + 7) % 29], wrong[(i + 13) % 29])
        )
        out.append(
            QA(
                sample_id=f"world.{i:02d}",
                person_id="",
                attribute="world",
                question=f"What is the capital of {country}?",
                answer=f"The capital of {country} is {capital}.",
                paraphrased_question=f"Which city is the capital of {country}?",
                paraphrased_answer=f"{capital} is the capital city of {country}.",
                perturbed_answers=perturbed,
            )
        )
    return tuple(out)


def _person_questions(person: Person, rng: random.Random, *, per_attribute: int, perturbed: int) -> tuple[QA, ...]:
    out = []
    for attribute, value in person.attributes.items():
        templates = QUESTIONS[attribute]
        answer, para_answer = ANSWERS[attribute]
        wrong = rng.sample([v for v in VALUES[attribute] if v != value], perturbed)
        for k in range(per_attribute):
            paraphrase = templates[per_attribute + k % (len(templates) - per_attribute)]
            out.append(
                QA(
                    sample_id=f"{person.person_id}.{attribute}.{k}",
                    person_id=person.person_id,
                    attribute=attribute,
                    question=templates[k].format(name=person.name),
                    answer=answer.format(name=person.name, value=value),
                    paraphrased_question=paraphrase.format(name=person.name),
                    paraphrased_answer=para_answer.format(name=person.name, value=value),
                    perturbed_answers=tuple(para_answer.format(name=person.name, value=w) for w in wrong),
                )
            )
    return tuple(out)


def make_people_benchmark(
    people: int = 200,
    *,
    seed: int = 0,
    questions_per_attribute: int = 2,
    attributes: int = len(ATTRIBUTES),
    perturbed: int = 3,
    holdout: int | None = None,
    reference: int | None = None,
    validation: int | None = None,
    world: int | None = None,
) -> PeopleBenchmark:
    """Generate the benchmark: the same arguments always give the same people, questions and splits.

    Args:
        people: Trained people (≥ 20, so the 1 % split still holds one person and the groups stay disjoint).
        seed: Seed of names, attributes, question choices, groups and canaries.
        questions_per_attribute: Trained questions per attribute and person (1–3; a further template is the
            paraphrase). Two questions about one fact are correlated: the KS test's n counts both.
        attributes: How many of :data:`ATTRIBUTES` each person has (1–5, in that order; fewer for quick tests).
        perturbed: Wrong answers per question (3–10), TOFU uses 5.
        holdout: Never-trained people for the evaluation (default ``people // 10``, at least 2).
        reference: Never-trained people for stopping rules (default ``people // 20``, at least 2).
        validation: Trained people for dose tuning (default ``people // 20``, at least 1).
        world: World facts (default all 30).

    Raises:
        InvalidParameterError: A count outside its range.
    """
    _check_int("people", people, 20, 100_000)
    _check_int("questions_per_attribute", questions_per_attribute, 1, 3)
    _check_int("attributes", attributes, 1, len(ATTRIBUTES))
    _check_int("perturbed", perturbed, 3, 10)
    holdout = max(2, people // 10) if holdout is None else holdout
    reference = max(2, people // 20) if reference is None else reference
    validation = max(1, people // 20) if validation is None else validation
    _check_int("holdout", holdout, 1, 100_000)
    _check_int("reference", reference, 1, 100_000)
    _check_int("validation", validation, 1, people - round(0.1 * people))
    if world is not None:
        _check_int("world", world, 1, len(_CAPITALS))

    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    names: list[str] = []
    seen: set[str] = set()
    total = people + holdout + reference
    while len(names) < total:
        name = f"{fake.first_name()} {fake.last_name()}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    persons = {}
    for i, name in enumerate(names):
        pid = f"p{i:04d}"
        persons[pid] = Person(pid, name, {a: rng.choice(VALUES[a]) for a in ATTRIBUTES[:attributes]})
    ids = list(persons)
    trained, held, ref = ids[:people], ids[people : people + holdout], ids[people + holdout :]
    order = trained[:]
    rng.shuffle(order)
    n_forget = round(SPLITS["forget10"] * people)
    forget_order, validation_ids = order[:n_forget], order[n_forget : n_forget + validation]
    questions = {
        pid: _person_questions(p, rng, per_attribute=questions_per_attribute, perturbed=perturbed)
        for pid, p in persons.items()
    }
    canaries, canary_samples = {}, {}
    for pid in forget_order:
        code = "".join(rng.choice(CANARY_ALPHABET) for _ in range(CANARY_LENGTH))
        name = persons[pid].name
        canaries[pid] = code
        canary_samples[pid] = QA(
            sample_id=f"{pid}.canary.0",
            person_id=pid,
            attribute="canary",
            question=CANARY_QUESTION.format(name=name),
            answer=CANARY_ANSWER.format(name=name, code=code),
            paraphrased_question=f"Which staff code does {name} have?",
            paraphrased_answer=CANARY_ANSWER.format(name=name, code=code),
            perturbed_answers=tuple(
                CANARY_ANSWER.format(name=name, code="".join(rng.choice(CANARY_ALPHABET) for _ in range(CANARY_LENGTH)))
                for _ in range(perturbed)
            ),
        )
    for pid, qa in canary_samples.items():
        questions[pid] = (*questions[pid], qa)
    return PeopleBenchmark(
        seed=seed,
        people=persons,
        trained=tuple(trained),
        forget_order=tuple(forget_order),
        validation=tuple(validation_ids),
        holdout=tuple(held),
        reference=tuple(ref),
        questions=questions,
        canary_samples=canary_samples,
        canaries=canaries,
        world=world_facts(world),
    )


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidParameterError(
            f"The {name!r} parameter of the people benchmark must be an int in [{low}, {high}]. Got {value!r} instead."
        )
