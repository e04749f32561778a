"""``adapter_retrain``: retrain the affected adapter from its seeded start without the forgotten samples."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from expunge.errors import LMForgetError
from expunge.lm._adapters import TrainingRecipe, adapter_sha256
from expunge.lm._finetune import train_adapter
from expunge.lm._forget import LMForgetData, LMForgetResult, LMMethod, register_lm_method
from expunge.lm._sisa import SisaEnsemble
from expunge.unlearn import MethodParams


@dataclass(frozen=True)
class AdapterRetrainParams(MethodParams):
    """Parameters of :class:`AdapterRetrain`: none (the adapter's own recipe is reused)."""


def retained_samples(data: LMForgetData) -> list[Any]:
    """The adapter's training samples minus the forgotten ones, found among ``data.retain``.

    Raises:
        LMForgetError: Some of them are not in ``data.retain``: retraining would silently learn less.
    """
    if data.manifest is None:
        raise LMForgetError("The adapter's manifest is missing: without it no one can tell what the adapter learnt.")
    by_id = {qa.sample_id: qa for qa in data.retain}
    wanted = [s for s in data.manifest.sample_ids if s not in data.forget_ids]
    missing = [s for s in wanted if s not in by_id]
    if missing:
        raise LMForgetError(
            f"Retraining adapter {data.manifest.adapter_id!r} needs its {len(wanted)} other training samples, but "
            f"{len(missing)} are not among the retained samples (e.g. {missing[0]!r}); give them all."
        )
    return [by_id[s] for s in wanted]


@register_lm_method("adapter_retrain")
class AdapterRetrain(LMMethod):
    """Exact forgetting for one adapter: retrain it with its own recipe on everything it learnt except the forgotten
    samples, from the same seeded initialisation. The result is the adapter that would have been trained had the
    samples never been given (SISA's argument, Bourtoule et al. 2021, "Machine Unlearning", IEEE S&P, §3, applied to
    one LoRA adapter as the unit of retraining); its cost is one adapter's training, not the base model's.
    """

    paper = "Bourtoule et al. 2021, Machine Unlearning (IEEE S&P), §3; Hu et al. 2022, LoRA (ICLR)"
    exact = True
    Params = AdapterRetrainParams

    def check(self, model: Any, data: LMForgetData) -> None:
        """Refuse a SISA ensemble (use ``sisa``) and retained samples that miss part of the adapter's data."""
        if isinstance(model, SisaEnsemble):
            raise LMForgetError(
                "adapter_retrain retrains one adapter; forget from a SISA ensemble with the sisa method."
            )
        retained_samples(data)

    def unlearn(self, model: Any, data: LMForgetData, *, seed: int = 0) -> LMForgetResult:
        """Retrain ``data.adapter_name`` on the retained samples with the manifest's recipe."""
        manifest = data.manifest
        if manifest is None:
            raise LMForgetError(
                "The adapter's manifest is missing: without it no one can tell what the adapter learnt."
            )
        keep = retained_samples(data)
        recipe = TrainingRecipe.from_mapping(manifest.recipe)
        began = time.perf_counter()
        if keep:
            seconds = train_adapter(
                model,
                data.tokenizer,
                keep,
                recipe,
                adapter_name=data.adapter_name,
                description="retraining the adapter",
            )
        else:
            from expunge.lm.methods.adapter_drop import zero_adapter

            zero_adapter(model, data.adapter_name)
            seconds = time.perf_counter() - began
        new = replace(
            manifest,
            version=manifest.version + 1,
            parent=f"{manifest.adapter_id}@{manifest.version}",
            weights_sha256=adapter_sha256(model, data.adapter_name),
            sample_ids=tuple(qa.sample_id for qa in keep),
            seconds=round(seconds, 3),
            notes=(*manifest.notes, f"adapter_retrain: retrained without {len(data.forget)} sample(s)"),
        )
        return LMForgetResult(model=model, manifest=new, details={"retrained_samples": len(keep), "seconds": seconds})
