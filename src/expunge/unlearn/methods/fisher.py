"""``fisher``: Fisher forgetting — noise scaled inversely to each weight's importance for the retained data."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from expunge.models import output_head
from expunge.unlearn._params import MethodParams, param
from expunge.unlearn._protocol import ForgetData, UnlearningMethod, register_method
from expunge.unlearn.methods._importance import diagonal_fisher


@dataclass(frozen=True)
class FisherParams(MethodParams):
    """Parameters of :class:`Fisher`."""

    alpha: float = param(
        1e-7,
        "Noise scale: variance = alpha / Fisher, capped at max_var.",
        low=0,
        low_open=True,
        tune=(1e-9, 1e-5),
        tune_log=True,
    )
    max_var: float = param(1e-3, "Cap on the per-weight noise variance.", low=0, low_open=True)
    samples: int = param(1000, "Retained samples used to estimate the Fisher diagonal.", low=1)


@register_method("fisher")
class Fisher(UnlearningMethod):
    """Fisher forgetting (Golatkar, Achille & Soatto 2020, "Eternal Sunshine of the Spotless Net", CVPR,
    §4 "Fisher forgetting"): add Gaussian noise to each weight with variance ``alpha / F_retain``, so weights
    the retained data does not rely on — where the forgotten data's information sits — are scrambled,
    while weights the retained data needs barely move. For class forgetting, as in the paper's code, the
    forgotten class's output row is first reset to zero mean (its weights and bias), then perturbed.
    """

    paper = "Golatkar et al. 2020, Eternal Sunshine of the Spotless Net (CVPR), §4"
    Params = FisherParams

    def unlearn(self, model: nn.Module, data: ForgetData, *, generator: torch.Generator) -> nn.Module:
        """Estimate the retained Fisher diagonal and add importance-scaled noise."""
        p = self.params
        fisher = diagonal_fisher(model, data.retain, max_samples=p.samples, generator=generator)
        with torch.no_grad():
            if data.target_class is not None:
                head = output_head(model)
                head.weight[data.target_class] = 0.0
                if head.bias is not None:
                    head.bias[data.target_class] = 0.0
            for name, weight in model.named_parameters():
                var = (p.alpha / (fisher[name] + 1e-12)).clamp(max=p.max_var)
                noise = torch.randn(weight.shape, generator=generator)
                weight.add_(var.sqrt() * noise)
        return model.eval()
