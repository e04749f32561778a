"""``ulira``: U-LiRA — can an attacker tell the unlearned model from a retrained one on the forget set?"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from expunge.audit._shadows import logit_confidence, split_fingerprint
from expunge.audit.attacks._protocol import Attack, AttackInputs, register_attack
from expunge.audit.attacks.lira import _log_normal, gaussian_fit
from expunge.datasets import Split
from expunge.errors import AuditError
from expunge.models import ModelSpec, TrainConfig, build_model, predict_logits, progress_bar, train_model

PAPER = "Hayes et al. 2024, Inexact Unlearning Needs More Careful Evaluations to Avoid a False Sense of Privacy, §4"


def _shadow_stats(
    pool: Split,
    forget: Split,
    *,
    spec: ModelSpec,
    recipe: TrainConfig,
    unlearn_fn: Callable[[nn.Module, Split, Split], nn.Module],
    k: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    forget_ids = set(forget.ids.tolist())
    rest = pool.subset(np.array([i not in forget_ids for i in pool.ids.tolist()]))
    rng = np.random.default_rng(seed)
    unlearned, retrained = [], []
    with progress_bar(2 * k, f"training {2 * k} U-LiRA shadows") as advance:
        for i in range(k):
            half = rest.subset(np.sort(rng.choice(len(rest), len(rest) // 2, replace=False)))
            with_forget = Split(
                torch.cat([half.x, forget.x]), torch.cat([half.y, forget.y]), np.concatenate([half.ids, forget.ids])
            )
            for train_on, bucket in ((with_forget, unlearned), (half, retrained)):
                model = build_model(spec, seed=seed * 1000 + i)
                generator = torch.Generator().manual_seed(seed * 1000 + i)
                batches = train_on.batches(recipe.batch_size, shuffle=True, generator=generator)
                train_model(model, batches, recipe, progress=False)
                if bucket is unlearned:
                    model = unlearn_fn(model, forget, half)
                bucket.append(logit_confidence(predict_logits(model.eval(), forget.x), forget.y))
                advance()
    return np.stack(unlearned), np.stack(retrained)


@register_attack("ulira")
class ULiRA(Attack):
    """U-LiRA: score the forget set by how much more it looks "unlearned" than "retrained".

    :meth:`fit` trains ``k`` shadow pairs sharing a random half of the pool: one model is trained with the forget
    set and then unlearned with the method under test, the other is trained without it. Per-sample Gaussians
    (pooled variance) of the LiRA statistic under "unlearned" and "retrained" give a likelihood ratio;
    :meth:`scores` returns it for each forget sample. An attacker who scores the unlearned model's forget samples
    above the retrained model's tells the two apart (AUC > 0.5), so the audit compares those two score sets.
    """

    paper = PAPER
    needs_method = True

    def __init__(self) -> None:
        self._fitted: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def fit(
        self,
        *,
        pool: Split,
        forget: Split,
        spec: ModelSpec,
        recipe: TrainConfig,
        unlearn_fn: Callable[[nn.Module, Split, Split], nn.Module],
        key: str,
        k: int,
        seed: int,
        cache_dir: Path | None,
    ) -> float:
        """Train (or load from ``cache_dir``) the ``k`` shadow pairs; return the seconds spent training."""
        digest = hashlib.sha256(
            json.dumps(
                [split_fingerprint(pool), split_fingerprint(forget), spec.to_json(), recipe.to_json(), k, seed, key],
                sort_keys=True,
            ).encode()
        ).hexdigest()[:24]
        folder = cache_dir / "ulira" / digest if cache_dir is not None else None
        seconds = 0.0
        if folder is not None and (folder / "unlearned.npy").is_file():
            stats_unl, stats_ret = np.load(folder / "unlearned.npy"), np.load(folder / "retrained.npy")
        else:
            start = time.perf_counter()
            stats_unl, stats_ret = _shadow_stats(
                pool, forget, spec=spec, recipe=recipe, unlearn_fn=unlearn_fn, k=k, seed=seed
            )
            seconds = time.perf_counter() - start
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                np.save(folder / "unlearned.npy", stats_unl)
                np.save(folder / "retrained.npy", stats_ret)
        everyone = np.ones_like(stats_unl, dtype=bool)
        mu_u, sd_u = gaussian_fit(stats_unl, everyone, global_variance=True)
        mu_r, sd_r = gaussian_fit(stats_ret, everyone, global_variance=True)
        self._fitted = (forget.ids, mu_u, sd_u, mu_r, sd_r)
        return seconds

    def scores(self, model: nn.Module, inputs: AttackInputs) -> np.ndarray:
        """Return the log-likelihood ratio "unlearned" over "retrained" of each forget sample, ``[n_forget]``.

        Raises:
            AuditError: :meth:`fit` was not called, or ``inputs`` are not the forget set it was fitted on.
        """
        if self._fitted is None:
            raise AuditError("ulira scores the forget set it was fitted on: call fit() with the method first.")
        ids, mu_u, sd_u, mu_r, sd_r = self._fitted
        if len(inputs.ids) != len(ids) or not np.array_equal(inputs.ids, ids):
            raise AuditError(f"ulira was fitted on {len(ids)} forget samples; it scores exactly those, in order.")
        phi = logit_confidence(predict_logits(model, inputs.x), inputs.y)
        return _log_normal(phi, mu_u, sd_u) - _log_normal(phi, mu_r, sd_r)
