"""``calibrated``: the loss, calibrated by how hard each sample is for reference models."""

from __future__ import annotations

import numpy as np
from torch import nn

from expunge.audit.attacks._protocol import Attack, AttackInputs, register_attack
from expunge.errors import InsufficientDataError
from expunge.models import per_sample_loss


@register_attack("calibrated")
class Calibrated(Attack):
    """Difficulty calibration (Watson, Guo, Cormode & Sablayrolles 2022, "On the Importance of Difficulty
    Calibration in Membership Inference Attacks", ICLR, §3): score = mean reference loss − target loss, where the
    reference models are the shadows that did *not* train on the sample. A hard sample's high loss no longer
    passes for non-membership, nor an easy sample's low loss for membership.
    """

    paper = "Watson et al. 2022, On the Importance of Difficulty Calibration in Membership Inference (ICLR), §3"
    needs_shadows = True

    def scores(self, model: nn.Module, inputs: AttackInputs) -> np.ndarray:
        """Return the calibrated score per sample."""
        if inputs.shadow_losses is None or inputs.shadow_in is None:
            raise InsufficientDataError("calibrated needs shadow models (reference models); none were given.")
        out = ~inputs.shadow_in
        if not out.any(0).all():
            raise InsufficientDataError(
                "calibrated needs at least one reference model that did not train on each sample."
            )
        ref = np.where(out, inputs.shadow_losses, 0.0).sum(0) / out.sum(0)
        return ref - per_sample_loss(model, inputs.x, inputs.y).numpy()
