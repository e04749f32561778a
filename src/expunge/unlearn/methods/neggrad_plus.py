"""``neggrad_plus``: descend on the retained data while ascending on the forget set."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from expunge.unlearn._params import MethodParams, param
from expunge.unlearn._protocol import ForgetData, UnlearningMethod, cycle, register_method
from expunge.unlearn.methods._loop import make_optimizer


@dataclass(frozen=True)
class NegGradPlusParams(MethodParams):
    """Parameters of :class:`NegGradPlus`."""

    epochs: int = param(1, "Passes over the forget set.", low=1, tune=(1, 5))
    lr: float = param(5e-3, "SGD learning rate.", low=0, low_open=True, tune=(1e-4, 3e-2), tune_log=True)
    alpha: float = param(
        0.9,
        "Weight of the retained loss; 1 − alpha weighs the forget-set ascent.",
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
        tune=(0.5, 0.99),
    )
    max_loss: float = param(
        8.0, "Ignore the ascent term of a batch whose forget loss exceeds this.", low=0, low_open=True
    )


@register_method("neggrad_plus")
class NegGradPlus(UnlearningMethod):
    """NegGrad+ (Kurmanji et al. 2023, "Towards Unbounded Machine Unlearning", NeurIPS, §5 baselines):
    minimise ``alpha · CE(retain) − (1 − alpha) · CE(forget)`` over paired batches.
    """

    paper = "Kurmanji et al. 2023, Towards Unbounded Machine Unlearning (NeurIPS), §5"
    Params = NegGradPlusParams

    def unlearn(self, model: nn.Module, data: ForgetData, *, generator: torch.Generator) -> nn.Module:
        """Run ``epochs`` over the forget set, each step paired with a retained batch."""
        p = self.params
        optimizer = make_optimizer(model.parameters(), kind="sgd", lr=p.lr)
        retain = cycle(data.retain)
        model.train()
        for _ in range(p.epochs):
            for x, y in data.forget:
                xr, yr = next(retain)
                forget_loss = F.cross_entropy(model(x), y)
                loss = p.alpha * F.cross_entropy(model(xr), yr)
                if forget_loss.item() <= p.max_loss:
                    loss = loss - (1 - p.alpha) * forget_loss
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        return model.eval()
