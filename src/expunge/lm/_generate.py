"""Greedy generation with a token budget, batched with left padding.

Greedy decoding is what the evaluation's accuracy and extraction probes use (TOFU §2.2 reports greedy ROUGE): it is
deterministic, so a probe answers the same way twice. Models that expose ``generate`` (transformers models, peft
models) use it with the KV cache; anything else that maps ``input_ids``/``attention_mask`` to ``logits`` — the SISA
ensemble — is decoded step by step without a cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from expunge.errors import InvalidParameterError
from expunge.lm._prompt import format_prompt

__all__ = ["generate_answers", "greedy_no_cache"]

MAX_NEW_TOKENS = 512


def _left_padded(tokenizer: Any, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    rows = [list(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        mask[i, width - len(row) :] = 1
    return ids, mask


@torch.no_grad()
def generate_answers(
    model: Any,
    tokenizer: Any,
    questions: Sequence[str],
    *,
    max_new_tokens: int = 32,
    batch_size: int = 16,
    formatted: bool = False,
) -> list[str]:
    """Answer each question greedily; return the decoded answers (special tokens dropped, whitespace stripped).

    Args:
        model: A causal LM (``generate`` is used when present) or any module returning ``.logits``.
        tokenizer: Its tokenizer.
        questions: Questions, formatted with :func:`~expunge.lm._prompt.format_prompt` unless ``formatted``.
        max_new_tokens: Token budget per answer (1–512); decoding also stops at the end-of-sequence token.
        batch_size: Prompts decoded together (1–1024).
        formatted: The questions are already full prompts.

    Raises:
        InvalidParameterError: A budget or batch size out of range.
    """
    if not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise InvalidParameterError(
            f"max_new_tokens must be an int in [1, {MAX_NEW_TOKENS}]. Got {max_new_tokens!r} instead."
        )
    if not isinstance(batch_size, int) or not 1 <= batch_size <= 1024:
        raise InvalidParameterError(f"batch_size must be an int in [1, 1024]. Got {batch_size!r} instead.")
    prompts = list(questions) if formatted else [format_prompt(tokenizer, q) for q in questions]
    eos = tokenizer.eos_token_id
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    was_training = getattr(model, "training", False)
    model.eval()
    out: list[str] = []
    try:
        for start in range(0, len(prompts), batch_size):
            ids, mask = _left_padded(tokenizer, prompts[start : start + batch_size])
            if hasattr(model, "generate"):
                full = model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=pad_id,
                    eos_token_id=eos,
                    num_beams=1,
                )
                new = full[:, ids.shape[1] :]
            else:
                new = greedy_no_cache(model, ids, mask, max_new_tokens=max_new_tokens, eos=eos, pad_id=pad_id)
            for row in new.tolist():
                if eos is not None and eos in row:
                    row = row[: row.index(eos)]
                out.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    finally:
        model.train(was_training)
    return out


def greedy_no_cache(
    model: Any, ids: torch.Tensor, mask: torch.Tensor, *, max_new_tokens: int, eos: int | None, pad_id: int
) -> torch.Tensor:
    """Decode greedily step by step, re-running the whole sequence each step; return ``[batch, new]`` tokens.

    For models without ``generate`` or a KV cache (the SISA ensemble). Position IDs follow the attention mask, so
    left padding does not shift positions; finished rows are padded with ``pad_id``.
    """
    done = torch.zeros(ids.shape[0], dtype=torch.bool)
    new = []
    for _ in range(max_new_tokens):
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = model(input_ids=ids, attention_mask=mask, position_ids=position_ids).logits[:, -1, :]
        token = logits.argmax(-1)
        token = torch.where(done, torch.full_like(token, pad_id), token)
        new.append(token)
        if eos is not None:
            done |= token == eos
        ids = torch.cat([ids, token[:, None]], dim=1)
        mask = torch.cat([mask, (~done | (token == eos)).long()[:, None]], dim=1)
        if bool(done.all()):
            break
    return torch.stack(new, dim=1)
