"""``grad_ascent``: raise the forget answers' negative log-likelihood."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from expunge.lm._forget import register_lm_method
from expunge.lm._tokens import AnswerBatch
from expunge.lm.methods._loop import ApproximateMethod, ApproximateParams, answer_mean_logprob
from expunge.unlearn import param


@dataclass(frozen=True)
class GradAscentParams(ApproximateParams):
    """Parameters of :class:`GradAscent`: no retain loss by default (that is ``grad_diff``)."""

    retain_weight: float = param(0.0, "Weight of the retained samples' negative log-likelihood.", low=0.0, high=100.0)


@register_lm_method("grad_ascent")
class GradAscent(ApproximateMethod):
    """Gradient ascent on the forget answers' log-likelihood (Jang et al. 2023, "Knowledge Unlearning for Mitigating
    Privacy Risks in Language Models", ACL, §3), here with the anchor KL and the oracle-free stopping rule.

    Unbounded: it keeps lowering the answers' probability until the model babbles, which is why TOFU's untuned
    reproductions score forget quality 1e-15 and below; the stopping rule ends it at the never-seen level.
    """

    paper = "Jang et al. 2023, Knowledge Unlearning for Mitigating Privacy Risks in Language Models (ACL), §3"
    Params = GradAscentParams

    def term(self, model: Any, batch: AnswerBatch, reference: torch.Tensor) -> torch.Tensor:
        """The forget answers' mean per-token log-probability (minimising it ascends their NLL)."""
        return answer_mean_logprob(model, batch).mean()
