"""``retrain``: the exact reference — train a fresh model on the retained data only."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from expunge.errors import MethodError
from expunge.models import train_model
from expunge.unlearn._params import MethodParams, param
from expunge.unlearn._protocol import ForgetData, UnlearningMethod, register_method


@dataclass(frozen=True)
class RetrainParams(MethodParams):
    """Parameters of :class:`Retrain`."""

    epochs: int = param(0, "Epochs of retraining; 0 uses the original recipe's epochs.", low=0)


@register_method("retrain")
class Retrain(UnlearningMethod):
    """Retrain from scratch without the forget set: the gold standard every method is measured against.

    Exact by construction (Cao & Yang 2015, "Towards making systems forget with machine unlearning",
    §1): the result never saw the forgotten samples. It ignores the model it is given and builds a fresh
    one with ``data.model_factory``, trained with the original recipe ``data.train_config``.
    """

    paper = "Cao & Yang 2015, Towards Making Systems Forget with Machine Unlearning (IEEE S&P), §1"
    exact = True
    Params = RetrainParams

    def unlearn(self, model: nn.Module, data: ForgetData, *, generator: torch.Generator) -> nn.Module:
        """Return a fresh model trained on ``data.retain`` with the original recipe."""
        if data.model_factory is None or data.train_config is None:
            raise MethodError(
                "retrain needs the original recipe: pass ForgetData(model_factory=..., train_config=...)."
            )
        config = data.train_config
        if self.params.epochs:
            config = replace(config, epochs=self.params.epochs)
        fresh = data.model_factory()
        return train_model(fresh, data.retain, config, description="retrain")
