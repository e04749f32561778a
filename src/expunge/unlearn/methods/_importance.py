"""Diagonal Fisher information of a model's parameters over a set of batches."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

__all__ = ["diagonal_fisher", "squared_gradients"]


def diagonal_fisher(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    max_samples: int,
    generator: torch.Generator,
) -> dict[str, torch.Tensor]:
    """Estimate the diagonal of the Fisher information from per-sample gradients.

    Labels are sampled from the model's own predictive distribution (the true Fisher, not the empirical
    one), as in Golatkar et al. 2020, §4. Per-sample gradients use ``torch.func.vmap``, so any model
    whose forward pass is a pure function of its parameters works.

    Args:
        model: The model; left unchanged.
        batches: Samples to average over.
        max_samples: Stop after this many samples (the estimate converges quickly).
        generator: Draws the sampled labels.
    """
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def sample_loss(p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = functional_call(model, (p, buffers), (x.unsqueeze(0),))
        return F.cross_entropy(logits, y.unsqueeze(0))

    per_sample = vmap(grad(sample_loss), in_dims=(None, 0, 0))
    fisher = {k: torch.zeros_like(v) for k, v in params.items()}
    seen = 0
    was_training = model.training
    model.eval()
    for x, _y in batches:
        x = x[: max_samples - seen]
        with torch.no_grad():
            probs = F.softmax(model(x), dim=1)
        sampled = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        grads = per_sample(params, x, sampled)
        for k, g in grads.items():
            fisher[k] += g.pow(2).sum(0)
        seen += len(x)
        if seen >= max_samples:
            break
    model.train(was_training)
    return {k: v / max(seen, 1) for k, v in fisher.items()}


def squared_gradients(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], *, max_batches: int | None = None
) -> dict[str, torch.Tensor]:
    """Average the squared mini-batch gradient of the loss: the importance estimate SSD uses (Foster et al.
    2024, §3.2), cheaper than per-sample Fisher."""
    total = {k: torch.zeros_like(v) for k, v in model.named_parameters()}
    count = 0
    was_training = model.training
    model.eval()
    for i, (x, y) in enumerate(batches):
        if max_batches is not None and i >= max_batches:
            break
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        for k, p in model.named_parameters():
            if p.grad is not None:
                total[k] += p.grad.detach().pow(2)
        count += 1
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return {k: v / max(count, 1) for k, v in total.items()}
