"""LoRA adapters with lineage: attach, initialise deterministically, hash, save and load with a manifest.

An adapter is a small set of low-rank weight deltas (Hu et al. 2022, "LoRA: Low-Rank Adaptation of Large Language
Models", §4) trained for one tenant, department or data domain on top of shared base weights. Its
:class:`AdapterManifest` records what a deletion needs to know: the samples it learnt, the base weights it was
trained on (their sha256), its own weights' sha256, its version and its training recipe. Loading an adapter onto
other base weights, or with weights that no longer match their digest, is refused in one sentence.

The folder written by :func:`save_adapter` is a regular peft folder (``adapter_config.json`` and
``adapter_model.safetensors``, loadable by ``PeftModel.from_pretrained``) plus ``manifest.json``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from expunge.errors import AdapterMismatchError, ModelFilesMissingError
from expunge.lm._load import base_sha256
from expunge.unlearn import MethodParams, param

__all__ = [
    "AdapterManifest",
    "TrainingRecipe",
    "adapter_sha256",
    "adapter_state",
    "attach_adapter",
    "load_adapter",
    "restore_adapter_state",
    "save_adapter",
]

MANIFEST = "manifest.json"
WEIGHTS = "adapter_model.safetensors"


@dataclass(frozen=True)
class TrainingRecipe(MethodParams):
    """How an adapter is trained: LoRA shape, optimiser schedule, precision and seed (validated).

    The defaults are the pilot's on SmolLM2-135M (r 16 on every projection, lr 2e-3 decaying linearly to 0, six
    epochs: about 60 % of training facts answered exactly).
    """

    rank: int = param(16, "LoRA rank r.", low=1, high=256)
    alpha: float = param(32.0, "LoRA scaling numerator: updates are scaled by alpha / rank.", low=0, low_open=True)
    dropout: float = param(0.0, "Dropout on the LoRA input during training.", low=0.0, high=1.0, high_open=True)
    target_modules: str = param("all-linear", "Modules that get LoRA: 'all-linear' or comma-separated names.")
    epochs: int = param(6, "Passes over the training samples.", low=1, high=1000)
    lr: float = param(2e-3, "AdamW peak learning rate, decayed linearly to 0.", low=0, low_open=True, high=1.0)
    batch_size: int = param(8, "Samples per optimiser step (fixed: results depend on it).", low=1, high=4096)
    weight_decay: float = param(0.0, "AdamW weight decay.", low=0.0, high=1.0)
    max_length: int = param(128, "Longest prompt + answer kept, in tokens.", low=8, high=8192)
    bf16: bool = param(True, "Train under bfloat16 autocast (2.3x faster on this CPU); evaluation stays fp32.")
    seed: int = param(0, "Seed of the LoRA initialisation and of the sample order.", low=0, high=2**32 - 1)

    def digest(self) -> str:
        """Return a sha256 of the recipe (cache keys and manifests)."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()


TrainingRecipe.owner = "TrainingRecipe"


@dataclass(frozen=True)
class AdapterManifest:
    """What an adapter is and what it learnt: the record a deletion and an audit start from.

    Attributes:
        adapter_id: Stable name, e.g. ``"people-ops-hr-2023q4"``.
        version: Increases by one each time the adapter is retrained (e.g. without a forgotten person).
        base_model_id: Readable name of the base model.
        base_sha256: sha256 of the base weights it was trained on (see :func:`~expunge.lm._load.base_sha256`).
        weights_sha256: sha256 of its LoRA tensors (see :func:`adapter_sha256`).
        recipe: The :class:`TrainingRecipe` as a dict.
        sample_ids: Every training sample it learnt, sorted: a forget set is checked against these.
        department: The department it serves, if any.
        tenant: The tenant it serves, if any.
        parent: ``"adapter_id@version"`` it was derived from (a retrain or a forgetting step), if any.
        seconds: Wall seconds its training took.
        created_at: ISO 8601 UTC time it was made.
        notes: Free-form lines (the forgetting method and parameters that made it, …).
    """

    adapter_id: str
    version: int
    base_model_id: str
    base_sha256: str
    weights_sha256: str
    recipe: dict[str, Any]
    sample_ids: tuple[str, ...]
    department: str | None = None
    tenant: str | None = None
    parent: str | None = None
    seconds: float = 0.0
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the manifest as a JSON-able dict."""
        doc = asdict(self)
        doc["sample_ids"], doc["notes"] = list(self.sample_ids), list(self.notes)
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> AdapterManifest:
        """Build a manifest from :meth:`to_json`'s dict."""
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        known["sample_ids"] = tuple(known.get("sample_ids", ()))
        known["notes"] = tuple(known.get("notes", ()))
        return cls(**known)


