"""Shared training-loop pieces of the approximate methods (steps, optimisers, label flips)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["make_optimizer", "num_batches", "random_wrong_labels", "steps_for"]


def num_batches(batches: Iterable) -> int:
    """Return ``len(batches)``, or count them when the loader has no length."""
    try:
        return len(batches)
    except TypeError:
        return sum(1 for _ in batches)


def steps_for(epochs: float, batches: Iterable) -> int:
    """Return the number of optimiser steps that ``epochs`` passes (possibly fractional) over ``batches`` take."""
    return max(1, math.ceil(epochs * num_batches(batches)))


def make_optimizer(
    params: Iterable[nn.Parameter], *, kind: str, lr: float, momentum: float = 0.9, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """Build an ``adam`` or ``sgd`` (momentum) optimiser."""
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def random_wrong_labels(y: torch.Tensor, num_classes: int, *, generator: torch.Generator) -> torch.Tensor:
    """Return a label for each sample drawn uniformly among the classes other than its own."""
    shift = torch.randint(1, num_classes, y.shape, generator=generator)
    return (y + shift) % num_classes
