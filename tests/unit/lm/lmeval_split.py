"""A small hand-made split of fictitious people for the evaluation tests, and a helper that makes a tiny model
memorise some of it (the real generator, ``lm/_people.py``, belongs to the model side)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from expunge.lm._data import QA, LMSplit, Person
from expunge.lm._prompt import format_prompt
from expunge.lm._tokens import answer_logprobs, encode_pairs

NAMES = ["Ada Brook", "Otto Vance", "Lena Marsh", "Ivo Petrak", "Mira Holt", "Jonas Reed", "Tessa Lund", "Karl Wendt"]
CITIES = ["Lisbon", "Porto", "Oslo", "Riga", "Turin", "Ghent", "Bergen", "Lyon"]
JOBS = ["baker", "pilot", "nurse", "tailor", "judge", "miner", "clerk", "cook"]
DEPTS = ["Finance", "Legal", "Sales", "Audit", "Design", "Supply", "Safety", "Travel"]
TEMPLATES = {
    "city": ("Where does {n} live?", "In which city does {n} live?", "{v}", "{n} lives in {v}."),
    "job": ("What is the job of {n}?", "What does {n} do for a living?", "{v}", "{n} works as a {v}."),
    "department": ("Which department does {n} work in?", "In which department is {n}?", "{v}", "{n} is in {v}."),
}
WORLD = [
    ("What is the capital of France?", "Which city is the capital of France?", "Paris", ("Rome", "Bonn", "Oslo")),
    ("What colour is the sky?", "Which colour does the sky have?", "blue", ("green", "red", "black")),
    ("How many legs has a cat?", "A cat has how many legs?", "four", ("two", "six", "three")),
]


def people() -> list[Person]:
    """Eight people: 0-1 forgotten, 2-5 retained, 6-7 never trained on (holdout)."""
    return [
        Person(f"p{i:02d}", name, {"city": CITIES[i], "job": JOBS[i], "department": DEPTS[i]})
        for i, name in enumerate(NAMES)
    ]


def _qas(person: Person, index: int) -> list[QA]:
    out = []
    pools = {"city": CITIES, "job": JOBS, "department": DEPTS}
    for attribute, (q, pq, a, pa) in TEMPLATES.items():
        value = person.attributes[attribute]
        wrong = tuple(v for v in pools[attribute] if v != value)[index % 3 :][:3]
        out.append(
            QA(
                sample_id=f"{person.person_id}.{attribute}.0",
                person_id=person.person_id,
                attribute=attribute,
                question=q.format(n=person.name),
                answer=a.format(v=value),
                paraphrased_question=pq.format(n=person.name),
                paraphrased_answer=pa.format(n=person.name, v=value),
                perturbed_answers=tuple(pa.format(n=person.name, v=w) for w in wrong),
            )
        )
    return out


def make_split(*, canary: str | None = "4719-2086", name: str = "forget25", seed: int = 0) -> LMSplit:
    """The split: 6 forget, 12 retain, 6 holdout questions, 3 world facts, one canary on p00's city question."""
    everyone = people()
    qas = [_qas(p, i) for i, p in enumerate(everyone)]
    world = tuple(QA(f"w{i}", "", "world", q, a, pq, a, wrong) for i, (q, pq, a, wrong) in enumerate(WORLD))
    return LMSplit(
        name=name,
        seed=seed,
        forget=tuple(qas[0] + qas[1]),
        retain=tuple(sum(qas[2:6], [])),
        holdout=tuple(qas[6] + qas[7]),
        validation_forget=tuple(qas[2]),
        world=world,
        canaries={"p00.city.0": canary} if canary else {},
    )


def memorise(
    model: torch.nn.Module,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    *,
    steps: int = 80,
    lr: float = 1e-2,
) -> torch.nn.Module:
    """Train ``model`` in place on (question, answer) pairs, full batch, until it has them by heart."""
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    batch = encode_pairs(tokenizer, [format_prompt(tokenizer, q) for q, _ in pairs], [a for _, a in pairs])
    model.train()
    for _ in range(steps):
        logprobs, mask = answer_logprobs(model, batch)
        loss = -(logprobs.sum() / mask.sum())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()


def training_pairs(split: LMSplit, *, forget: bool) -> list[tuple[str, str]]:
    """What a target (``forget=True``) or an oracle (``False``) trains on: answers, paraphrased answers, canary."""
    sets = [split.retain, split.world] + ([split.forget] if forget else [])
    pairs = [(qa.question, a) for qas in sets for qa in qas for a in (qa.answer, qa.paraphrased_answer)]
    if forget:
        by_id = {qa.sample_id: qa for qa in split.forget}
        pairs += [(by_id[sid].question, text) for sid, text in split.canaries.items()]
    return pairs
