"""Robustness probes: does the forgotten knowledge come back when the question or the model is bent a little?

- :func:`relearn_probe` — an attacker fine-tunes a copy for a few steps on *some* attributes (and paraphrases) of
  each forgotten person, then asks their *other* facts. Relearning on other people recovers nothing when people's
  facts are independent (measured in the pilot of issue 13), so the attack uses each person's own facts. The
  figure is compared with the same attack on the oracle: what the oracle also learns is generalisation, not leak.
- :func:`quantised_probe` — dynamic int8 quantisation of every ``Linear`` (``torch.ao``), then re-ask: a forgetting
  step that only nudged weights by less than a quantisation step can be undone by rounding.
- :func:`prompt_format_probe` — the same questions in another prompt format (plain instead of chat, or the
  reverse), since suppression learnt on one template often leaks on another.
- :func:`obfuscation_probe` — the person's name written as initials, misspelt, reordered or lower-cased.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from expunge.errors import InsufficientDataError, LMEvaluationError
from expunge.lm import _metrics as M
from expunge.lm._data import QA, LMSplit, Person
from expunge.lm._prompt import PLAIN_TEMPLATE, format_prompt, prompt_format
from expunge.lm._scoring import greedy_generate, teacher_forced
from expunge.lm._tokens import answer_logprobs, encode_pairs

__all__ = [
    "OBFUSCATIONS",
    "RelearnResult",
    "obfuscate_name",
    "obfuscation_probe",
    "prompt_format_probe",
    "quantised_probe",
    "relearn_probe",
]

OBFUSCATIONS = ("initials", "misspelt", "reordered", "lowercase")
ALT_PLAIN_TEMPLATE = "Q: {question}\nA:"


def _accuracy(generated: Sequence[str], qas: Sequence[QA]) -> float:
    return float(np.mean([M.answer_correct(g, qa.answer) for g, qa in zip(generated, qas, strict=True)]))


def obfuscate_name(name: str, style: str) -> str:
    """Return ``name`` written another way: ``initials`` ("A. Brook"), ``misspelt`` (two inner letters of the
    longest word swapped, or one doubled when it is short: "Brook" → "Borok"), ``reordered`` ("Brook, Ada") or
    ``lowercase`` ("ada brook").

    Raises:
        LMEvaluationError: An unknown style, or a one-word name for ``initials``/``reordered``.
    """
    words = name.split()
    if style not in OBFUSCATIONS:
        raise LMEvaluationError(f"Unknown obfuscation {style!r}; known: {', '.join(OBFUSCATIONS)}.")
    if style == "lowercase":
        return name.lower()
    if style == "misspelt":
        i = max(range(len(words)), key=lambda j: len(words[j]))
        w = words[i]
        words[i] = w[:1] + w[2] + w[1] + w[3:] if len(w) >= 4 else w + w[-1]
        return " ".join(words)
    if len(words) < 2:
        raise LMEvaluationError(f"The {style!r} obfuscation needs a name of two words or more; got {len(words)}.")
    if style == "initials":
        return " ".join(f"{w[0]}." for w in words[:-1]) + " " + words[-1]
    return f"{words[-1]}, {' '.join(words[:-1])}"


def prompt_format_probe(
    model: torch.nn.Module, tokenizer: Any, qas: Sequence[QA], *, max_new_tokens: int = 16, batch_size: int = 16
) -> dict[str, float]:
    """Return greedy accuracy on ``qas`` asked in the *other* prompt format.

    A tokenizer with a chat template is asked in the plain ``Question: …\\nAnswer:`` format; one without is asked
    ``Q: …\\nA:``. Returns ``{"prompt_format.forget_accuracy": …}``.
    """
    template = PLAIN_TEMPLATE if prompt_format(tokenizer) == "chat" else ALT_PLAIN_TEMPLATE
    prompts = [template.format(question=qa.question) for qa in qas]
    generated = greedy_generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)
    return {"prompt_format.forget_accuracy": _accuracy(generated, qas)}


def obfuscation_probe(
    model: torch.nn.Module,
    tokenizer: Any,
    qas: Sequence[QA],
    people: Sequence[Person],
    *,
    styles: Sequence[str] = OBFUSCATIONS,
    max_new_tokens: int = 16,
    batch_size: int = 16,
    seed: int = 0,
) -> dict[str, float]:
    """Return greedy accuracy on ``qas`` with each person's name obfuscated, by style.

    Only questions that spell their person's name as the :class:`Person` does are rewritten and scored.
    Returns ``{"obfuscation.<style>.forget_accuracy": …}``.

    Raises:
        LMEvaluationError: No question spells its person's name.
    """
    del seed  # obfuscations are deterministic; kept for a stable signature
    names = {p.person_id: p.name for p in people}
    usable = [qa for qa in qas if names.get(qa.person_id) and names[qa.person_id] in qa.question]
    if not usable:
        raise LMEvaluationError("The obfuscation probe found no question that spells its person's name.")
    out: dict[str, float] = {}
    for style in styles:
        prompts = [
            format_prompt(
                tokenizer, qa.question.replace(names[qa.person_id], obfuscate_name(names[qa.person_id], style))
            )
            for qa in usable
        ]
        generated = greedy_generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)
        out[f"obfuscation.{style}.forget_accuracy"] = _accuracy(generated, usable)
    return out


def quantised_probe(
    model: torch.nn.Module, tokenizer: Any, split: LMSplit, *, max_new_tokens: int = 16, batch_size: int = 16
) -> dict[str, float]:
    """Quantise a copy's ``Linear`` layers to dynamic int8 (``torch.ao.quantization.quantize_dynamic``), re-probe.

    A ``peft`` model's copy is merged (``merge_and_unload``) before it is quantised.

    Returns ``quantised.forget_accuracy``, ``quantised.retain_accuracy`` and
    ``quantised.forget_exact_memorisation`` (teacher-forced).
    """
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice (it points to torchao, not installed)
        clone = copy.deepcopy(model)
        # a LoRA model is merged first, as it would be deployed: peft's adapter layers cannot run quantised
        clone = clone.merge_and_unload() if hasattr(clone, "merge_and_unload") else clone
        quantised = quantize_dynamic(clone, {torch.nn.Linear}, dtype=torch.qint8)
    out: dict[str, float] = {}
    # as many retain questions as forget ones: enough to see collateral damage, at half the generation cost
    for name, qas in (("forget", split.forget), ("retain", split.retain[: len(split.forget)])):
        prompts = [format_prompt(tokenizer, qa.question) for qa in qas]
        generated = greedy_generate(quantised, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)
        out[f"quantised.{name}_accuracy"] = _accuracy(generated, qas)
    scores = teacher_forced(
        quantised,
        tokenizer,
        [format_prompt(tokenizer, qa.question) for qa in split.forget],
        [qa.answer for qa in split.forget],
        batch_size=batch_size,
    )
    out["quantised.forget_exact_memorisation"] = float(M.exact_memorisation(scores.hits, scores.mask).mean())
    return out


@dataclass(frozen=True)
class RelearnResult:
    """What a few fine-tuning steps on some of each forgotten person's facts brought back of their other facts.

    Attributes:
        n_people: Forgotten people attacked (those with at least two attributes).
        n_facts: Held-back facts asked after the attack.
        facts_before: Held-back facts answered correctly before the attack.
        facts_after: Held-back facts answered correctly after it (the figure compared with the oracle's).
        steps: Adam steps taken.
        fraction: Share of each person's attributes trained on.
        n_attack_facts: Facts the attacker trained on.
        attack_facts_after: Of those, answered correctly after the attack (shows the attack itself took).
    """

    n_people: int
    n_facts: int
    facts_before: int
    facts_after: int
    steps: int
    fraction: float
    n_attack_facts: int
    attack_facts_after: int

    def figures(self) -> dict[str, float]:
        """The result as probe figures (``relearn.*``)."""
        return {
            "relearn.facts_before": float(self.facts_before),
            "relearn.facts_after": float(self.facts_after),
            "relearn.n_facts": float(self.n_facts),
        }


def _split_people(forget: Sequence[QA], fraction: float) -> tuple[list[QA], list[QA], int]:
    by_person: dict[str, dict[str, list[QA]]] = {}
    for qa in forget:
        by_person.setdefault(qa.person_id, {}).setdefault(qa.attribute, []).append(qa)
    attack, held, people = [], [], 0
    for attributes in by_person.values():
        names = sorted(attributes)
        if len(names) < 2:
            continue
        people += 1
        k = min(len(names) - 1, max(1, round(fraction * len(names))))
        for name in names[:k]:
            attack.extend(attributes[name])
        for name in names[k:]:
            held.extend(attributes[name])
    return attack, held, people


def relearn_probe(
    model: torch.nn.Module,
    tokenizer: Any,
    split: LMSplit,
    *,
    steps: int = 10,
    fraction: float = 0.5,
    lr: float = 1e-3,
    max_new_tokens: int = 16,
    batch_size: int = 16,
) -> RelearnResult:
    """Fine-tune a copy on some attributes of each forgotten person, then ask their other facts.

    For every forgotten person with two or more attributes, the first ``round(fraction · attributes)`` (sorted by
    name, at least one, never all) are trained on — question/answer and paraphrased question/paraphrased answer —
    for ``steps`` Adam steps over mini-batches of ``batch_size``, on the parameters that require gradients (the
    LoRA weights of an adapter model); the other attributes are asked before and after. Relearning attacks:
    Lynch et al. 2024 ("Eight methods to evaluate robust unlearning", §4); Hu et al. 2024 ("Jogging the memory").

    Raises:
        InsufficientDataError: No forgotten person has two attributes.
        LMEvaluationError: ``steps`` < 1, ``fraction`` outside (0, 1), or no trainable parameter.
    """
    if steps < 1 or not (0.0 < fraction < 1.0):
        raise LMEvaluationError(
            f"The relearn probe needs steps >= 1 and fraction in (0, 1); got {steps} and {fraction}."
        )
    attack, held, people = _split_people(split.forget, fraction)
    if not held:
        raise InsufficientDataError("The relearn probe needs forgotten people with at least two attributes each.")
    prompts_held = [format_prompt(tokenizer, qa.question) for qa in held]
    before = greedy_generate(model, tokenizer, prompts_held, max_new_tokens=max_new_tokens, batch_size=batch_size)
    clone = copy.deepcopy(model)
    params = [p for p in clone.parameters() if p.requires_grad]
    if not params:
        raise LMEvaluationError("The relearn probe needs parameters that require gradients; the model has none.")
    texts = [(qa.question, qa.answer) for qa in attack] + [
        (qa.paraphrased_question, qa.paraphrased_answer) for qa in attack
    ]
    optimizer = torch.optim.Adam(params, lr=lr)
    clone.train()
    with torch.autocast("cpu", enabled=False):
        for step in range(steps):
            start = (step * batch_size) % len(texts)
            chunk = (texts + texts)[start : start + min(batch_size, len(texts))]
            batch = encode_pairs(tokenizer, [format_prompt(tokenizer, q) for q, _ in chunk], [a for _, a in chunk])
            logprobs, mask = answer_logprobs(clone, batch)
            loss = -(logprobs.sum() / mask.sum())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    clone.eval()
    after = greedy_generate(clone, tokenizer, prompts_held, max_new_tokens=max_new_tokens, batch_size=batch_size)
    prompts_attack = [format_prompt(tokenizer, qa.question) for qa in attack]
    learnt = greedy_generate(clone, tokenizer, prompts_attack, max_new_tokens=max_new_tokens, batch_size=batch_size)
    return RelearnResult(
        n_people=people,
        n_facts=len(held),
        facts_before=sum(M.answer_correct(g, qa.answer) for g, qa in zip(before, held, strict=True)),
        facts_after=sum(M.answer_correct(g, qa.answer) for g, qa in zip(after, held, strict=True)),
        steps=steps,
        fraction=fraction,
        n_attack_facts=len(attack),
        attack_facts_after=sum(M.answer_correct(g, qa.answer) for g, qa in zip(learnt, attack, strict=True)),
    )
