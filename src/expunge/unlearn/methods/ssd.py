"""``ssd``: selective synaptic dampening — shrink weights far more important to the forget set."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from expunge.unlearn._params import MethodParams, param
from expunge.unlearn._protocol import ForgetData, UnlearningMethod, register_method
from expunge.unlearn.methods._importance import squared_gradients


@dataclass(frozen=True)
class SSDParams(MethodParams):
    """Parameters of :class:`SSD`."""

    alpha: float = param(
        10.0,
        "Selection: dampen a weight when its forget importance exceeds alpha × its training importance.",
        low=1.0,
        tune=(1.0, 100.0),
        tune_log=True,
    )
    dampening: float = param(
        1.0,
        "lambda of the paper: the weight is scaled by min(lambda·I_D/I_F, 1).",
        low=0,
        low_open=True,
        tune=(0.1, 5.0),
        tune_log=True,
    )
    retain_batches: int = param(50, "Retained batches used to estimate the training-data importance.", low=1)


@register_method("ssd")
class SSD(UnlearningMethod):
    """Selective Synaptic Dampening (Foster, Schoepf & Brintrup 2024, "Fast Machine Unlearning Without
    Retraining Through Selective Synaptic Dampening", AAAI, §3): importances are diagonal Fisher estimates
    on the training data ``I_D`` and on the forget set ``I_F``; every weight with ``I_F > alpha · I_D`` is
    multiplied by ``min(lambda · I_D / I_F, 1)``. Retraining-free and gradient-step-free.
    """

    paper = (
        "Foster et al. 2024, Fast Machine Unlearning Without Retraining Through Selective Synaptic Dampening (AAAI), §3"
    )
    Params = SSDParams

    def unlearn(self, model: nn.Module, data: ForgetData, *, generator: torch.Generator) -> nn.Module:
        """Compare importances and dampen the selected weights."""
        p = self.params
        forget_imp = squared_gradients(model, data.forget)
        train_imp = squared_gradients(model, data.retain, max_batches=p.retain_batches)
        with torch.no_grad():
            for name, weight in model.named_parameters():
                i_f, i_d = forget_imp[name], train_imp[name]
                selected = i_f > p.alpha * i_d
                beta = (p.dampening * i_d / i_f.clamp_min(1e-20)).clamp(max=1.0)
                weight.mul_(torch.where(selected, beta, torch.ones_like(beta)))
        return model.eval()
