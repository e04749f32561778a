"""A seeded, deterministic trainer and the evaluation helpers every area uses."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from expunge.errors import ModelError

__all__ = [
    "TrainConfig",
    "accuracy",
    "evaluate_loss",
    "per_sample_loss",
    "predict_logits",
    "progress_bar",
    "seed_everything",
    "train_model",
]

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
_OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    """A training recipe.

    Attributes:
        epochs: Passes over the data.
        lr: Learning rate.
        batch_size: Samples per step.
        optimizer: ``"sgd"`` (with momentum) or ``"adam"``.
        momentum: SGD momentum.
        weight_decay: L2 penalty.
    """

    epochs: int = 5
    lr: float = 0.05
    batch_size: int = 128
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4

    def __post_init__(self) -> None:
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ModelError(f"The 'epochs' parameter of TrainConfig must be an int >= 1. Got {self.epochs!r}.")
        if not self.lr > 0:
            raise ModelError(f"The 'lr' parameter of TrainConfig must be a float > 0. Got {self.lr!r}.")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ModelError(f"The 'batch_size' parameter of TrainConfig must be an int >= 1. Got {self.batch_size!r}.")
        if self.optimizer not in _OPTIMIZERS:
            raise ModelError(
                f"The 'optimizer' parameter of TrainConfig must be one of {list(_OPTIMIZERS)}. Got {self.optimizer!r}."
            )

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return asdict(self)

    def make_optimizer(self, params: Iterable[nn.Parameter], *, lr: float | None = None) -> torch.optim.Optimizer:
        """Build this recipe's optimizer over ``params``."""
        rate = self.lr if lr is None else lr
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=rate, weight_decay=self.weight_decay)
        return torch.optim.SGD(params, lr=rate, momentum=self.momentum, weight_decay=self.weight_decay)


def seed_everything(seed: int) -> torch.Generator:
    """Seed PyTorch's global generator and return a fresh generator for data order."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@contextmanager
def progress_bar(total: int, description: str, *, enabled: bool | None = None) -> Iterator[Callable[[], None]]:
    """Show a Rich progress bar on stderr while a loop runs; yield a callable that advances it by one.

    Args:
        total: Number of steps.
        description: Text shown before the bar.
        enabled: Force the bar on or off; by default it shows only when stderr is a terminal.
    """
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        yield lambda: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)


def train_model(
    model: nn.Module,
    batches: Batches,
    config: TrainConfig,
    *,
    description: str = "training",
    progress: bool | None = None,
) -> nn.Module:
    """Train a classifier with cross-entropy, in place, and return it.

    Determinism: the result depends only on the model's initial weights, the order ``batches``
    yields (seed its generator) and the number of threads.

    Args:
        model: Any ``nn.Module`` mapping a batch of inputs to class logits.
        batches: Re-iterable ``(x, y)`` batches, e.g. a ``DataLoader`` or ``Split.batches(...)``.
        config: The recipe (epochs, learning rate, optimizer).
        description: Label of the progress bar.
        progress: Force the progress bar on or off.
    """
    optimizer = config.make_optimizer(model.parameters())
    steps_per_epoch = len(batches) if hasattr(batches, "__len__") else 0
    model.train()
    with progress_bar(config.epochs * steps_per_epoch, description, enabled=progress) as advance:
        for _ in range(config.epochs):
            for x, y in batches:
                optimizer.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                optimizer.step()
                advance()
    model.eval()
    return model


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, *, batch_size: int = 4096) -> torch.Tensor:
    """Return the model's logits for ``x``, computed in eval mode in large batches."""
    was_training = model.training
    model.eval()
    try:
        out = [model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    except RuntimeError as err:
        raise ModelError(
            f"The model cannot take inputs of shape {tuple(x.shape[1:])}: {str(err).splitlines()[0]}"
        ) from err
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Return the fraction of ``x`` the model labels ``y`` (0 to 1); ``nan`` for an empty set."""
    if len(y) == 0:
        return float("nan")
    return float((predict_logits(model, x).argmax(1) == y).float().mean())


def per_sample_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Return the cross-entropy of each sample."""
    return F.cross_entropy(predict_logits(model, x), y, reduction="none")


def evaluate_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Return the mean cross-entropy over ``(x, y)``."""
    return float(per_sample_loss(model, x, y).mean())
