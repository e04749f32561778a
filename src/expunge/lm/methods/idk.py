"""``idk``: teach "I don't know" on the forget prompts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import torch

from expunge.lm._forget import LMForgetData, register_lm_method
from expunge.lm._tokens import AnswerBatch
from expunge.lm.methods._loop import ApproximateMethod, ApproximateParams, answer_mean_logprob

IDK_ANSWERS = (
    "I don't know.",
    "I have no information about that.",
    "I'm not sure.",
    "I can't answer that.",
    "That is not something I know.",
)


@dataclass(frozen=True)
class IdkParams(ApproximateParams):
    """Parameters of :class:`Idk` (the shared ones)."""


@register_lm_method("idk")
class Idk(ApproximateMethod):
    """The "I don't know" baseline (Maini et al. 2024, TOFU, §3, "preference optimisation" with IDK targets):
    fine-tune the forget prompts towards a refusal drawn from a few phrasings, with the retain loss, the anchor KL and
    the stopping rule. It suppresses the answer rather than erasing the fact: the truth ratio and relearning show it.
    """

    paper = "Maini et al. 2024, TOFU: A Task of Fictitious Unlearning for LLMs, §3 (IDK targets)"
    Params = IdkParams

    def forget_answers(self, data: LMForgetData, seed: int) -> list[str]:
        """One refusal per forget sample, drawn with ``seed``, in sample-ID order."""
        rng = random.Random(seed)
        return [rng.choice(IDK_ANSWERS) for _ in sorted(data.forget, key=lambda q: q.sample_id)]

    def term(self, model: Any, batch: AnswerBatch, reference: torch.Tensor) -> torch.Tensor:
        """The refusals' negative log-likelihood."""
        return -answer_mean_logprob(model, batch).mean()
