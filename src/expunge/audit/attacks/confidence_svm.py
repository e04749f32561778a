"""``confidence_svm``: a linear SVM on confidence features, trained on known members vs non-members."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from expunge.audit.attacks._protocol import Attack, AttackInputs, register_attack
from expunge.errors import InsufficientDataError
from expunge.models import predict_logits


def confidence_features(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Return per-sample [true-class probability, loss, entropy, margin] features."""
    logits = predict_logits(model, x).double()
    logp = F.log_softmax(logits, 1)
    p = logp.exp()
    true_logp = logp.gather(1, y[:, None]).squeeze(1)
    entropy = -(p * logp).sum(1)
    others = logits.scatter(1, y[:, None], float("-inf")).max(1).values
    margin = logits.gather(1, y[:, None]).squeeze(1) - others
    return torch.stack([true_logp.exp(), -true_logp, entropy, margin], 1).float()


@register_attack("confidence_svm")
class ConfidenceSVM(Attack):
    """SalUn's "MIA-efficacy" attack (Fan et al. 2024, ICLR, appendix; after Song & Mittal 2021): a linear
    SVM on confidence features, trained to tell retained training samples (members) from held-out samples,
    then applied to the forget set. Scores are the SVM's signed margins.
    """

    paper = "Song & Mittal 2021, Systematic Evaluation of Privacy Risks of ML Models (USENIX Sec.); SalUn appendix"

    def scores(self, model: nn.Module, inputs: AttackInputs) -> np.ndarray:
        """Fit the SVM on the known members and non-members, return its margin on ``inputs``."""
        if inputs.known_members is None or inputs.known_nonmembers is None:
            raise InsufficientDataError("confidence_svm needs known members and non-members to train on.")
        pos = confidence_features(model, *inputs.known_members)
        neg = confidence_features(model, *inputs.known_nonmembers)
        n = min(len(pos), len(neg))  # balanced classes
        x = torch.cat([pos[:n], neg[:n]])
        t = torch.cat([torch.ones(n), -torch.ones(n)])
        mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
        z = (x - mean) / std
        w = torch.zeros(z.shape[1], requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            hinge = F.relu(1 - t * (z @ w + b)).pow(2).mean()  # squared hinge: smooth, as in liblinear's L2-SVM
            loss = hinge + 1e-3 * w.pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            feats = (confidence_features(model, inputs.x, inputs.y) - mean) / std
            return (feats @ w + b).numpy().astype(np.float64)
