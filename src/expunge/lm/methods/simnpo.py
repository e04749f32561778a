"""``simnpo``: reference-free NPO with a length-normalised reward and a margin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from expunge.lm._forget import register_lm_method
from expunge.lm._tokens import AnswerBatch
from expunge.lm.methods._loop import ApproximateMethod, ApproximateParams, answer_sum_logprob
from expunge.unlearn import param


@dataclass(frozen=True)
class SimNPOParams(ApproximateParams):
    """Parameters of :class:`SimNPO` (β and γ as in the paper's TOFU runs: β 2.5, γ 0)."""

    beta: float = param(2.5, "Inverse temperature β.", low=0, low_open=True, high=50.0, tune=(0.5, 5.0))
    gamma: float = param(0.0, "Reward margin γ.", low=0.0, high=10.0, tune=(0.0, 2.0))


@register_lm_method("simnpo")
class SimNPO(ApproximateMethod):
    """SimNPO (Fan et al. 2024, "Simplicity Prevails: Rethinking Negative Preference Optimization for LLM
    Unlearning", §4, eq. 4): ``L = −(2/β) E[log σ(−(β/|y|) log π_θ(y|x) − γ)]``, NPO without the reference model and
    with the answer's log-probability normalised by its length, so short and long answers are forgotten alike.
    """

    paper = (
        "Fan et al. 2024, Simplicity Prevails: Rethinking Negative Preference Optimization for LLM Unlearning, §4 eq. 4"
    )
    Params = SimNPOParams

    def term(self, model: Any, batch: AnswerBatch, reference: torch.Tensor) -> torch.Tensor:
        """The SimNPO loss of one forget batch."""
        p = self.params
        total, count = answer_sum_logprob(model, batch)
        return -(2.0 / p.beta) * F.logsigmoid(-(p.beta / count.clamp(min=1.0)) * total - p.gamma).mean()
