"""Model passes the evaluation shares: teacher-forced answer scoring and a small greedy generator, both in fp32.

Teacher-forced scores are gathered from one ``log_softmax`` per batch, the same way
:func:`expunge.lm._tokens.answer_logprobs` computes them (a test checks they agree), because Min-K%++ needs the
whole next-token distribution at every answer position, not only the chosen token's log-probability.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from expunge.errors import UnsupportedPrecisionError
from expunge.lm._tokens import IGNORE_INDEX, encode_pairs

__all__ = ["TokenScores", "check_fp32", "greedy_generate", "teacher_forced"]


def check_fp32(model: torch.nn.Module) -> None:
    """Refuse a model whose floating-point weights are not all fp32.

    Raises:
        UnsupportedPrecisionError: A parameter is fp16, bf16 or fp64.
    """
    dtypes = sorted({str(p.dtype) for p in model.parameters() if p.is_floating_point()} - {"torch.float32"})
    if dtypes:
        raise UnsupportedPrecisionError(
            f"LM evaluation needs an fp32 model, got weights in {', '.join(dtypes)}: truth ratios and membership "
            f"scores are meaningless in half precision; load the model with dtype=torch.float32."
        )


@dataclass(frozen=True)
class TokenScores:
    """Teacher-forced scores of answers given prompts, padded ``[n, T]`` float64 with a 0/1 ``mask``.

    Attributes:
        logprobs: Log-probability of each answer token.
        hits: 1 where the arg-max next token is the answer's token.
        mu: Mean of ``log p`` under the model's next-token distribution at that position (Min-K%++).
        sigma: Its standard deviation.
        mask: 1 on answer tokens.
    """

    logprobs: np.ndarray
    hits: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    mask: np.ndarray

    def mean_logprob(self) -> np.ndarray:
        """Each answer's mean per-token log-probability, ``[n]``."""
        return (self.logprobs * self.mask).sum(1) / self.mask.sum(1)


def _pad(rows: list[np.ndarray], width: int) -> np.ndarray:
    out = np.zeros((len(rows), width))
    for i, row in enumerate(rows):
        out[i, : row.size] = row
    return out


@torch.no_grad()
def teacher_forced(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[str],
    answers: Sequence[str],
    *,
    batch_size: int,
    on_logprobs: Callable[[int, torch.Tensor], None] | None = None,
) -> TokenScores:
    """Score ``answers[i]`` given ``prompts[i]`` token by token (no end-of-sequence token), in fp32.

    Args:
        model: A causal LM; evaluated with autocast off.
        tokenizer: Its tokenizer.
        prompts: Formatted prompts.
        answers: One answer per prompt.
        batch_size: Pairs per forward pass.
        on_logprobs: Called with ``(offset, log_softmax [N, V])`` of each batch's ``N`` answer positions (in
            row order), for a caller that needs the whole distribution (anchor KL).
    """
    rows: dict[str, list[np.ndarray]] = {"logprobs": [], "hits": [], "mu": [], "sigma": []}
    with torch.autocast("cpu", enabled=False):
        for start in range(0, len(prompts), batch_size):
            batch = encode_pairs(
                tokenizer, prompts[start : start + batch_size], answers[start : start + batch_size], add_eos=False
            )
            logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1, :]
            targets = batch.labels[:, 1:]
            mask = targets != IGNORE_INDEX
            # only the answer positions: [N, V] instead of [b, T, V] (a chat prompt is most of the sequence)
            logp = torch.log_softmax(logits[mask].float(), dim=-1)
            wanted = targets[mask]
            chosen = logp.gather(-1, wanted.unsqueeze(-1)).squeeze(-1)
            probs = logp.exp()
            # a token masked to -inf has probability 0: it adds nothing (0 · -inf would be nan)
            plogp = torch.where(probs > 0, probs * logp, torch.zeros_like(logp))
            mu = plogp.sum(-1)
            sigma = (
                (torch.where(probs > 0, plogp * logp, torch.zeros_like(logp)).sum(-1) - mu.square()).clamp(min=0).sqrt()
            )
            hits = logp.argmax(-1) == wanted
            if on_logprobs is not None:
                on_logprobs(start, logp)
            counts = mask.sum(1).tolist()
            for name, values in (("logprobs", chosen), ("hits", hits), ("mu", mu), ("sigma", sigma)):
                rows[name].extend(part.double().numpy() for part in torch.split(values, counts))
    width = max(r.size for r in rows["logprobs"])
    mask_rows = [np.ones(r.size) for r in rows["logprobs"]]
    return TokenScores(**{k: _pad(v, width) for k, v in rows.items()}, mask=_pad(mask_rows, width))


@torch.no_grad()
def greedy_generate(
    model: torch.nn.Module, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int
) -> list[str]:
    """Return the greedy continuation of each prompt, cut at its first line break, without special tokens.

    Prompts are left-padded by hand (the tokenizer is not changed) and decoded with ``model.generate``
    (``do_sample=False``); a private helper the model side's generator can replace.
    """
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out: list[str] = []
    with torch.autocast("cpu", enabled=False):
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start : start + batch_size]
            ids = [list(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in chunk]
            width = max(len(x) for x in ids)
            input_ids = torch.tensor([[pad_id] * (width - len(x)) + x for x in ids], dtype=torch.long)
            mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids], dtype=torch.long)
            generated = model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=pad_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            for row in generated[:, width:]:
                text = tokenizer.decode(row.tolist(), skip_special_tokens=True).strip()
                out.append(text.split("\n", 1)[0].strip())
    return out
