"""``loss_threshold``: lower loss means member."""

from __future__ import annotations

import numpy as np
from torch import nn

from expunge.audit.attacks._protocol import Attack, AttackInputs, register_attack
from expunge.models import per_sample_loss


@register_attack("loss_threshold")
class LossThreshold(Attack):
    """The loss-threshold attack (Yeom, Giacomelli, Fredrikson & Jha 2018, "Privacy Risk in Machine Learning",
    CSF, §3.2): score = −loss. Weak on well-generalised models — the baseline every stronger attack must beat.
    """

    paper = "Yeom et al. 2018, Privacy Risk in Machine Learning (CSF), §3.2"

    def scores(self, model: nn.Module, inputs: AttackInputs) -> np.ndarray:
        """Return ``−loss`` per sample."""
        return -per_sample_loss(model, inputs.x, inputs.y).numpy()
