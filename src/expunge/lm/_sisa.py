"""SISA over LoRA: S shard adapters on one base model, served as a prediction-level ensemble.

SISA (Bourtoule et al. 2021, "Machine Unlearning", IEEE S&P, §4) trains one constituent model per disjoint shard of
the training data and aggregates their predictions; forgetting a sample retrains only the shard that held it, so the
cost is about 1/S of retraining everything. Here each constituent is a LoRA adapter on shared base weights, and
the ensemble averages the shards' *token probabilities* at every position. Merging the shards' LoRA deltas into one
adapter would be cheaper to serve but destroys memorised facts (tombstone-erase's finding on CPU), so the
ensemble is never merged. Data is sharded by person, so one person's samples live in exactly one shard.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers.modeling_outputs import CausalLMOutput

from expunge.errors import InvalidParameterError
from expunge.lm._adapters import AdapterManifest, TrainingRecipe, adapter_sha256, is_adapter_parameter
from expunge.lm._data import QA
from expunge.lm._finetune import finetune_adapter, train_adapter

__all__ = ["SisaEnsemble", "SisaForgetReport", "SisaTraining", "shard_of", "train_sisa"]

MAX_SHARDS = 64


def shard_of(qa: QA, shards: int, *, seed: int = 0) -> int:
    """Return the shard of a sample: a seeded hash of its person (of its ID for samples about no one)."""
    key = qa.person_id or qa.sample_id
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest(), 16) % shards


@dataclass(frozen=True)
class SisaForgetReport:
    """What forgetting cost on a SISA ensemble.

    Attributes:
        shards_retrained: Indices of the shards that held forgotten samples and were retrained.
        samples_retrained: Samples the retrained shards learnt again.
        samples_total: Samples of the whole ensemble before forgetting (a full retrain's work).
        seconds: Wall seconds of the retraining.
    """

    shards_retrained: tuple[int, ...]
    samples_retrained: int
    samples_total: int
    seconds: float

    @property
    def work_fraction(self) -> float:
        """Retrained samples over all samples: the share of a full retrain's work (epochs being equal)."""
        return self.samples_retrained / max(1, self.samples_total)


class SisaEnsemble(nn.Module):
    """S LoRA shard adapters on one ``PeftModel``, answering as the average of their token probabilities.

    ``forward`` returns a ``CausalLMOutput`` whose ``logits`` are the log of the mean of the shards' softmax
    distributions (valid logits: their softmax is that mean), so every scorer built on ``answer_logprobs`` and the
    step-by-step greedy decoder work on it unchanged.

    Attributes:
        model: The ``PeftModel`` holding adapters ``shard0`` … ``shard{S-1}``.
        manifests: One manifest per shard.
        seed: Seed of the shard assignment.
    """

    def __init__(self, model: Any, manifests: Sequence[AdapterManifest], *, seed: int = 0) -> None:
        super().__init__()
        if not manifests:
            raise InvalidParameterError("A SISA ensemble needs at least one shard adapter.")
        self.model = model
        self.manifests = list(manifests)
        self.seed = seed

    @property
    def shards(self) -> int:
        """Number of shards."""
        return len(self.manifests)

    @staticmethod
    def adapter_name(index: int) -> str:
        """The adapter name of shard ``index``."""
        return f"shard{index}"

    @property
    def sample_ids(self) -> tuple[str, ...]:
        """Every sample some shard learnt, sorted."""
        return tuple(sorted({s for m in self.manifests for s in m.sample_ids}))

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs: Any
    ) -> CausalLMOutput:
        """Return the ensemble's log mean probabilities as ``logits`` (``[batch, seq, vocab]``, fp32)."""

        def shard_logp(i: int) -> torch.Tensor:
            self.model.set_adapter(self.adapter_name(i))
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs).logits
            return torch.log_softmax(logits.float(), dim=-1)

        total = shard_logp(0)  # a running log-sum keeps memory at two [batch, seq, vocab] tensors
        for i in range(1, self.shards):
            total = torch.logaddexp(total, shard_logp(i))
        return CausalLMOutput(logits=total - math.log(self.shards))

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        max_new_tokens: int = 32,
        pad_token_id: int | None = None,
        eos_token_id: int | None = None,
        **_: Any,
    ) -> torch.Tensor:
        """Greedy decoding like ``transformers``' ``generate`` (prompt then new tokens, ``[batch, seq + new]``).

        Only greedy decoding exists here: sampling options are ignored, decoding is step by step without a cache.
        """
        from expunge.lm._generate import greedy_no_cache

        mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
        pad = pad_token_id if pad_token_id is not None else (eos_token_id if eos_token_id is not None else 0)
        new = greedy_no_cache(self, input_ids, mask, max_new_tokens=max_new_tokens, eos=eos_token_id, pad_id=pad)
        return torch.cat([input_ids, new], dim=1)

    def forget(
        self, forget_ids: set[str], samples: Sequence[QA], tokenizer: Any, *, progress: bool | None = None
    ) -> SisaForgetReport:
        """Retrain from their seeded initialisation the shards that learnt any of ``forget_ids``, without them.

        Args:
            forget_ids: Sample IDs to forget.
            samples: The retained training samples (every sample of an affected shard except the forgotten ones
                must be among them).
            tokenizer: The tokenizer.
            progress: Force the progress bar on or off.
        """
        by_id = {qa.sample_id: qa for qa in samples}
        samples_total = sum(len(m.sample_ids) for m in self.manifests)
        hit = [i for i, m in enumerate(self.manifests) if forget_ids & set(m.sample_ids)]
        began = time.perf_counter()
        retrained = 0
        for i in hit:
            m = self.manifests[i]
            keep = [by_id[s] for s in m.sample_ids if s not in forget_ids]
            name = self.adapter_name(i)
            if keep:
                recipe = TrainingRecipe.from_mapping(m.recipe)
                train_adapter(
                    self.model,
                    tokenizer,
                    keep,
                    recipe,
                    adapter_name=name,
                    progress=progress,
                    description=f"retraining shard {i}",
                )
            else:  # the shard held only forgotten samples: it contributes the base model from now on
                with torch.no_grad():
                    for n, p in self.model.named_parameters():
                        if is_adapter_parameter(n, name):
                            p.zero_()
            retrained += len(keep)
            self.manifests[i] = replace(
                m,
                version=m.version + 1,
                parent=f"{m.adapter_id}@{m.version}",
                weights_sha256=adapter_sha256(self.model, name),
                sample_ids=tuple(s.sample_id for s in keep),
                notes=(*m.notes, f"sisa: retrained without {len(set(m.sample_ids) & forget_ids)} sample(s)"),
            )
        return SisaForgetReport(tuple(hit), retrained, samples_total, time.perf_counter() - began)


