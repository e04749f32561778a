"""``grad_diff``: gradient ascent on the forget set, descent on the retained set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from expunge.lm._forget import register_lm_method
from expunge.lm._tokens import AnswerBatch
from expunge.lm.methods._loop import ApproximateMethod, ApproximateParams, answer_mean_logprob


@dataclass(frozen=True)
class GradDiffParams(ApproximateParams):
    """Parameters of :class:`GradDiff` (the shared ones; ``retain_weight`` weighs the descent term)."""


@register_lm_method("grad_diff")
class GradDiff(ApproximateMethod):
    """Gradient difference (Liu et al. 2022, "Continual Learning and Private Unlearning", CoLLAs, §4; TOFU's
    baseline, Maini et al. 2024, §3): minimise the forget answers' log-likelihood while fitting the retained samples'
    (``retain_weight``), with the anchor KL and the oracle-free stopping rule.
    """

    paper = "Liu et al. 2022, Continual Learning and Private Unlearning (CoLLAs), §4; Maini et al. 2024, TOFU, §3"
    Params = GradDiffParams

    def term(self, model: Any, batch: AnswerBatch, reference: torch.Tensor) -> torch.Tensor:
        """The forget answers' mean per-token log-probability."""
        return answer_mean_logprob(model, batch).mean()
