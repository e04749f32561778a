"""``lira``: the likelihood-ratio attack over IN and OUT shadow models (online and offline)."""

from __future__ import annotations

import numpy as np
from torch import nn

from expunge.audit._shadows import logit_confidence
from expunge.audit.attacks._protocol import Attack, AttackInputs, register_attack
from expunge.errors import InsufficientDataError
from expunge.models import predict_logits


def gaussian_fit(stats: np.ndarray, mask: np.ndarray, *, global_variance: bool) -> tuple[np.ndarray, np.ndarray]:
    """Return per-sample mean and std of ``stats`` over the shadows where ``mask`` is true.

    With ``global_variance`` one std pooled over all samples is used: far more stable with few shadows
    (Carlini et al. 2022, §4.3, "fixed variance").
    """
    count = mask.sum(0)
    if (count == 0).any():
        raise InsufficientDataError("LiRA needs at least one shadow on each side (IN/OUT) of every sample.")
    mean = np.where(mask, stats, 0.0).sum(0) / count
    resid = np.where(mask, stats - mean, 0.0)
    if global_variance:
        std = np.full_like(mean, np.sqrt((resid**2).sum() / max(count.sum() - len(mean), 1)))
    else:
        std = np.sqrt((resid**2).sum(0) / np.maximum(count - 1, 1))
    return mean, np.maximum(std, 1e-6)


def _log_normal(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return -0.5 * ((x - mean) / std) ** 2 - np.log(std)


@register_attack("lira")
class LiRA(Attack):
    """The Likelihood Ratio Attack (Carlini, Chien, Nasr, Song, Terzis & Tramèr 2022, "Membership Inference
    Attacks From First Principles", IEEE S&P, §4). The statistic is the logit-scaled confidence of the true
    label. *Online*: Gaussians are fit to the statistic over shadows trained with (IN) and without (OUT) each
    sample, and the score is the log-likelihood ratio. *Offline*: only OUT shadows; the score is how far the
    target's statistic sits above the OUT distribution. Variance is pooled across samples by default.
    """

    paper = "Carlini et al. 2022, Membership Inference Attacks From First Principles (IEEE S&P), §4"
    needs_shadows = True

    def __init__(self, *, online: bool = True, global_variance: bool = True) -> None:
        self.online = online
        self.global_variance = global_variance

    def scores(self, model: nn.Module, inputs: AttackInputs) -> np.ndarray:
        """Return the likelihood-ratio score per sample."""
        if inputs.shadow_stats is None or inputs.shadow_in is None:
            raise InsufficientDataError("lira needs shadow models; none were given.")
        target = logit_confidence(predict_logits(model, inputs.x), inputs.y)
        mu_out, sd_out = gaussian_fit(inputs.shadow_stats, ~inputs.shadow_in, global_variance=self.global_variance)
        if not self.online:
            return (target - mu_out) / sd_out
        mu_in, sd_in = gaussian_fit(inputs.shadow_stats, inputs.shadow_in, global_variance=self.global_variance)
        return _log_normal(target, mu_in, sd_in) - _log_normal(target, mu_out, sd_out)


@register_attack("lira_offline")
class LiRAOffline(LiRA):
    """Offline LiRA (Carlini et al. 2022, §4.4): OUT shadows only, so shadows never need the audited samples."""

    def __init__(self) -> None:
        super().__init__(online=False)
