"""``npo``: negative preference optimisation against the original model, on sequence log-probabilities."""

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
class NPOParams(ApproximateParams):
    """Parameters of :class:`NPO`: the pilot's dose (β 0.1, retain NLL, lr 1e-4)."""

    beta: float = param(
        0.1, "Inverse temperature β of the NPO loss.", low=0, low_open=True, high=10.0, tune=(0.05, 1.0), tune_log=True
    )


@register_lm_method("npo")
class NPO(ApproximateMethod):
    """Negative Preference Optimisation (Zhang et al. 2024, "Negative Preference Optimization: From Catastrophic
    Collapse to Effective Unlearning", COLM, §3, eq. 3, with the retain term of §5):
    ``L = −(2/β) E[log σ(−β (log π_θ(y|x) − log π_ref(y|x)))]`` over the forget answers, where ``π_ref`` is the
    model before forgetting and both log-probabilities are summed over the answer tokens of ``log_softmax`` outputs
    (not raw logits, a known cause of irreproducible NPO numbers). Bounded where gradient ascent is not; the pilot
    still over-forgot after 9 epochs, so the stopping rule applies.
    """

    paper = "Zhang et al. 2024, Negative Preference Optimization (COLM), §3 eq. 3 and §5"
    Params = NPOParams
    needs_reference_logprobs = True

    def term(self, model: Any, batch: AnswerBatch, reference: torch.Tensor) -> torch.Tensor:
        """The NPO loss of one forget batch."""
        beta = self.params.beta
        current, _ = answer_sum_logprob(model, batch)
        return -(2.0 / beta) * F.logsigmoid(-beta * (current - reference)).mean()
