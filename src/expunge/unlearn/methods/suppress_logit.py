"""``suppress_logit``: a baseline that only hides a class by pushing its output bias to −1e4."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from expunge.errors import MethodError
from expunge.models import output_head
from expunge.unlearn._params import MethodParams, param
from expunge.unlearn._protocol import ForgetData, UnlearningMethod, register_method


@dataclass(frozen=True)
class SuppressLogitParams(MethodParams):
    """Parameters of :class:`SuppressLogit`."""

    bias: float = param(-1e4, "Value written into the forgotten class's output bias.", high=0.0)


@register_method("suppress_logit")
class SuppressLogit(UnlearningMethod):
    """Set the forgotten class's output bias to −1e4: the class is never predicted, nothing is forgotten.

    A deliberately bad baseline (no paper: it is the "output suppression" trap named by Goel et al. 2022,
    "Towards Adversarial Evaluation of Machine Unlearning", §3). It matches retraining's Unlearning Score in
    zero seconds, yet resetting that single bias restores the class; the report's head-reset figure exposes
    it and flags ``suppression_suspected``. Only defined for class forgetting.
    """

    paper = "Goel et al. 2022, Towards Adversarial Evaluation of Machine Unlearning, §3 (as a trap)"
    Params = SuppressLogitParams

    def unlearn(self, model: nn.Module, data: ForgetData, *, generator: torch.Generator) -> nn.Module:
        """Overwrite the target class's output bias."""
        if data.target_class is None:
            raise MethodError("suppress_logit only forgets whole classes: use a forget spec class:K.")
        head = output_head(model)
        if head.bias is None:
            raise MethodError("suppress_logit needs an output layer with a bias.")
        with torch.no_grad():
            head.bias[data.target_class] = self.params.bias
        return model.eval()
