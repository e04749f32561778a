"""``sisa``: retrain only the shards of a SISA ensemble that learnt the forgotten samples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from expunge.errors import LMForgetError
from expunge.lm._forget import LMForgetData, LMForgetResult, LMMethod, register_lm_method
from expunge.lm._sisa import SisaEnsemble
from expunge.unlearn import MethodParams


@dataclass(frozen=True)
class SisaParams(MethodParams):
    """Parameters of :class:`Sisa`: none (the shards' own recipes are reused)."""


@register_lm_method("sisa")
class Sisa(LMMethod):
    """SISA forgetting (Bourtoule et al. 2021, "Machine Unlearning", IEEE S&P, §4): each shard adapter that learnt a
    forgotten sample is retrained from its seeded start without it; the others are untouched. The ensemble averages
    token probabilities (see :class:`~expunge.lm._sisa.SisaEnsemble`). Exact with respect to an ensemble trained
    without the samples; costs the affected shards' training, about 1/S of a full retrain per forgotten person.
    """

    paper = "Bourtoule et al. 2021, Machine Unlearning (IEEE S&P), §4"
    exact = True
    Params = SisaParams

    def check(self, model: Any, data: LMForgetData) -> None:
        """Refuse anything but a SISA ensemble, and retained samples that miss part of an affected shard's data."""
        if not isinstance(model, SisaEnsemble):
            raise LMForgetError(
                "sisa forgets from a SISA ensemble (see train_sisa); for one adapter use adapter_retrain."
            )
        retained = {qa.sample_id for qa in data.retain}
        for m in model.manifests:
            if data.forget_ids & set(m.sample_ids):
                missing = [s for s in m.sample_ids if s not in data.forget_ids and s not in retained]
                if missing:
                    raise LMForgetError(
                        f"Retraining shard {m.adapter_id!r} needs its other samples, but {len(missing)} are not among "
                        f"the retained samples (e.g. {missing[0]!r}); give them all."
                    )

    def unlearn(self, model: Any, data: LMForgetData, *, seed: int = 0) -> LMForgetResult:
        """Retrain the affected shards."""
        report = model.forget(data.forget_ids, data.retain, data.tokenizer)
        return LMForgetResult(
            model=model,
            manifest=None,
            details={
                "shards": model.shards,
                "shards_retrained": list(report.shards_retrained),
                "samples_retrained": report.samples_retrained,
                "samples_total": report.samples_total,
                "work_fraction": report.work_fraction,
                "seconds": report.seconds,
            },
        )
