"""Tokenise (prompt, answer) pairs and score answers token by token: the one primitive every LM part builds on.

Training losses (fine-tuning, NPO, gradient ascent …) and every evaluation figure (truth ratio, membership
attacks, exposure) are functions of the per-token log-probabilities of an *answer* given its *prompt*, with the
prompt's tokens masked out. This module computes them one way, on log-probabilities (``log_softmax``), never on
raw logits — scoring logits is a known cause of irreproducible NPO results (open-unlearning issue reports).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["AnswerBatch", "IGNORE_INDEX", "answer_logprobs", "encode_pairs", "sequence_logprob"]

IGNORE_INDEX = -100


@dataclass(frozen=True)
class AnswerBatch:
    """Right-padded token IDs of prompt + answer, with labels set to :data:`IGNORE_INDEX` outside the answer.

    Attributes:
        input_ids: ``LongTensor[batch, seq]``.
        attention_mask: ``LongTensor[batch, seq]``, 1 on real tokens.
        labels: ``LongTensor[batch, seq]``, the answer's token IDs (and the end-of-sequence token) where they sit
            in ``input_ids``, :data:`IGNORE_INDEX` elsewhere.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor

    def to(self, device: torch.device | str) -> AnswerBatch:
        """Return the same batch on ``device``."""
        return AnswerBatch(self.input_ids.to(device), self.attention_mask.to(device), self.labels.to(device))


def encode_pairs(
    tokenizer: Any, prompts: Sequence[str], answers: Sequence[str], *, max_length: int = 256, add_eos: bool = True
) -> AnswerBatch:
    """Tokenise ``prompts[i] + answers[i]`` for every ``i`` into one right-padded batch.

    The prompt is tokenised alone and the answer appended token by token, so the boundary is exact whatever the
    tokenizer merges. A leading space is added to the answer when the prompt does not end in whitespace.

    Args:
        tokenizer: A Hugging Face tokenizer with ``pad_token_id`` or ``eos_token_id`` set.
        prompts: Formatted prompts (see :func:`expunge.lm._prompt.format_prompt`).
        answers: Answers, one per prompt.
        max_length: Longest sequence kept, in tokens; longer pairs lose the end of their answer.
        add_eos: Append the end-of-sequence token to the answer (training teaches the model to stop).

    Raises:
        ValueError: if the two sequences differ in length or are empty, or an answer is empty.
    """
    if len(prompts) != len(answers) or not prompts:
        raise ValueError(
            f"prompts and answers must be non-empty and of equal length; got {len(prompts)} and {len(answers)}."
        )
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    rows: list[tuple[list[int], list[int]]] = []
    for prompt, answer in zip(prompts, answers, strict=True):
        if not answer.strip():
            raise ValueError(f"Every answer must be non-empty text; got {answer!r} for prompt {prompt[-60:]!r}.")
        text = answer if prompt[-1:].isspace() else " " + answer
        p_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        a_ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
        if add_eos and tokenizer.eos_token_id is not None:
            a_ids.append(int(tokenizer.eos_token_id))
        ids = (p_ids + a_ids)[:max_length]
        labels = ([IGNORE_INDEX] * len(p_ids) + a_ids)[:max_length]
        rows.append((ids, labels))
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), int(pad_id), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (ids, lab) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(lab)] = torch.tensor(lab)
        mask[i, : len(ids)] = 1
    return AnswerBatch(input_ids, mask, labels)


def answer_logprobs(model: torch.nn.Module, batch: AnswerBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Return per-token log-probabilities of the answer tokens, and the mask saying which positions are answer.

    Gradients flow when the caller has them enabled (training losses use this too).

    Returns:
        ``(logprobs, mask)``, both ``[batch, seq - 1]``: ``logprobs[i, t]`` is ``log p(x_{t+1} | x_{≤t})`` for the
        token at position ``t + 1``, zero where ``mask`` (a float tensor of 0/1) is 0.
    """
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1, :]
    targets = batch.labels[:, 1:]
    mask = (targets != IGNORE_INDEX).to(logits.dtype)
    safe = targets.clamp(min=0)
    logprobs = torch.log_softmax(logits.float(), dim=-1).gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    return logprobs * mask, mask


def sequence_logprob(model: torch.nn.Module, batch: AnswerBatch, *, mean: bool = False) -> torch.Tensor:
    """Return each answer's total (or, with ``mean=True``, per-token mean) log-probability, ``[batch]``."""
    logprobs, mask = answer_logprobs(model, batch)
    total = logprobs.sum(dim=-1)
    return total / mask.sum(dim=-1).clamp(min=1.0) if mean else total
