"""``label_flip``: fine-tune on the forget set with deliberately wrong labels (the seed's method)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from expunge.unlearn._params import MethodParams, param
from expunge.unlearn._protocol import ForgetData, UnlearningMethod, cycle, register_method
from expunge.unlearn.methods._loop import random_wrong_labels


@dataclass(frozen=True)
class LabelFlipParams(MethodParams):
    """Parameters of :class:`LabelFlip`: the "dose" is epochs × lr × (1 − retain_mix)."""

    epochs: int = param(5, "Passes over the forget set.", low=1, tune=(1, 8))
    lr: float = param(1e-4, "Adam learning rate.", low=0, low_open=True, tune=(1e-5, 1e-2), tune_log=True)
    retain_mix: float = param(
        0.0, "Weight of a retained batch's loss added to every step (0 = none).", low=0.0, high=1.0, tune=(0.0, 1.0)
    )


@register_method("label_flip")
class LabelFlip(UnlearningMethod):
    """Random label flipping: train on the forget set relabelled uniformly among wrong classes.

    The "random labels" method of Graves et al. 2021 ("Amnesiac Machine Learning", AAAI, §4.2), and
    the seed's approach (a dose of 5 epochs found by random search gave a 96.2 % Unlearning Score on
    MNIST). With ``retain_mix > 0`` every step also fits a retained batch, which keeps retained accuracy.
    It tends to suppress rather than erase: the report's relearn and head-reset figures show it.
    """

    paper = "Graves et al. 2021, Amnesiac Machine Learning (AAAI), §4.2"
    Params = LabelFlipParams

    def unlearn(self, model: nn.Module, data: ForgetData, *, generator: torch.Generator) -> nn.Module:
        """Run ``epochs`` of Adam over the forget set with random wrong labels."""
        p = self.params
        optimizer = torch.optim.Adam(model.parameters(), lr=p.lr)
        retain = cycle(data.retain) if p.retain_mix > 0 else None
        model.train()
        for _ in range(p.epochs):
            for x, y in data.forget:
                optimizer.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x), random_wrong_labels(y, data.num_classes, generator=generator))
                if retain is not None:
                    xr, yr = next(retain)
                    loss = loss + p.retain_mix * F.cross_entropy(model(xr), yr)
                loss.backward()
                optimizer.step()
        return model.eval()
