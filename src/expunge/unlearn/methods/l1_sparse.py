"""``l1_sparse``: fine-tune on retained data under a decaying L1 penalty that sparsifies the model."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from expunge.unlearn._params import MethodParams, param
from expunge.unlearn._protocol import ForgetData, UnlearningMethod, cycle, register_method
from expunge.unlearn.methods._loop import steps_for


@dataclass(frozen=True)
class L1SparseParams(MethodParams):
    """Parameters of :class:`L1Sparse`."""

    epochs: float = param(
        0.5, "Passes over the retained data (fractions allowed).", low=0, low_open=True, tune=(0.05, 2.0)
    )
    lr: float = param(0.02, "SGD learning rate.", low=0, low_open=True, tune=(1e-3, 0.1), tune_log=True)
    l1: float = param(5e-5, "Initial L1 weight, decayed linearly to 0.", low=0.0, tune=(1e-6, 1e-3), tune_log=True)


@register_method("l1_sparse")
class L1Sparse(UnlearningMethod):
    """ℓ1-sparse unlearning (Jia et al. 2023, "Model Sparsity Can Simplify Machine Unlearning", NeurIPS,
    §4 "ℓ1-sparse MU"): fine-tune on retained data with ``gamma_t · ||θ||_1`` added to the loss, where
    ``gamma_t`` decays linearly from ``l1`` to 0; sparsity closes the gap to retraining.
    """

    paper = "Jia et al. 2023, Model Sparsity Can Simplify Machine Unlearning (NeurIPS), §4"
    Params = L1SparseParams

    def unlearn(self, model: nn.Module, data: ForgetData, *, generator: torch.Generator) -> nn.Module:
        """Run the penalised fine-tuning."""
        p = self.params
        steps = steps_for(p.epochs, data.retain)
        optimizer = torch.optim.SGD(model.parameters(), lr=p.lr, momentum=0.9)
        retain = cycle(data.retain)
        model.train()
        for step in range(steps):
            x, y = next(retain)
            gamma = p.l1 * (1 - step / steps)
            penalty = sum(w.abs().sum() for w in model.parameters())
            loss = F.cross_entropy(model(x), y) + gamma * penalty
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return model.eval()
