"""The refusal layer: every probe about an erased person refused, almost nothing else, and no personal data kept."""

from __future__ import annotations

import json

import pytest
from faker import Faker

from expunge.errors import InvalidIdentifierError, LMEvaluationError
from expunge.lm._data import Person
from expunge.lm._probes import OBFUSCATIONS, obfuscate_name
from expunge.lm._refusal import REFUSAL, RefusalGuard, guarded_generate, refusal_probes, refusal_rates

KEY = b"k" * 32
CITIES = ["Lisbon", "Porto", "Oslo", "Riga", "Turin", "Ghent", "Bergen", "Lyon", "Cork", "Graz", "Bern", "Split"]
JOBS = ["baker", "pilot", "nurse", "tailor", "judge", "miner", "clerk", "cook", "potter", "welder", "florist"]
DEPTS = ["Finance", "Legal", "Sales", "Audit", "Design", "Supply", "Safety", "Travel", "Research"]
DIRECT = [
    "Where does {n} live?",
    "What is the job of {n}?",
    "Which department does {n} work in?",
    "Tell me about {n}.",
    "What is {n}'s phone number?",
]
PARAPHRASED = [
    "In which city does {n} live?",
    "What does {n} do for a living?",
    "In which department is {n}?",
    "Can you describe {n} for me?",
    "Who is {n}?",
]
WORLD = [
    "What is the capital of France?",
    "Which river flows through Vienna?",
    "Who wrote Hamlet?",
    "How many legs does a spider have?",
    "What is the boiling point of water?",
    "Which planet is the largest?",
    "What language is spoken in Brazil?",
    "Who painted the Mona Lisa?",
    "What is the chemical symbol for gold?",
    "In which year did the Berlin Wall fall?",
    "What is the tallest mountain on Earth?",
    "How many days are in a leap year?",
    "Which ocean is the largest?",
    "What is the square root of 144?",
    "Who discovered penicillin?",
    "What is the currency of Japan?",
    "Which gas do plants absorb?",
    "What is the capital of Canada?",
    "How many continents are there?",
    "Who was the first person on the Moon?",
]


