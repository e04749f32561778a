"""Containers for labelled samples that carry their global IDs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from expunge.errors import InvalidForgetSetError, ModelError

__all__ = ["Dataset", "Partition", "Split", "TensorBatches", "partition"]


@dataclass(frozen=True)
class Split:
    """Samples, labels and the global ID of each sample, aligned by position.

    Attributes:
        x: Float tensor ``[n, *input_shape]``.
        y: Int64 tensor ``[n]`` of class indices.
        ids: Object array ``[n]`` of ID strings, unique within the data set.
    """

    x: torch.Tensor
    y: torch.Tensor
    ids: np.ndarray

    def __post_init__(self) -> None:
        if not (len(self.x) == len(self.y) == len(self.ids)):
            raise ModelError(
                f"A split needs as many samples, labels and IDs; got {len(self.x)}, {len(self.y)} and {len(self.ids)}."
            )
        if self.y.dtype != torch.int64:
            raise ModelError(f"Labels must be an int64 tensor; got {self.y.dtype}.")

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index: np.ndarray | torch.Tensor | list[int]) -> Split:
        """Return the samples at the given positions (or boolean mask), in that order."""
        idx = torch.as_tensor(np.asarray(index))
        if idx.dtype == torch.bool:
            idx = idx.nonzero().flatten()
        np_idx = idx.numpy()
        return Split(self.x[idx], self.y[idx], self.ids[np_idx])

    @property
    def xy(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``(x, y)`` pair, as the audit functions take it."""
        return self.x, self.y

    def sample(self, n: int, rng: np.random.Generator) -> Split:
        """Return at most ``n`` samples drawn without replacement, kept in their original order."""
        if len(self) <= n:
            return self
        return self.subset(np.sort(rng.choice(len(self), n, replace=False)))

    def batches(
        self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> TensorBatches:
        """Iterate over ``(x, y)`` batches without per-sample collation (fast on CPU)."""
        return TensorBatches(self.x, self.y, batch_size=batch_size, shuffle=shuffle, generator=generator)

    def positions(self, ids: np.ndarray | list[str]) -> np.ndarray:
        """Return the positions of the given IDs in this split.

        Raises:
            InvalidForgetSetError: Some IDs are not in this split (the first few are named).
        """
        lookup = {sid: i for i, sid in enumerate(self.ids.tolist())}
        missing = [sid for sid in ids if sid not in lookup]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise InvalidForgetSetError(
                f"{len(missing)} ID(s) are not training samples of this model: {shown}{more}. "
                f"IDs look like {self.ids[0]!r}."
            )
        return np.fromiter((lookup[sid] for sid in ids), dtype=np.int64, count=len(ids))


class TensorBatches:
    """A re-iterable loader of ``(x, y)`` batches over in-memory tensors.

    It behaves like a ``DataLoader`` over a ``TensorDataset`` for the engine's purposes (iterable,
    ``len`` in batches) at a fraction of the cost: batches are sliced, not collated.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        if batch_size < 1:
            raise ModelError(f"batch_size must be a positive integer; got {batch_size}.")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self) -> int:
        return (len(self.y) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.y)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                yield self.x[idx], self.y[idx]
        else:
            for start in range(0, n, self.batch_size):
                yield self.x[start : start + self.batch_size], self.y[start : start + self.batch_size]


@dataclass(frozen=True)
class Dataset:
    """A loaded data set: a training pool and a test set, with metadata.

    Attributes:
        name: Registry key, e.g. ``"mnist"``.
        train: The training pool, in its original order.
        test: The test set.
        classes: Human names of the classes, index-aligned with labels.
        input_shape: Shape of one sample.
        sha256: sha256 of the source files (joined), checked at load time.
        source: Where the files were read from.
        notes: How the raw data was encoded, for reports.
    """

    name: str
    train: Split
    test: Split
    classes: tuple[str, ...]
    input_shape: tuple[int, ...]
    sha256: str
    source: str
    notes: str = ""

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def fingerprint(self) -> str:
        """A short content ID of the data set (its sources' sha256 and sizes)."""
        raw = f"{self.name}:{self.sha256}:{len(self.train)}:{len(self.test)}".encode()
        return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Partition:
    """The training pool cut into members, a validation split and a held-out split.

    Members are what models are trained on. ``val`` is used for dose tuning (never the test set).
    ``holdout`` is never trained on by anything: it supplies non-members for membership inference.

    Attributes:
        members: Samples models are trained on.
        val: Held-out samples for tuning.
        holdout: Held-out samples for audits.
        seed: Seed of the random cut.
    """

    members: Split
    val: Split
    holdout: Split
    seed: int = field(default=0)


def partition(train: Split, *, holdout_fraction: float = 0.1, seed: int = 0) -> Partition:
    """Cut a training pool into members, validation and held-out samples.

    Half of ``holdout_fraction`` goes to ``val`` and half to ``holdout``; the cut is stratified by
    class and depends only on ``seed``, so the same seed always yields the same members.

    Args:
        train: The training pool.
        holdout_fraction: Fraction of the pool kept out of training, in (0, 0.5].
        seed: Seed of the cut.
    """
    if not 0.0 < holdout_fraction <= 0.5:
        raise InvalidForgetSetError(f"holdout_fraction must be a float in (0, 0.5]; got {holdout_fraction!r}.")
    rng = np.random.default_rng(seed)
    labels = train.y.numpy()
    val_idx: list[np.ndarray] = []
    hold_idx: list[np.ndarray] = []
    for cls in np.unique(labels):
        pos = np.flatnonzero(labels == cls)
        rng.shuffle(pos)
        k = max(2, round(len(pos) * holdout_fraction))
        val_idx.append(pos[: k // 2])
        hold_idx.append(pos[k // 2 : k])
    val = np.sort(np.concatenate(val_idx))
    hold = np.sort(np.concatenate(hold_idx))
    mask = np.ones(len(train), dtype=bool)
    mask[val] = False
    mask[hold] = False
    return Partition(
        members=train.subset(np.flatnonzero(mask)),
        val=train.subset(val),
        holdout=train.subset(hold),
        seed=seed,
    )
