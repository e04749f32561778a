"""``finetune``: keep training on the retained data only and let catastrophic forgetting act."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from expunge.unlearn._params import MethodParams, param
from expunge.unlearn._protocol import ForgetData, UnlearningMethod, cycle, register_method
from expunge.unlearn.methods._loop import make_optimizer, steps_for


@dataclass(frozen=True)
class FinetuneParams(MethodParams):
    """Parameters of :class:`Finetune`."""

    epochs: float = param(
        0.5, "Passes over the retained data (fractions allowed).", low=0, low_open=True, tune=(0.05, 2.0)
    )
    lr: float = param(0.02, "SGD learning rate.", low=0, low_open=True, tune=(1e-3, 0.1), tune_log=True)


@register_method("finetune")
class Finetune(UnlearningMethod):
    """Fine-tune on the retained data (Warnecke et al. 2023, "Machine Unlearning of Features and Labels",
    NDSS, §5 baseline "fine-tuning"): forgetting happens only through interference, so it is slow to erase
    memorised samples but never harms the retained data.
    """

    paper = "Warnecke et al. 2023, Machine Unlearning of Features and Labels (NDSS), §5"
    Params = FinetuneParams

    def unlearn(self, model: nn.Module, data: ForgetData, *, generator: torch.Generator) -> nn.Module:
        """Run ``epochs`` of SGD on ``data.retain``."""
        p = self.params
        optimizer = make_optimizer(model.parameters(), kind="sgd", lr=p.lr)
        retain = cycle(data.retain)
        model.train()
        for _ in range(steps_for(p.epochs, data.retain)):
            x, y = next(retain)
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        return model.eval()