@dataclass
class SisaTraining:
    """The result of :func:`train_sisa`: the ensemble, per-shard training seconds, and how many came from cache."""

    ensemble: SisaEnsemble
    seconds: list[float] = field(default_factory=list)
    cached: int = 0

    @property
    def total_seconds(self) -> float:
        """Seconds of training every shard."""
        return sum(self.seconds)


def train_sisa(
    model: nn.Module,
    tokenizer: Any,
    samples: Sequence[QA],
    recipe: TrainingRecipe | None = None,
    *,
    shards: int = 4,
    seed: int = 0,
    adapter_id: str = "sisa",
    base_model_id: str = "base",
    cache_dir: Path | None = None,
    progress: bool | None = None,
) -> SisaTraining:
    """Split ``samples`` into ``shards`` by person and train one LoRA adapter per shard.

    Args:
        model: The base causal LM (wrapped by peft in place) or a ``PeftModel``.
        tokenizer: Its tokenizer.
        samples: The training samples.
        recipe: The recipe every shard is trained with (default :class:`TrainingRecipe`).
        shards: Number of shards S (2–64).
        seed: Seed of the assignment of people to shards.
        adapter_id: Prefix of the shards' adapter IDs.
        base_model_id: Readable name of the base model.
        cache_dir: Cache folder for the shard adapters (each is cached like any adapter).
        progress: Force the progress bar on or off.

    Raises:
        InvalidParameterError: ``shards`` out of range, or a shard left without samples.
    """
    if not isinstance(shards, int) or isinstance(shards, bool) or not 2 <= shards <= MAX_SHARDS:
        raise InvalidParameterError(
            f"The number of SISA shards must be an int in [2, {MAX_SHARDS}]. Got {shards!r} instead."
        )
    groups: list[list[QA]] = [[] for _ in range(shards)]
    for qa in samples:
        groups[shard_of(qa, shards, seed=seed)].append(qa)
    empty = [i for i, g in enumerate(groups) if not g]
    if empty:
        raise InvalidParameterError(
            f"{len(empty)} of {shards} SISA shards would hold no sample with {len(samples)} samples; use fewer shards."
        )
    manifests, seconds, cached = [], [], 0
    for i, group in enumerate(groups):
        trained = finetune_adapter(
            model,
            tokenizer,
            group,
            recipe,
            adapter_name=SisaEnsemble.adapter_name(i),
            adapter_id=f"{adapter_id}-shard{i}",
            base_model_id=base_model_id,
            cache_dir=cache_dir,
            progress=progress,
        )
        model = trained.model
        manifests.append(trained.manifest)
        seconds.append(trained.seconds)
        cached += int(trained.cached)
    return SisaTraining(SisaEnsemble(model, manifests, seed=seed), seconds, cached)
