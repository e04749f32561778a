"""``salun``: random-label unlearning restricted to the weights most salient for the forget set."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from expunge.unlearn._params import MethodParams, param
from expunge.unlearn._protocol import ForgetData, UnlearningMethod, cycle, register_method
from expunge.unlearn.methods._loop import random_wrong_labels


def saliency_mask(model: nn.Module, forget, *, ratio: float) -> dict[str, torch.Tensor]:
    """Return a 0/1 mask per parameter marking the ``ratio`` share of weights with the largest forget-loss
    gradient magnitude (one global threshold, as in SalUn §4)."""
    model.zero_grad(set_to_none=True)
    model.eval()
    for x, y in forget:
        F.cross_entropy(model(x), y, reduction="sum").backward()
    grads = {k: p.grad.detach().abs() for k, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    flat = torch.cat([g.flatten() for g in grads.values()])
    k = max(1, int(len(flat) * ratio))
    threshold = torch.topk(flat, k, sorted=False).values.min()
    return {name: (g >= threshold).float() for name, g in grads.items()}


@dataclass(frozen=True)
class SalUnParams(MethodParams):
    """Parameters of :class:`SalUn`."""

    mask_ratio: float = param(
        0.5, "Share of weights (most salient first) that may change.", low=0.0, high=1.0, low_open=True, tune=(0.1, 0.9)
    )
    epochs: int = param(2, "Passes over the forget set.", low=1, tune=(1, 5))
    lr: float = param(5e-3, "SGD learning rate.", low=0, low_open=True, tune=(1e-4, 3e-2), tune_log=True)
    retain_weight: float = param(1.0, "Weight of the retained batch's loss in every step.", low=0.0)


@register_method("salun")
class SalUn(UnlearningMethod):
    """SalUn (Fan, Liu, Zhang, Wei, Wong & Liu 2024, "SalUn: Empowering Machine Unlearning via Gradient-based
    Weight Saliency", ICLR, §4): compute the weight saliency ``|∇ loss_forget|``, keep the top share as a
    mask, then train only the masked weights on the forget set with random labels plus the retained data.
    """

    paper = "Fan et al. 2024, SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency (ICLR), §4"
    Params = SalUnParams

    def unlearn(self, model: nn.Module, data: ForgetData, *, generator: torch.Generator) -> nn.Module:
        """Build the saliency mask, then run masked random-label training."""
        p = self.params
        mask = saliency_mask(model, data.forget, ratio=p.mask_ratio)
        optimizer = torch.optim.SGD(model.parameters(), lr=p.lr, momentum=0.9)
        retain = cycle(data.retain)
        model.train()
        for _ in range(p.epochs):
            for x, y in data.forget:
                xr, yr = next(retain)
                loss = F.cross_entropy(model(x), random_wrong_labels(y, data.num_classes, generator=generator))
                loss = loss + p.retain_weight * F.cross_entropy(model(xr), yr)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                for name, weight in model.named_parameters():
                    if weight.grad is not None and name in mask:
                        weight.grad.mul_(mask[name])
                optimizer.step()
        return model.eval()