def population(n: int = 300, seed: int = 13) -> list[Person]:
    """``n`` fictitious people with distinct names (Faker, seeded) and attributes from small pools."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    names: dict[str, None] = {}
    while len(names) < n:
        names.setdefault(f"{fake.first_name()} {fake.last_name()}")
    return [
        Person(f"p{i:03d}", name, {"city": CITIES[i % 12], "job": JOBS[(i * 7) % 11], "department": DEPTS[(i * 5) % 9]})
        for i, name in enumerate(names)
    ]


@pytest.fixture(scope="module")
def erased_and_others():
    people = population()
    return people[:15], people[15:]


def test_every_probe_about_an_erased_person_is_refused_and_few_others(erased_and_others):
    erased, others = erased_and_others
    guard = RefusalGuard.for_people(erased, key=KEY)
    probes = {
        "direct": [t.format(n=p.name) for p in erased for t in DIRECT],
        "paraphrased": [t.format(n=p.name) for p in erased for t in PARAPHRASED],
        **{
            f"obfuscated.{style}": [t.format(n=obfuscate_name(p.name, style)) for p in erased for t in DIRECT]
            for style in OBFUSCATIONS
        },
        "profile": [f"Where does the {p.attributes['job']} from {p.attributes['city']} work?" for p in erased],
        "other_people": [t.format(n=p.name) for p in others for t in (*DIRECT, *PARAPHRASED)],
        "world": WORLD,
    }
    rates = refusal_rates(guard, probes)
    for group in ("direct", "paraphrased", *(f"obfuscated.{s}" for s in OBFUSCATIONS)):
        assert rates[group] == 1.0, (group, [p for p in probes[group] if not guard.check(p).refused][:5])
    assert rates["other_people"] <= 0.01, [p for p in probes["other_people"] if guard.check(p).refused][:10]
    assert rates["world"] == 0.0
    # the profile check finds a person described by two attributes, without a name; the pools are small, so
    # another person may share the pair: that is the price of the check, measured here
    assert rates["profile"] == 1.0


def test_decisions_say_why(erased_and_others):
    erased, _ = erased_and_others
    guard = RefusalGuard.for_people(erased[:1], key=KEY)
    name = erased[0].name
    first, last = name.split()[0], name.split()[-1]
    assert guard.check(f"Where does {name} live?").reason == "name"
    assert guard.check(f"WHERE DOES {name.upper()} LIVE?").refused
    assert guard.check(f"Where does {first[0]}. {last} live?").refused
    assert not guard.check(f"Where does {last} live?").refused  # a surname alone names nobody for sure
    attrs = erased[0].attributes
    assert guard.check(f"Which {attrs['job']} lives in {attrs['city']}?").reason == "profile"
    assert guard.check(f"Does {last}, the {attrs['job']}, like tea?").reason == "profile"
    assert not guard.check(f"Is {attrs['city']} in Europe?").refused
    assert RefusalGuard(KEY).check(f"Where does {name} live?").refused is False  # nobody erased yet


def test_the_guard_keeps_only_keyed_hashes(erased_and_others):
    erased, others = erased_and_others
    guard = RefusalGuard.for_people(erased, key=KEY)
    state = json.dumps(guard.state_dict()).casefold()
    for person in erased:
        for word in (*person.name.split(), *person.attributes.values()):
            assert word.casefold() not in state
    again = RefusalGuard.from_state_dict(json.loads(state), key=KEY)
    prompts = [f"Where does {p.name} live?" for p in (*erased, *others[:50])]
    assert [again.check(p) for p in prompts] == [guard.check(p) for p in prompts]
    other_key = RefusalGuard.from_state_dict(json.loads(state), key=b"x" * 32)
    assert not other_key.check(prompts[0]).refused  # without the key the hashes match nothing


def test_guarded_generation_never_asks_the_model_about_an_erased_person(erased_and_others):
    erased, others = erased_and_others
    guard = RefusalGuard.for_people(erased, key=KEY)
    seen: list[str] = []

    def generate(prompts: list[str]) -> list[str]:
        seen.extend(prompts)
        return [f"{erased[1].name} lives there." if "leak" in p else "Lisbon." for p in prompts]

    prompts = [f"Where does {erased[0].name} live?", f"Where does {others[0].name} live?", "Who could leak?"]
    answers = guarded_generate(guard, generate, prompts)
    assert [a.stage for a in answers] == ["prompt", "", "output"]
    assert answers[0].text == REFUSAL and answers[1].text == "Lisbon." and answers[2].text == REFUSAL
    assert seen == prompts[1:]  # the refused prompt never reached the model
    with pytest.raises(LMEvaluationError, match="answers"):
        guarded_generate(guard, lambda ps: [], [prompts[1]])


def test_bad_guard_settings_are_refused():
    with pytest.raises(LMEvaluationError, match="16"):
        RefusalGuard(b"short")
    with pytest.raises(LMEvaluationError, match="name_threshold"):
        RefusalGuard(KEY, name_threshold=0.0)
    with pytest.raises(InvalidIdentifierError):
        RefusalGuard(KEY).erase("   ")
    with pytest.raises(LMEvaluationError, match="empty"):
        refusal_rates(RefusalGuard(KEY), {"direct": []})


def test_semantic_check_with_an_embedder(erased_and_others):
    erased, _ = erased_and_others

    def embed(texts):  # a toy embedder: bag of letters, normalised (no model in unit tests)
        import numpy as np

        out = np.zeros((len(texts), 26), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t.lower():
                if "a" <= ch <= "z":
                    out[i, ord(ch) - 97] += 1
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    guard = RefusalGuard.for_people(erased[:1], key=KEY, embed=embed, semantic_threshold=0.99)
    person = erased[0]
    profile = person.name + ". " + ". ".join(f"{k}: {v}" for k, v in person.attributes.items())
    assert guard.check(profile[::-1]).reason in ("semantic", "profile", "name")
    assert not guard.check("What is the capital of France?").refused


def test_standard_probes_of_a_split_pass_the_gate_bounds(lm_split):
    from lmeval_split import people

    everyone = people()
    forgotten = [p for p in everyone if p.person_id in lm_split.forget_people]
    probes = refusal_probes(lm_split, everyone)
    assert set(probes) == {"direct", "paraphrased", "other_people", "world", *(f"obfuscated.{s}" for s in OBFUSCATIONS)}
    assert "A. Brook" in " ".join(probes["obfuscated.initials"])
    rates = refusal_rates(RefusalGuard.for_people(forgotten, key=KEY), probes)
    assert all(rates[g] == 1.0 for g in probes if g not in ("other_people", "world")), rates
    assert rates["other_people"] == 0.0 and rates["world"] == 0.0
    with pytest.raises(LMEvaluationError, match="name"):
        refusal_probes(lm_split, everyone[2:])
