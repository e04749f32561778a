"""Measuring forgetting: accuracy splits, the Unlearning Score, membership inference, relearning,
head reset, feature probes and drift on an anchor set.

Owns: every figure that says how much a model still knows about a forget set. It works on any
``nn.Module`` classifier and tensors, so it is usable alone as a library.

Must not touch: unlearning methods (it judges them, it never calls them by name), data set loading, or
anything of the governance half.
"""

from expunge.audit._metrics import (
    feature_probe_accuracy,
    head_reset_accuracy,
    kl_divergence,
    loss_mia_auc,
    relearn_accuracy,
    roc_auc,
)

__all__ = [
    "feature_probe_accuracy",
    "head_reset_accuracy",
    "kl_divergence",
    "loss_mia_auc",
    "relearn_accuracy",
    "roc_auc",
]
