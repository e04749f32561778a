"""``gradient_ascent``: climb the loss on the forget set."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from expunge.unlearn._params import MethodParams, param
from expunge.unlearn._protocol import ForgetData, UnlearningMethod, register_method
from expunge.unlearn.methods._loop import make_optimizer


@dataclass(frozen=True)
class GradientAscentParams(MethodParams):
    """Parameters of :class:`GradientAscent`."""

    epochs: int = param(1, "Passes over the forget set.", low=1, tune=(1, 5))
    lr: float = param(1e-3, "SGD learning rate.", low=0, low_open=True, tune=(1e-4, 1e-2), tune_log=True)
    max_loss: float = param(
        8.0, "Stop ascending a batch once its loss exceeds this (keeps it bounded).", low=0, low_open=True
    )


@register_method("gradient_ascent")
class GradientAscent(UnlearningMethod):
    """Gradient ascent on the forget set (Thudi et al. 2022, "Unrolling SGD", EuroS&P, §4; the "NegGrad"
    baseline of Kurmanji et al. 2023). Unbounded ascent destroys the model, so steps stop at ``max_loss``.
    """

    paper = "Thudi et al. 2022, Unrolling SGD: Understanding Factors Influencing Machine Unlearning (EuroS&P), §4"
    Params = GradientAscentParams

    def unlearn(self, model: nn.Module, data: ForgetData, *, generator: torch.Generator) -> nn.Module:
        """Run ``epochs`` of SGD ascent over the forget set."""
        p = self.params
        optimizer = make_optimizer(model.parameters(), kind="sgd", lr=p.lr)
        model.train()
        for _ in range(p.epochs):
            for x, y in data.forget:
                loss = F.cross_entropy(model(x), y)
                if loss.item() > p.max_loss:
                    continue
                optimizer.zero_grad(set_to_none=True)
                (-loss).backward()
                optimizer.step()
        return model.eval()
