"""Synthetic classification problems, generated from a seed: fast, offline, with a known answer."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from expunge.datasets._base import Dataset, Split
from expunge.datasets._registry import register_dataset
from expunge.errors import DataError


@register_dataset("blobs")
def load_blobs(
    *,
    n_train: int = 3000,
    n_test: int = 1000,
    num_classes: int = 4,
    dim: int = 20,
    noise: float = 1.6,
    seed: int = 0,
) -> Dataset:
    """Generate Gaussian class clusters: a seeded toy problem for tests and examples.

    Each class is a Gaussian around its own random centre; ``noise`` is the per-dimension standard
    deviation, large enough that a model must fit the data to reach high accuracy, so memorisation is
    visible to membership inference.

    Args:
        n_train: Training pool size.
        n_test: Test set size.
        num_classes: Number of classes (at least 2).
        dim: Number of features.
        noise: Standard deviation around each centre.
        seed: Seed of the generator; the same seed gives the same data.
    """
    if num_classes < 2 or n_train < num_classes or n_test < 1 or dim < 1 or noise <= 0:
        raise DataError(
            "blobs needs num_classes >= 2, n_train >= num_classes, n_test >= 1, dim >= 1 and noise > 0; got "
            f"num_classes={num_classes}, n_train={n_train}, n_test={n_test}, dim={dim}, noise={noise}."
        )
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, size=(num_classes, dim))

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = np.arange(n) % num_classes
        rng.shuffle(y)
        x = centres[y] + rng.normal(0.0, noise, size=(n, dim))
        return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.int64))

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    key = f"blobs:{n_train}:{n_test}:{num_classes}:{dim}:{noise}:{seed}"
    return Dataset(
        name="blobs",
        train=Split(x_train, y_train, np.array([f"blobs:train:{i:05d}" for i in range(n_train)], dtype=object)),
        test=Split(x_test, y_test, np.array([f"blobs:test:{i:05d}" for i in range(n_test)], dtype=object)),
        classes=tuple(f"c{k}" for k in range(num_classes)),
        input_shape=(dim,),
        sha256=hashlib.sha256(key.encode()).hexdigest(),
        source="generated",
        notes=key,
    )