def _lora_config(recipe: TrainingRecipe) -> Any:
    from peft import LoraConfig

    modules: Any = recipe.target_modules
    if modules != "all-linear":
        modules = [m.strip() for m in modules.split(",") if m.strip()]
    return LoraConfig(
        r=recipe.rank,
        lora_alpha=recipe.alpha,
        lora_dropout=recipe.dropout,
        target_modules=modules,
        bias="none",
        task_type="CAUSAL_LM",
    )


def attach_adapter(model: nn.Module, recipe: TrainingRecipe, *, adapter_name: str = "default") -> Any:
    """Attach a fresh LoRA adapter to ``model`` (a base model or a ``PeftModel``), initialised from the recipe's seed.

    A base model is wrapped in place by peft (its modules get LoRA layers); a ``PeftModel`` gains one more named
    adapter. The new adapter is made active. Initialisation does not depend on the global RNG: ``lora_A`` is drawn
    uniformly in ±1/√fan_in (peft's Kaiming default) from a generator seeded with ``recipe.seed``, ``lora_B`` is
    zero, so the same recipe always starts from the same weights (retraining is exactly reproducible).

    Returns:
        The ``PeftModel``.
    """
    from peft import PeftModel, get_peft_model

    config = _lora_config(recipe)
    if isinstance(model, PeftModel):
        model.add_adapter(adapter_name, config)
    else:
        model = get_peft_model(model, config, adapter_name=adapter_name)
    model.set_adapter(adapter_name)
    init_lora_(model, adapter_name, recipe.seed)
    return model


def init_lora_(model: nn.Module, adapter_name: str, seed: int) -> None:
    """Re-initialise one adapter's LoRA weights in place from ``seed`` (A uniform ±1/√fan_in, B zero)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in sorted(_lora_tensors(model, adapter_name).items()):
            if ".lora_A." in name:
                bound = 1.0 / math.sqrt(tensor.shape[1])
                tensor.copy_(torch.rand(tensor.shape, generator=generator) * 2 * bound - bound)
            else:
                tensor.zero_()


def is_adapter_parameter(name: str, adapter_name: str) -> bool:
    """Whether a parameter name is one of ``adapter_name``'s LoRA tensors (``….lora_A.<adapter>.weight``).

    Matched right after the ``lora_*`` segment, so an adapter called ``model`` or ``layers`` never catches the base
    weights whose module path holds the same word.
    """
    return re.search(rf"\.lora_[A-Za-z_]+\.{re.escape(adapter_name)}(\.|$)", name) is not None


def _lora_tensors(model: nn.Module, adapter_name: str) -> dict[str, torch.Tensor]:
    return {n: p for n, p in model.named_parameters() if is_adapter_parameter(n, adapter_name)}


def trainable_only(model: nn.Module, adapter_name: str) -> list[torch.nn.Parameter]:
    """Make only ``adapter_name``'s LoRA weights trainable; return them."""
    params = []
    for name, p in model.named_parameters():
        p.requires_grad_(is_adapter_parameter(name, adapter_name))
        if p.requires_grad:
            params.append(p)
    return params


def adapter_state(model: nn.Module, adapter_name: str = "default") -> dict[str, torch.Tensor]:
    """Return a detached copy of one adapter's LoRA tensors, by parameter name."""
    return {n: p.detach().clone() for n, p in _lora_tensors(model, adapter_name).items()}


