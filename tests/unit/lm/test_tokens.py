"""The shared scoring primitive: answer masks, log-probabilities, prompt formats."""

from __future__ import annotations

import pytest
import torch

from expunge.lm._prompt import format_prompt, prompt_format
from expunge.lm._tokens import IGNORE_INDEX, answer_logprobs, encode_pairs, sequence_logprob


def test_labels_cover_exactly_the_answer_and_eos(tiny_tokenizer):
    prompt = format_prompt(tiny_tokenizer, "Where does Ada Brook live?")
    batch = encode_pairs(tiny_tokenizer, [prompt, prompt + " x"], ["Lisbon", "Paris"])
    assert batch.input_ids.shape == batch.labels.shape == batch.attention_mask.shape
    answer = [t for t in batch.labels[0].tolist() if t != IGNORE_INDEX]
    assert tiny_tokenizer.decode(answer[:-1]).strip() == "Lisbon"
    assert answer[-1] == tiny_tokenizer.eos_token_id
    # padding is masked out of both the attention and the labels
    short = int(batch.attention_mask[0].sum())
    assert (batch.labels[0, short:] == IGNORE_INDEX).all()


def test_sequence_logprob_matches_a_naive_loop(tiny_tokenizer, tiny_lm):
    prompts = [format_prompt(tiny_tokenizer, q) for q in ["Where does Ada Brook live?", "What is the capital?"]]
    batch = encode_pairs(tiny_tokenizer, prompts, ["Lisbon", "Paris"])
    with torch.no_grad():
        got = sequence_logprob(tiny_lm, batch)
        for i in range(2):
            n = int(batch.attention_mask[i].sum())
            ids = batch.input_ids[i : i + 1, :n]
            logp = torch.log_softmax(tiny_lm(input_ids=ids).logits[0].float(), dim=-1)
            want = sum(float(logp[t - 1, ids[0, t]]) for t in range(1, n) if batch.labels[i, t] != IGNORE_INDEX)
            assert float(got[i]) == pytest.approx(want, abs=1e-4)


def test_gradients_flow_through_answer_logprobs(tiny_tokenizer, tiny_lm):
    batch = encode_pairs(tiny_tokenizer, ["Question: a?\nAnswer:"], ["b"])
    logprobs, mask = answer_logprobs(tiny_lm, batch)
    (-(logprobs.sum() / mask.sum())).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in tiny_lm.parameters())


def test_prompt_format_follows_the_tokenizer(tiny_tokenizer, tiny_chat_tokenizer):
    assert prompt_format(tiny_tokenizer) == "plain"
    assert format_prompt(tiny_tokenizer, "Q?") == "Question: Q?\nAnswer:"
    assert prompt_format(tiny_chat_tokenizer) == "chat"
    assert format_prompt(tiny_chat_tokenizer, "Q?").endswith("<|user|>Q?\n<|assistant|>")


def test_mismatched_or_empty_pairs_are_refused(tiny_tokenizer):
    with pytest.raises(ValueError, match="equal length"):
        encode_pairs(tiny_tokenizer, ["a"], [])
    with pytest.raises(ValueError, match="non-empty"):
        encode_pairs(tiny_tokenizer, ["a"], ["  "])
