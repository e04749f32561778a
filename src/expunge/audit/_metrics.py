"""The per-run figures: each a pure function of a model and tensors, returning a float."""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from expunge.errors import AuditError, InsufficientDataError
from expunge.models import accuracy, output_head, penultimate_features, per_sample_loss, predict_logits

__all__ = [
    "canary_exposure",
    "feature_probe_accuracy",
    "head_reset_accuracy",
    "kl_divergence",
    "loss_mia_auc",
    "relearn_accuracy",
    "relearn_curve",
    "roc_auc",
]


_LOG_FLOOR = 100.0


def roc_auc(member_scores: np.ndarray | torch.Tensor, nonmember_scores: np.ndarray | torch.Tensor) -> float:
    """Return the area under the ROC curve of scores that should be higher for members.

    Computed as the Mann-Whitney U statistic with ties counted half, so it equals the probability that a
    random member scores above a random non-member.

    Raises:
        InsufficientDataError: One of the two groups is empty.
    """
    pos = np.asarray(member_scores, dtype=np.float64).ravel()
    neg = np.asarray(nonmember_scores, dtype=np.float64).ravel()
    if len(pos) == 0 or len(neg) == 0:
        raise InsufficientDataError(
            f"An AUC needs members and non-members; got {len(pos)} members and {len(neg)} non-members."
        )
    scores = np.concatenate([pos, neg])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))


def loss_mia_auc(
    model: nn.Module,
    members: tuple[torch.Tensor, torch.Tensor],
    nonmembers: tuple[torch.Tensor, torch.Tensor],
) -> float:
    """Return the AUC of the loss-threshold membership attack (Yeom et al. 2018): lower loss → member.

    0.5 means the model treats ``members`` like data it never saw; above 0.5 it still remembers them.
    """
    member_loss = per_sample_loss(model, *members)
    nonmember_loss = per_sample_loss(model, *nonmembers)
    return roc_auc(-member_loss.numpy(), -nonmember_loss.numpy())


def kl_divergence(original: nn.Module, model: nn.Module, x: torch.Tensor) -> float:
    """Return the mean ``KL(original ‖ model)`` of the predictive distributions over ``x`` (nats)."""
    if len(x) == 0:
        raise InsufficientDataError("The anchor set is empty: KL drift needs at least one sample.")
    # Clamped so a probability that underflows to 0 gives a large finite divergence, not inf or nan.
    log_p = F.log_softmax(predict_logits(original, x).double(), dim=1).clamp_min(-_LOG_FLOOR)
    log_q = F.log_softmax(predict_logits(model, x).double(), dim=1).clamp_min(-_LOG_FLOOR)
    return float(F.kl_div(log_q, log_p, log_target=True, reduction="batchmean"))


def relearn_accuracy(
    model: nn.Module,
    attack: tuple[torch.Tensor, torch.Tensor],
    evaluate: tuple[torch.Tensor, torch.Tensor],
    *,
    steps: int = 10,
    lr: float = 1e-3,
) -> float:
    """Return the accuracy on ``evaluate`` after ``steps`` full-batch Adam steps on ``attack``.

    The relearning attack: an adversary holding a few correctly labelled forgotten samples fine-tunes a
    copy of the model. A model that truly forgot regains little (a retrained one stays near 0 on a
    forgotten class); one that merely suppressed the answer snaps back.

    Args:
        model: The model under attack; not modified.
        attack: The few correctly labelled samples the attacker trains on.
        evaluate: Other forgotten samples, scored after the attack.
        steps: Adam steps.
        lr: Adam learning rate.
    """
    return relearn_curve(model, attack, evaluate, steps=steps, lr=lr, every=steps)[-1]


def relearn_curve(
    model: nn.Module,
    attack: tuple[torch.Tensor, torch.Tensor],
    evaluate: tuple[torch.Tensor, torch.Tensor],
    *,
    steps: int = 10,
    lr: float = 1e-3,
    every: int = 1,
) -> list[float]:
    """Return the accuracy on ``evaluate`` before the relearning attack and after every ``every`` steps.

    See :func:`relearn_accuracy`; the last value is its result.
    """
    if len(attack[1]) == 0 or len(evaluate[1]) == 0:
        raise InsufficientDataError("The relearning attack needs attack samples and other samples to score.")
    clone = copy.deepcopy(model)
    optimizer = torch.optim.Adam(clone.parameters(), lr=lr)
    curve = [accuracy(clone, *evaluate)]
    for step in range(1, steps + 1):
        clone.train()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(clone(attack[0]), attack[1]).backward()
        optimizer.step()
        if step % every == 0 or step == steps:
            curve.append(accuracy(clone, *evaluate))
    return curve


def head_reset_accuracy(model: nn.Module, target_class: int, x: torch.Tensor, y: torch.Tensor) -> float:
    """Return the accuracy on ``(x, y)`` after setting ``target_class``'s output bias to the others' mean.

    A model that only lowered the class's bias recovers the class; one whose features and weights
    forgot it does not.

    Raises:
        AuditError: The output layer has no bias.
    """
    clone = copy.deepcopy(model)
    head = output_head(clone)
    if head.bias is None:
        raise AuditError("Head reset needs an output layer with a bias.")
    with torch.no_grad():
        others = torch.cat([head.bias[:target_class], head.bias[target_class + 1 :]])
        head.bias[target_class] = others.mean()
    return accuracy(clone, x, y)


def canary_exposure(
    model: nn.Module, planted: tuple[torch.Tensor, torch.Tensor], candidates: tuple[torch.Tensor, torch.Tensor]
) -> float:
    """Return the mean exposure, in bits, of planted canaries ranked among never-planted candidates.

    Exposure (Carlini et al. 2019, "The Secret Sharer", §4.1) of a canary is ``log2(|R|) − log2(rank)``, where
    ``rank`` is the position of its loss among the losses of the ``|R| − 1`` candidates plus itself. A memorised
    canary ranks first (exposure ``log2 |R|``); for a model that never saw it the expected exposure is about
    ``1 / ln 2 ≈ 1.44`` bits.
    """
    if len(planted[1]) == 0 or len(candidates[1]) == 0:
        raise InsufficientDataError("Canary exposure needs planted canaries and never-planted candidates.")
    planted_loss = per_sample_loss(model, *planted).numpy()
    candidate_loss = np.sort(per_sample_loss(model, *candidates).numpy())
    ranks = 1 + np.searchsorted(candidate_loss, planted_loss, side="left")
    return float(np.mean(np.log2(len(candidate_loss) + 1) - np.log2(ranks)))


def feature_probe_accuracy(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    evaluate: tuple[torch.Tensor, torch.Tensor],
    *,
    num_classes: int,
    steps: int = 200,
    lr: float = 0.05,
    seed: int = 0,
) -> float:
    """Return the accuracy on ``evaluate`` of a linear probe fit on frozen penultimate features of ``train``.

    Context, not a verdict: even a retrained model's features usually separate a forgotten class, because
    features learnt on other classes transfer. The probe's initial weights come from ``seed``, not from the
    global generator, so the figure does not depend on what ran before it.
    """
    features = penultimate_features(model, train[0])
    mean, std = features.mean(0), features.std(0).clamp_min(1e-6)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        probe = nn.Linear(features.shape[1], num_classes)
    optimizer = torch.optim.Adam(probe.parameters(), lr=lr)
    z = (features - mean) / std
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(probe(z), train[1]).backward()
        optimizer.step()
    with torch.no_grad():
        z_eval = (penultimate_features(model, evaluate[0]) - mean) / std
        return float((probe(z_eval).argmax(1) == evaluate[1]).float().mean())