def restore_adapter_state(model: nn.Module, state: dict[str, torch.Tensor], adapter_name: str = "default") -> None:
    """Put back LoRA tensors saved by :func:`adapter_state` (e.g. before the next method or tuning trial).

    Raises:
        AdapterMismatchError: The saved tensors do not match the adapter's names or shapes.
    """
    current = _lora_tensors(model, adapter_name)
    if set(current) != set(state) or any(current[k].shape != state[k].shape for k in state):
        raise AdapterMismatchError(f"The saved state does not fit adapter {adapter_name!r}: its LoRA tensors differ.")
    with torch.no_grad():
        for name, tensor in current.items():
            tensor.copy_(state[name])


def adapter_sha256(model: nn.Module, adapter_name: str = "default") -> str:
    """Return the sha256 of one adapter's LoRA tensors (names without the adapter name, sorted, fp32 bytes)."""
    digest = hashlib.sha256()
    tensors = _lora_tensors(model, adapter_name)
    for name in sorted(tensors):
        digest.update(_portable_name(name, adapter_name).encode())
        digest.update(tensors[name].detach().to(torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def _portable_name(name: str, adapter_name: str) -> str:
    return re.sub(rf"(\.lora_[A-Za-z_]+)\.{re.escape(adapter_name)}(?=\.|$)", r"\1", name)


def save_adapter(
    model: nn.Module, manifest: AdapterManifest, directory: Path | str, *, adapter_name: str = "default"
) -> Path:
    """Write one adapter (peft files plus ``manifest.json``) into ``directory``, replacing it atomically.

    Raises:
        AdapterMismatchError: The manifest's ``weights_sha256`` is not the adapter's.
    """
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    if manifest.weights_sha256 != adapter_sha256(model, adapter_name):
        raise AdapterMismatchError(
            f"The manifest of {manifest.adapter_id!r} names weights {manifest.weights_sha256[:12]}…, which are not "
            f"adapter {adapter_name!r}'s; build the manifest from the weights being saved."
        )
    target = Path(directory)
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = get_peft_model_state_dict(model, adapter_name=adapter_name)
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(tmp / WEIGHTS))
    model.peft_config[adapter_name].save_pretrained(str(tmp))
    (tmp / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def read_manifest(directory: Path | str) -> AdapterManifest:
    """Read ``manifest.json`` of an adapter folder.

    Raises:
        ModelFilesMissingError: The folder or its manifest is missing or unreadable.
    """
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ModelFilesMissingError(f"{str(directory)!r} is not an expunge adapter folder: it has no {MANIFEST}.")
    try:
        return AdapterManifest.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError) as err:
        raise ModelFilesMissingError(f"{str(path)!r} is not a readable adapter manifest: {err}.") from err


def load_adapter(
    model: nn.Module, directory: Path | str, *, adapter_name: str = "default"
) -> tuple[Any, AdapterManifest]:
    """Load an adapter saved by :func:`save_adapter` onto ``model`` (a base model or a ``PeftModel``).

    Returns:
        ``(peft_model, manifest)`` with the adapter active.

    Raises:
        ModelFilesMissingError: The folder lacks its manifest, config or weights.
        AdapterMismatchError: ``model``'s base weights are not those the adapter was trained on, or the adapter's
            weights do not match the manifest's digest.
    """
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    folder = Path(directory)
    manifest = read_manifest(folder)
    if not (folder / WEIGHTS).is_file() or not (folder / "adapter_config.json").is_file():
        raise ModelFilesMissingError(f"{str(folder)!r} lacks {WEIGHTS} or adapter_config.json; save it again.")
    actual = base_sha256(model)
    if actual != manifest.base_sha256:
        raise AdapterMismatchError(
            f"Adapter {manifest.adapter_id!r} was trained on base weights {manifest.base_sha256[:12]}… "
            f"({manifest.base_model_id}), not on these ({actual[:12]}…); load it on its own base model."
        )
    recipe = TrainingRecipe.from_mapping(manifest.recipe)
    model = attach_adapter(model, recipe, adapter_name=adapter_name)
    set_peft_model_state_dict(model, load_file(str(folder / WEIGHTS)), adapter_name=adapter_name)
    if adapter_sha256(model, adapter_name) != manifest.weights_sha256:
        raise AdapterMismatchError(
            f"The weights in {str(folder)!r} do not match the sha256 its manifest records; the adapter was altered."
        )
    model.eval()
    return model, manifest
