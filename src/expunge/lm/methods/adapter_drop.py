"""``adapter_drop``: detach an adapter that served the forgotten data, erasing its weights."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from expunge.errors import LMForgetError
from expunge.lm._adapters import adapter_sha256, is_adapter_parameter
from expunge.lm._forget import LMForgetData, LMForgetResult, LMMethod, register_lm_method
from expunge.lm._sisa import SisaEnsemble
from expunge.unlearn import MethodParams, param


def zero_adapter(model: Any, adapter_name: str) -> None:
    """Overwrite every LoRA tensor of ``adapter_name`` with zeros: the model then computes exactly the base model."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if is_adapter_parameter(name, adapter_name):
                p.zero_()


@dataclass(frozen=True)
class AdapterDropParams(MethodParams):
    """Parameters of :class:`AdapterDrop`."""

    allow_collateral: bool = param(False, "Drop the adapter even though it also learnt samples not being forgotten.")


@register_lm_method("adapter_drop")
class AdapterDrop(LMMethod):
    """Exact forgetting by removal: the adapter's weights are zeroed (its LoRA delta is gone, so the model computes
    the base model bit for bit) and its manifest keeps no sample. Right when an adapter served only the forgotten
    data — a per-person or per-case adapter, the source document's "disable the adapter" first step; otherwise it
    is refused unless ``allow_collateral``, since every other sample it learnt is lost too (Bourtoule et al. 2021,
    §3, the degenerate shard).
    """

    paper = "Bourtoule et al. 2021, Machine Unlearning (IEEE S&P), §3 (a shard holding only forgotten data)"
    exact = True
    Params = AdapterDropParams

    def check(self, model: Any, data: LMForgetData) -> None:
        """Refuse a SISA ensemble, and an adapter that learnt other samples unless ``allow_collateral``."""
        if isinstance(model, SisaEnsemble):
            raise LMForgetError("adapter_drop removes one adapter; forget from a SISA ensemble with the sisa method.")
        manifest = data.manifest
        others = set(manifest.sample_ids) - data.forget_ids if manifest else set()
        if manifest is not None and others and not self.params.allow_collateral:
            raise LMForgetError(
                f"Adapter {manifest.adapter_id!r} also learnt {len(others)} sample(s) that are not being "
                "forgotten; dropping it loses them: use adapter_retrain, or set allow_collateral=true."
            )

    def unlearn(self, model: Any, data: LMForgetData, *, seed: int = 0) -> LMForgetResult:
        """Zero the adapter and record that it learnt nothing any more."""
        zero_adapter(model, data.adapter_name)
        manifest = data.manifest
        new, lost = None, 0
        if manifest is not None:
            lost = len(set(manifest.sample_ids) - data.forget_ids)
            new = replace(
                manifest,
                version=manifest.version + 1,
                parent=f"{manifest.adapter_id}@{manifest.version}",
                weights_sha256=adapter_sha256(model, data.adapter_name),
                sample_ids=(),
                notes=(*manifest.notes, f"adapter_drop: dropped ({len(data.forget)} forgotten, {lost} lost with it)"),
            )
        return LMForgetResult(model=model, manifest=new, details={"collateral_samples": lost})
