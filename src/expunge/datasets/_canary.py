"""Canaries: planted outlier samples with random labels, registered by ID before training.

Adapted from Carlini et al. 2019 ("The Secret Sharer", USENIX Security, §4) to classifiers: a canary is a
random-noise input with a random label. ``n_candidates`` of them are drawn; the first ``n_planted`` join the
training data, the others are never trained on and form the reference distribution that exposure is ranked
against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from expunge.datasets._base import Split
from expunge.errors import DataError

__all__ = ["CanarySet", "make_canaries"]


@dataclass(frozen=True)
class CanarySet:
    """Planted canaries and the never-planted candidates drawn from the same distribution.

    Attributes:
        planted: The canaries added to the training data (IDs ``canary:<dataset>:NNN``).
        candidates: Same-distribution samples no model trains on.
        seed: Seed of the draw.
    """

    planted: Split
    candidates: Split
    seed: int


def make_canaries(
    dataset: str,
    *,
    input_shape: tuple[int, ...],
    num_classes: int,
    n_planted: int = 10,
    n_candidates: int = 1000,
    seed: int = 0,
    scale: float = 3.0,
) -> CanarySet:
    """Draw canaries for a data set: Gaussian-noise inputs (std ``scale``) with uniformly random labels.

    With the data sets standardised to unit variance, ``scale = 3`` puts canaries far off the data manifold,
    where only memorisation can fit their random labels — the outliers the Secret Sharer plants.

    Raises:
        DataError: ``n_planted`` < 1 or ``n_candidates`` < 10.
    """
    if n_planted < 1 or n_candidates < 10:
        raise DataError(
            f"Canaries need n_planted >= 1 and n_candidates >= 10; got n_planted={n_planted}, "
            f"n_candidates={n_candidates}."
        )
    g = torch.Generator().manual_seed(10_007 + seed)
    total = n_planted + n_candidates
    x = scale * torch.randn(total, *input_shape, generator=g)
    y = torch.randint(0, num_classes, (total,), generator=g)
    ids = np.array(
        [f"canary:{dataset}:{i:03d}" for i in range(n_planted)]
        + [f"canary-candidate:{dataset}:{i:04d}" for i in range(n_candidates)],
        dtype=object,
    )
    return CanarySet(
        planted=Split(x[:n_planted], y[:n_planted], ids[:n_planted]),
        candidates=Split(x[n_planted:], y[n_planted:], ids[n_planted:]),
        seed=seed,
    )
