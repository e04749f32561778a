"""Reference architectures, built from a spec that round-trips through JSON."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from expunge.errors import ModelError, UnknownArchitectureError
from expunge.registry import Registry

__all__ = ["ModelSpec", "available_architectures", "build_model", "register_architecture"]

Builder = Callable[["ModelSpec"], nn.Module]
ARCHITECTURES: Registry[Builder] = Registry("architecture", unknown=UnknownArchitectureError)


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a model before loading its weights.

    Attributes:
        arch: Registry key of the architecture (``"mlp"``, ``"cnn"``).
        input_shape: Shape of one sample, e.g. ``(1, 28, 28)``.
        num_classes: Number of outputs.
        hidden: Hidden widths; ``()`` means the architecture's default.
        extra: Free-form metadata stored with the checkpoint (data set, seed, training recipe).
    """

    arch: str
    input_shape: tuple[int, ...]
    num_classes: int
    hidden: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        out = asdict(self)
        out["input_shape"] = list(self.input_shape)
        out["hidden"] = list(self.hidden)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelSpec:
        """Rebuild a spec written by :meth:`to_json`.

        Raises:
            ModelError: A required key is missing.
        """
        try:
            return cls(
                arch=str(data["arch"]),
                input_shape=tuple(int(v) for v in data["input_shape"]),
                num_classes=int(data["num_classes"]),
                hidden=tuple(int(v) for v in data.get("hidden", ())),
                extra=dict(data.get("extra", {})),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ModelError(f"Invalid model spec {data!r}: {err}. Needs arch, input_shape, num_classes.") from err


def register_architecture(name: str) -> Callable[[Builder], Builder]:
    """Register a builder ``spec -> nn.Module`` under ``name``.

    Raises:
        DuplicateNameError: ``name`` is taken.
    """
    return ARCHITECTURES.register(name)


def available_architectures() -> list[str]:
    """Return the registered architecture names, sorted."""
    return ARCHITECTURES.names()


def build_model(spec: ModelSpec, *, seed: int | None = None) -> nn.Module:
    """Build a freshly initialised model from its spec.

    Args:
        spec: What to build.
        seed: When given, the initial weights depend only on it.

    Raises:
        UnknownArchitectureError: ``spec.arch`` is not registered.
        ModelError: The architecture cannot take this input shape.
    """
    builder = ARCHITECTURES.get(spec.arch)
    if spec.num_classes < 2:
        raise ModelError(f"A classifier needs num_classes >= 2; got {spec.num_classes}.")
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return builder(spec)
    return builder(spec)


@register_architecture("mlp")
def _mlp(spec: ModelSpec) -> nn.Module:
    """Multi-layer perceptron over the flattened input; default hidden widths (256, 128)."""
    hidden = spec.hidden or (256, 128)
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(spec.input_shape)
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, spec.num_classes))
    return nn.Sequential(*layers)


@register_architecture("cnn")
def _cnn(spec: ModelSpec) -> nn.Module:
    """Small CNN for ``(C, H, W)`` images: two conv-pool blocks and a dense layer; default (16, 32, 128)."""
    if len(spec.input_shape) != 3:
        raise ModelError(f"The cnn architecture needs (channels, height, width) inputs; got {spec.input_shape}.")
    c1, c2, dense = spec.hidden or (16, 32, 128)
    channels, height, width = spec.input_shape
    return nn.Sequential(
        nn.Conv2d(channels, c1, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * (height // 4) * (width // 4), dense),
        nn.ReLU(),
        nn.Linear(dense, spec.num_classes),
    )
