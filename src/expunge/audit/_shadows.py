"""Shadow models: K models trained on random halves of a data pool, cached on disk by content hash."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from expunge.datasets import Split
from expunge.errors import InsufficientDataError
from expunge.models import ModelSpec, TrainConfig, build_model, predict_logits, progress_bar, train_model

__all__ = ["ShadowSet", "logit_confidence", "split_fingerprint", "train_shadows"]


def logit_confidence(logits: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Return LiRA's statistic ``log p_y − log(1 − p_y)``, computed stably from logits (Carlini et al. 2022, §4.2)."""
    logits = logits.double()
    true = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.scatter(1, y[:, None], float("-inf")).logsumexp(1)
    return (true - others).numpy()


def split_fingerprint(split: Split) -> str:
    """Return a content hash of a split's samples, labels and IDs."""
    digest = hashlib.sha256()
    digest.update(split.x.numpy().tobytes())
    digest.update(split.y.numpy().tobytes())
    digest.update("\n".join(split.ids.tolist()).encode())
    return digest.hexdigest()


@dataclass
class ShadowSet:
    """K shadow models and which pool samples each one trained on.

    Attributes:
        models: The shadow models, in eval mode.
        membership: Boolean ``[K, len(pool_ids)]``: ``True`` where shadow k trained on sample i.
        pool_ids: IDs of the pool, aligned with ``membership``'s columns.
        train_seconds: Seconds this call spent training (0 when loaded from the cache).
        one_off_seconds: Seconds the shadows took to train when they were first trained (read back from the
            cache), so reports can state the one-off cost even when it was paid earlier.
    """

    models: list[nn.Module]
    membership: np.ndarray
    pool_ids: np.ndarray
    train_seconds: float = 0.0
    one_off_seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.models)

    def membership_of(self, ids: np.ndarray) -> np.ndarray:
        """Return ``[K, len(ids)]`` membership for IDs of the pool (``False`` for IDs outside it)."""
        index = {sid: i for i, sid in enumerate(self.pool_ids.tolist())}
        cols = np.array([index.get(sid, -1) for sid in ids], dtype=np.int64)
        out = np.zeros((len(self.models), len(ids)), dtype=bool)
        known = cols >= 0
        out[:, known] = self.membership[:, cols[known]]
        return out

    def statistics(self, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
        """Return ``[K, n]`` LiRA statistics of every shadow on ``(x, y)``."""
        return np.stack([logit_confidence(predict_logits(m, x), y) for m in self.models])

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
        """Return ``[K, n]`` cross-entropy of every shadow on ``(x, y)``."""
        return np.stack([F.cross_entropy(predict_logits(m, x), y, reduction="none").numpy() for m in self.models])


def _balanced_membership(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Put each sample in exactly k/2 shadows, so every sample has as many IN as OUT models."""
    membership = np.zeros((k, n), dtype=bool)
    for i in range(n):
        membership[rng.permutation(k)[: k // 2], i] = True
    return membership


def _state_bytes(model: nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def train_shadows(
    pool: Split,
    *,
    spec: ModelSpec,
    recipe: TrainConfig,
    k: int,
    seed: int = 0,
    cache_dir: Path | None = None,
    transform: Callable[[nn.Module, int], nn.Module] | None = None,
    progress: bool | None = None,
) -> ShadowSet:
    """Train (or load) ``k`` shadow models, each on a random half of ``pool``.

    Args:
        pool: The samples shadows draw from; include both the audited forget set and the non-members.
        spec: Architecture of the audited model.
        recipe: Its training recipe (shadows must be trained like the target).
        k: Number of shadows, an even number >= 2.
        seed: Seed of the halves, the initial weights and the data order.
        cache_dir: Folder of the on-disk cache; ``None`` disables it.
        transform: Applied to each trained shadow before caching (ULiRA unlearns its shadows); it must be
            deterministic, and its identity should be part of ``seed`` or the cache folder.
        progress: Force the progress bar on or off.

    Raises:
        InsufficientDataError: ``k`` is odd or below 2.
    """
    if k < 2 or k % 2:
        raise InsufficientDataError(f"Shadow models come in IN/OUT pairs: k must be an even int >= 2; got {k}.")
    key = hashlib.sha256(
        json.dumps([split_fingerprint(pool), spec.to_json(), recipe.to_json(), k, seed], sort_keys=True).encode()
    ).hexdigest()[:24]
    folder = cache_dir / "shadows" / key if cache_dir is not None else None
    if folder is not None and (folder / "membership.npy").is_file():
        membership = np.load(folder / "membership.npy")
        models = []
        for i in range(k):
            model = build_model(spec)
            model.load_state_dict(torch.load(folder / f"shadow_{i}.pt", weights_only=True))
            models.append(model.eval())
        meta = json.loads((folder / "meta.json").read_text()) if (folder / "meta.json").is_file() else {}
        return ShadowSet(
            models=models,
            membership=membership,
            pool_ids=pool.ids,
            one_off_seconds=float(meta.get("train_seconds", 0.0)),
        )
    rng = np.random.default_rng(seed)
    membership = _balanced_membership(len(pool), k, rng)
    models = []
    start = time.perf_counter()
    with progress_bar(k, f"training {k} shadow models", enabled=progress) as advance:
        for i in range(k):
            model = build_model(spec, seed=seed * 1000 + i)
            subset = pool.subset(np.flatnonzero(membership[i]))
            generator = torch.Generator().manual_seed(seed * 1000 + i)
            train_model(
                model, subset.batches(recipe.batch_size, shuffle=True, generator=generator), recipe, progress=False
            )
            if transform is not None:
                model = transform(model, i)
            models.append(model.eval())
            advance()
    seconds = time.perf_counter() - start
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for i, model in enumerate(models):
            (folder / f"shadow_{i}.pt").write_bytes(_state_bytes(model))
        np.save(folder / "membership.npy", membership)
        (folder / "meta.json").write_text(json.dumps({"k": k, "seed": seed, "train_seconds": seconds}) + "\n")
    return ShadowSet(
        models=models, membership=membership, pool_ids=pool.ids, train_seconds=seconds, one_off_seconds=seconds
    )
