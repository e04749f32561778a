"""The set-level membership test: is the forget set, as a whole, more member-like than random non-members?"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from expunge.errors import InsufficientDataError

__all__ = ["SetLevelTest", "set_level_test"]


@dataclass(frozen=True)
class SetLevelTest:
    """Result of :func:`set_level_test`.

    Attributes:
        z: ``(mean score of the forget set − mean of the null) / sqrt(std of the null² + sem²)``, where ``sem`` is
            the standard error of the non-member pool's own mean (it matters when the pool is small).
        p_value: One-sided p-value of ``z`` under a normal null.
        forget_mean: Mean attack score over the forget set.
        null_mean: Mean of the null distribution of set means.
        null_std: Its standard deviation.
        set_size: Samples in the forget set.
        draws: Random non-member sets drawn.
    """

    z: float
    p_value: float
    forget_mean: float
    null_mean: float
    null_std: float
    set_size: int
    draws: int

    def to_json(self) -> dict:
        """Return a JSON-able dict."""
        return asdict(self)


def set_level_test(
    forget_scores: np.ndarray, nonmember_scores: np.ndarray, *, draws: int = 2000, seed: int = 0
) -> SetLevelTest:
    """Compare the forget set's mean attack score with the means of random non-member sets of the same size.

    Per-example attacks barely beat chance on well-generalised models, but small per-example shifts add up
    over hundreds of samples: a model still trained on the forget set shows a large ``z``, a model that never
    saw it a ``z`` near 0. Non-member sets are drawn with replacement (the sampling distribution of a mean of
    ``len(forget_scores)`` independent non-members), so a finite pool does not shrink the null's spread.

    Raises:
        InsufficientDataError: Fewer than 2 forget or non-member scores.
    """
    f = np.asarray(forget_scores, dtype=np.float64)
    n = np.asarray(nonmember_scores, dtype=np.float64)
    if len(f) < 2 or len(n) < 2:
        raise InsufficientDataError(
            f"The set-level test needs at least 2 forget and 2 non-member scores; got {len(f)} and {len(n)}."
        )
    rng = np.random.default_rng(seed)
    size = len(f)
    means = n[rng.integers(0, len(n), (draws, size))].mean(1)
    std = float(means.std(ddof=1))
    # The null is centred on the pool's mean, itself an estimate: a small pool must not make z overconfident.
    sem = float(n.std(ddof=1)) / math.sqrt(len(n))
    z = (float(f.mean()) - float(means.mean())) / (math.sqrt(std**2 + sem**2) or 1e-12)
    return SetLevelTest(
        z=z,
        p_value=0.5 * math.erfc(z / math.sqrt(2)),
        forget_mean=float(f.mean()),
        null_mean=float(means.mean()),
        null_std=std,
        set_size=size,
        draws=draws,
    )
