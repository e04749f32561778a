"""A forgetting scenario: data set, partition, forget set, architecture and training recipe, fixed by a seed."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from expunge.datasets import (
    CanarySet,
    Dataset,
    ForgetSet,
    Partition,
    Split,
    load_dataset,
    make_canaries,
    parse_forget_spec,
    partition,
)
from expunge.errors import InvalidForgetSetError
from expunge.models import (
    ModelSpec,
    TrainConfig,
    build_model,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
    train_model,
)

__all__ = ["DEFAULT_RECIPES", "Scenario", "prepare_scenario", "train_original", "train_reference"]

PARTITION_SEED = 0  # the held-out split never moves, so no model of any seed ever trains on it

DEFAULT_RECIPES: dict[tuple[str, str], TrainConfig] = {
    ("mnist", "mlp"): TrainConfig(epochs=20, lr=0.05, batch_size=128),
    ("mnist", "cnn"): TrainConfig(epochs=4, lr=0.05, batch_size=128),
    ("fashion_mnist", "mlp"): TrainConfig(epochs=20, lr=0.05, batch_size=128),
    ("fashion_mnist", "cnn"): TrainConfig(epochs=4, lr=0.05, batch_size=128),
    ("adult", "mlp"): TrainConfig(epochs=8, lr=0.02, batch_size=128),
    ("blobs", "mlp"): TrainConfig(epochs=30, lr=0.05, batch_size=64),
}
_FALLBACK_RECIPE = TrainConfig()


@dataclass(frozen=True)
class Scenario:
    """Everything a run is measured on.

    Attributes:
        dataset: The loaded data set.
        partition: Members, validation and held-out samples.
        forget_set: The IDs to forget.
        forget: Member samples to forget.
        retain: Member samples to keep.
        spec: Architecture of the models.
        train_config: Recipe of the original model and of ``retrain``.
        seed: Seed of the model's initial weights, the data order and random forget draws.
        canaries: Canaries planted among the members before training, if any.
    """

    dataset: Dataset
    partition: Partition
    forget_set: ForgetSet
    forget: Split
    retain: Split
    spec: ModelSpec
    train_config: TrainConfig
    seed: int
    canaries: CanarySet | None = None

    @property
    def members(self) -> Split:
        """Every sample the original model trains on."""
        return self.partition.members

    def model_factory(self) -> nn.Module:
        """Build a fresh model of the scenario's architecture with the scenario's initial weights."""
        return build_model(self.spec, seed=self.seed)

    def generator(self, salt: int = 0) -> torch.Generator:
        """Return a generator seeded by the scenario seed and ``salt``."""
        return torch.Generator().manual_seed(self.seed * 1_000_003 + salt)

    def cache_key(self) -> str:
        """Content key of the original model: data, members, architecture, recipe and seed."""
        members = hashlib.sha256("\n".join(self.members.ids.tolist()).encode()).hexdigest()
        raw = json.dumps(
            [self.dataset.fingerprint(), members, self.spec.to_json(), self.train_config.to_json(), self.seed],
            sort_keys=True,
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:24]


def prepare_scenario(
    dataset: str | Dataset,
    *,
    arch: str = "mlp",
    forget: str = "class:7",
    seed: int = 0,
    train_config: TrainConfig | None = None,
    max_train: int | None = None,
    hidden: tuple[int, ...] = (),
    canaries: int = 0,
) -> Scenario:
    """Load a data set and fix everything a run needs.

    Args:
        dataset: A registered data set name or a loaded :class:`~expunge.datasets.Dataset`.
        arch: Registered architecture.
        forget: ``class:K``, ``random:FRACTION`` or the path of an ID file.
        seed: Seed of the model, the data order and random forget draws.
        train_config: Recipe; default the one tuned for this data set and architecture.
        max_train: Keep only the first ``max_train`` members (small, fast runs).
        hidden: Hidden widths; default the architecture's.
        canaries: Plant this many canaries (random-noise inputs with random labels) among the members; forget
            them with ``forget="canaries"`` and audit their exposure.
    """
    data = load_dataset(dataset) if isinstance(dataset, str) else dataset
    part = partition(data.train, seed=PARTITION_SEED)
    if max_train is not None:
        if max_train < data.num_classes:
            raise InvalidForgetSetError(f"max_train must be at least the number of classes; got {max_train}.")
        part = replace(part, members=part.members.subset(np.arange(min(max_train, len(part.members)))))
    canary_set = None
    if canaries:
        canary_set = make_canaries(
            data.name, input_shape=data.input_shape, num_classes=data.num_classes, n_planted=canaries, seed=seed
        )
        m, c = part.members, canary_set.planted
        part = replace(
            part, members=Split(torch.cat([m.x, c.x]), torch.cat([m.y, c.y]), np.concatenate([m.ids, c.ids]))
        )
    forget_set = parse_forget_spec(forget, part.members, num_classes=data.num_classes, seed=seed)
    forget_split, retain_split = forget_set.split(part.members)
    if len(retain_split) == 0:
        raise InvalidForgetSetError(f"The forget set {forget!r} covers every training sample: nothing is retained.")
    config = train_config or DEFAULT_RECIPES.get((data.name, arch), _FALLBACK_RECIPE)
    spec = ModelSpec(
        arch=arch,
        input_shape=data.input_shape,
        num_classes=data.num_classes,
        hidden=hidden,
        extra={"dataset": data.name},
    )
    build_model(spec)  # validates the architecture against the data before any training
    return Scenario(
        dataset=data,
        partition=part,
        forget_set=forget_set,
        forget=forget_split,
        retain=retain_split,
        spec=spec,
        train_config=config,
        seed=seed,
        canaries=canary_set,
    )


def _train_cached(
    scenario: Scenario, folder: Path | None, train_on: Split, generator: torch.Generator, description: str
) -> tuple[nn.Module, float]:
    """Train a fresh model of the scenario with its recipe on ``train_on``, or load it from ``folder``."""
    if folder is not None and (folder / "model.json").is_file():
        checkpoint = load_checkpoint(folder)
        return checkpoint.model, float(checkpoint.meta.get("train_seconds", 0.0))
    model = scenario.model_factory()
    seed_everything(scenario.seed)
    batches = train_on.batches(scenario.train_config.batch_size, shuffle=True, generator=generator)
    start = time.perf_counter()
    train_model(model, batches, scenario.train_config, description=description)
    seconds = time.perf_counter() - start
    if folder is not None:
        save_checkpoint(model, scenario.spec, folder, train_seconds=seconds, recipe=scenario.train_config.to_json())
    return model, seconds


def train_original(scenario: Scenario, *, cache_dir: Path | None = None) -> tuple[nn.Module, float]:
    """Train (or load from the cache) the original model on every member; return it and its training seconds.

    The cache key covers the data, the member IDs, the architecture, the recipe and the seed, so a hit
    is the same model bit for bit.
    """
    folder = cache_dir / "models" / scenario.cache_key() if cache_dir is not None else None
    generator = torch.Generator().manual_seed(scenario.seed)
    return _train_cached(scenario, folder, scenario.members, generator, f"training {scenario.spec.arch}")


def train_reference(scenario: Scenario, *, cache_dir: Path | None = None) -> tuple[nn.Module, float]:
    """Retrain (or load from the cache) the exact reference: the original recipe on the retained samples only.

    It is what the ``retrain`` method produces (same initial weights, same data order), cached under a key that
    adds the forgotten IDs to the original's, so repeated audits of one deletion retrain once.
    """
    forgotten = hashlib.sha256("\n".join(scenario.forget_set.ids).encode()).hexdigest()
    key = hashlib.sha256(f"{scenario.cache_key()}:{forgotten}".encode()).hexdigest()[:24]
    folder = cache_dir / "references" / key if cache_dir is not None else None
    return _train_cached(scenario, folder, scenario.retain, scenario.generator(2), "retraining the reference")
