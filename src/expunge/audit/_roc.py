"""ROC figures at low false-positive rates, with bootstrap confidence intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from expunge.audit._metrics import roc_auc
from expunge.errors import InsufficientDataError

__all__ = ["AttackFigures", "attack_figures", "min_nonmembers", "roc_curve", "tpr_at_fpr"]

FPR_TARGETS = (0.001, 0.01)


def min_nonmembers(fpr: float) -> int:
    """Return how many non-members a TPR at ``fpr`` needs: at least one false positive must be possible."""
    return math.ceil(1.0 / fpr - 1e-9)


def roc_curve(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(fpr, tpr)`` at every distinct threshold, from (0, 0) to (1, 1); higher scores mean member."""
    pos = np.asarray(member_scores, dtype=np.float64)
    neg = np.asarray(nonmember_scores, dtype=np.float64)
    scores = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    order = np.argsort(-scores, kind="mergesort")
    scores, labels = scores[order], labels[order]
    distinct = np.flatnonzero(np.diff(scores)) if len(scores) > 1 else np.array([], dtype=int)
    cut = np.concatenate([distinct, [len(scores) - 1]])
    tps = np.cumsum(labels)[cut]
    fps = (cut + 1) - tps
    tpr = np.concatenate([[0.0], tps / max(len(pos), 1)])
    fpr = np.concatenate([[0.0], fps / max(len(neg), 1)])
    return fpr, tpr


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """Return the highest TPR reachable with a false-positive rate at most ``target``."""
    ok = fpr <= target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


@dataclass(frozen=True)
class AttackFigures:
    """One attack's figures on one model.

    Attributes:
        auc: Area under the ROC curve (0.5 = the attacker cannot tell).
        tpr_at_0_1pct_fpr: TPR at 0.1 % FPR, or ``None`` when there are too few non-members (see ``warnings``).
        tpr_at_1pct_fpr: TPR at 1 % FPR, or ``None`` likewise.
        balanced_accuracy: Best (TPR + TNR) / 2 over thresholds.
        auc_ci: 95 % bootstrap interval of the AUC.
        tpr_at_1pct_fpr_ci: 95 % bootstrap interval of the TPR at 1 % FPR (``None`` when not measurable).
        n_members: Members scored.
        n_nonmembers: Non-members scored.
        warnings: Why a figure could not be measured.
    """

    auc: float
    tpr_at_0_1pct_fpr: float | None
    tpr_at_1pct_fpr: float | None
    balanced_accuracy: float
    auc_ci: tuple[float, float]
    tpr_at_1pct_fpr_ci: tuple[float, float] | None
    n_members: int
    n_nonmembers: int
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict:
        """Return the figures with the keys ``audit.json`` uses (``tpr_at_0.1pct_fpr``, ``tpr_at_1pct_fpr``)."""
        return {
            "auc": self.auc,
            "tpr_at_0.1pct_fpr": self.tpr_at_0_1pct_fpr,
            "tpr_at_1pct_fpr": self.tpr_at_1pct_fpr,
            "balanced_accuracy": self.balanced_accuracy,
            "auc_ci": list(self.auc_ci),
            "tpr_at_1pct_fpr_ci": list(self.tpr_at_1pct_fpr_ci) if self.tpr_at_1pct_fpr_ci else None,
            "n_members": self.n_members,
            "n_nonmembers": self.n_nonmembers,
            "warnings": list(self.warnings),
        }


def _tpr_or_warning(fpr, tpr, target: float, n_neg: int, warnings: list[str]) -> float | None:
    need = min_nonmembers(target)
    if n_neg < need:
        warnings.append(f"TPR at {target:.1%} FPR needs at least {need} non-members; got {n_neg}.")
        return None
    return tpr_at_fpr(fpr, tpr, target)


def attack_figures(
    member_scores: np.ndarray, nonmember_scores: np.ndarray, *, bootstrap: int = 200, seed: int = 0
) -> AttackFigures:
    """Compute AUC, TPR at 0.1 % and 1 % FPR and balanced accuracy, with bootstrap intervals.

    Raises:
        InsufficientDataError: Either group is empty.
    """
    pos = np.asarray(member_scores, dtype=np.float64)
    neg = np.asarray(nonmember_scores, dtype=np.float64)
    if len(pos) == 0 or len(neg) == 0:
        raise InsufficientDataError(f"An attack needs members and non-members; got {len(pos)} and {len(neg)}.")
    fpr, tpr = roc_curve(pos, neg)
    warnings: list[str] = []
    t01 = _tpr_or_warning(fpr, tpr, 0.001, len(neg), warnings)
    t1 = _tpr_or_warning(fpr, tpr, 0.01, len(neg), warnings)
    rng = np.random.default_rng(seed)
    aucs, t1s = [], []
    for _ in range(bootstrap):
        p = pos[rng.integers(0, len(pos), len(pos))]
        n = neg[rng.integers(0, len(neg), len(neg))]
        aucs.append(roc_auc(p, n))
        if t1 is not None:
            bf, bt = roc_curve(p, n)
            t1s.append(tpr_at_fpr(bf, bt, 0.01))
    return AttackFigures(
        auc=roc_auc(pos, neg),
        tpr_at_0_1pct_fpr=t01,
        tpr_at_1pct_fpr=t1,
        balanced_accuracy=float(((tpr + (1 - fpr)) / 2).max()),
        auc_ci=(float(np.percentile(aucs, 2.5)), float(np.percentile(aucs, 97.5))) if aucs else (math.nan, math.nan),
        tpr_at_1pct_fpr_ci=(float(np.percentile(t1s, 2.5)), float(np.percentile(t1s, 97.5))) if t1s else None,
        n_members=len(pos),
        n_nonmembers=len(neg),
        warnings=tuple(warnings),
    )
