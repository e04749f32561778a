"""Finding a classifier's output layer and the features that feed it, on any ``nn.Module``."""

from __future__ import annotations

import torch
from torch import nn

from expunge.errors import ModelError

__all__ = ["output_head", "penultimate_features"]


def output_head(model: nn.Module) -> nn.Linear:
    """Return the last ``nn.Linear`` of a model: its output head.

    Raises:
        ModelError: The model has no linear layer (head reset and probes need one).
    """
    head = None
    for module in model.modules():
        if isinstance(module, nn.Linear):
            head = module
    if head is None:
        raise ModelError(f"{type(model).__name__} has no nn.Linear output layer; head-based figures need one.")
    return head


@torch.no_grad()
def penultimate_features(model: nn.Module, x: torch.Tensor, *, batch_size: int = 4096) -> torch.Tensor:
    """Return the inputs of the output head for ``x``: the model's penultimate features."""
    head = output_head(model)
    captured: list[torch.Tensor] = []
    handle = head.register_forward_hook(lambda _m, inputs, _out: captured.append(inputs[0].detach()))
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(x), batch_size):
            model(x[start : start + batch_size])
    finally:
        handle.remove()
        model.train(was_training)
    return torch.cat(captured)
