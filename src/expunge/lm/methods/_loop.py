"""The loop every approximate LM method shares: a forget term, a retain term, an anchor KL, and a stopping rule.

Each step adds three terms over the adapter's LoRA weights (the base never changes):

- the method's *forget term* on a batch of forget samples (gradient ascent, NPO, …), on log-probabilities;
- ``retain_weight`` × the retained samples' negative log-likelihood (gradient difference, Liu et al. 2022);
- ``anchor_weight`` × KL(original ‖ current) of the answer-token distributions on anchor prompts (world facts and
  retained questions): the "anchored regularisation" that keeps the model where it was outside the forget set.
  The original's distributions are computed once, in fp32, before the first step.

The **oracle-free stopping rule** ends the run once the forget people look like people the model never saw: every
``check_every`` steps it measures a knowledge level on the forget samples and on *reference* people (never trained
on, and never the evaluation's holdout people) and stops when the forget level falls to the reference level plus
``stop_margin``. The reference level is measured once before the first step (``stop_reference="before"``): the
reference people's level also falls as forgetting damages the model (on SmolLM2, −0.72 → −0.95 nats per token in
three NPO steps), and chasing it would reward collateral damage. The default level is the trained answers' mean
per-token log-probability: a model that never saw a person assigns their true answer what it assigns any never-seen
person's, so the reference people's level stands in for the oracle's level on the forget people without training
an oracle. (On SmolLM2 with 20 people the target scored its forget answers −0.17 nats per token, the oracle −0.50;
TOFU's truth ratio, the other choice, divides the one token that differs between a paraphrased and a perturbed
answer by the sentence's length and moved only 0.03.) The pilot on SmolLM2 found the window where NPO matches the
oracle only 1–2 epochs wide, which a fixed dose misses. Training runs under bf16 autocast; the
reference log-probabilities, the anchors and the stopping statistic are computed in fp32.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from expunge.errors import LMForgetError
from expunge.lm._adapters import adapter_sha256, adapter_state, restore_adapter_state, trainable_only
from expunge.lm._data import QA
from expunge.lm._forget import LMForgetData, LMForgetResult, LMMethod
from expunge.lm._prompt import format_prompt
from expunge.lm._tokens import AnswerBatch, answer_logprobs, encode_pairs
from expunge.unlearn import MethodParams, param

__all__ = ["ApproximateMethod", "ApproximateParams", "ForgetTerm", "knowledge_level", "run_approximate"]

EVAL_BATCH = 16
# Questions per side of the stopping statistic, spread over the set: a mean of 48 truth ratios moves by ~0.1 nats
# between checks, and 4 × 96 short sequences cost ~10 s on SmolLM2 at one thread, so checks stay a minor cost.
LEVEL_CAP = 48

# (model, forget batch, the original's sequence log-probs of those answers) -> loss to minimise
ForgetTerm = Callable[[Any, AnswerBatch, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ApproximateParams(MethodParams):
    """Parameters every approximate LM method shares: the dose, the regularisers and the stopping rule."""

    epochs: int = param(
        5, "Most passes over the forget set (the stopping rule usually ends sooner).", low=1, high=100, tune=(1, 8)
    )
    lr: float = param(
        1e-4,
        "AdamW learning rate on the LoRA weights, decayed linearly to 0.",
        low=0,
        low_open=True,
        high=1e-1,
        tune=(1e-5, 1e-3),
        tune_log=True,
    )
    batch_size: int = param(
        8, "Forget samples per step (retained and anchor batches have the same size).", low=1, high=1024
    )
    retain_weight: float = param(
        1.0, "Weight of the retained samples' negative log-likelihood.", low=0.0, high=100.0, tune=(0.0, 2.0)
    )
    anchor_weight: float = param(
        1.0, "Weight of the KL to the original on anchor prompts.", low=0.0, high=100.0, tune=(0.0, 4.0)
    )
    stop: bool = param(True, "Stop once the forget people look like never-seen reference people.")
    stop_statistic: str = param(
        "logprob",
        "Level compared by the stopping rule: logprob or truth_ratio.",
        choices=("logprob", "truth_ratio"),
    )
    stop_margin: float = param(
        0.0, "Stop when the forget level is at most the reference level plus this.", low=-10.0, high=10.0
    )
    stop_reference: str = param(
        "before",
        "Reference level the rule aims at: 'before' (measured once, before forgetting) or 'current' (re-measured).",
        choices=("before", "current"),
    )
    check_every: int = param(0, "Steps between checks of the stopping rule (0: twice per epoch).", low=0, high=100_000)
    bf16: bool = param(True, "Train under bfloat16 autocast (the statistics stay fp32).")


def _batch(
    tokenizer: Any, qas: Sequence[QA], *, answers: Sequence[str] | None = None, question: str = "question"
) -> AnswerBatch:
    prompts = [format_prompt(tokenizer, getattr(qa, question)) for qa in qas]
    return encode_pairs(tokenizer, prompts, list(answers) if answers is not None else [qa.answer for qa in qas])


@torch.no_grad()
def _sequence_logprobs(
    model: Any, tokenizer: Any, qas: Sequence[QA], answers: Sequence[str], *, question: str = "question"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the answers' summed log-probabilities and token counts, fp32, in batches."""
    totals, counts = [], []
    for i in range(0, len(qas), EVAL_BATCH):
        batch = _batch(tokenizer, qas[i : i + EVAL_BATCH], answers=answers[i : i + EVAL_BATCH], question=question)
        logprobs, mask = answer_logprobs(model, batch)
        totals.append(logprobs.sum(-1))
        counts.append(mask.sum(-1))
    return torch.cat(totals), torch.cat(counts)


def knowledge_level(model: Any, tokenizer: Any, qas: Sequence[QA], *, statistic: str = "logprob") -> float:
    """Return how much the model knows the answers of ``qas``, averaged (higher: knows more), in fp32.

    ``"logprob"``: the trained answers' mean per-token log-probability. ``"truth_ratio"``: minus TOFU's log truth
    ratio, ``log P(paraphrased)^(1/n) − log mean_j P(perturbed_j)^(1/n_j)`` given the question (TOFU §2.2.2).
    """
    qas = list(qas)
    qas = qas[:: max(1, len(qas) // LEVEL_CAP)][:LEVEL_CAP]
    if not qas:
        return float("nan")
    was_training = model.training
    model.eval()
    try:
        if statistic == "logprob":
            total, count = _sequence_logprobs(model, tokenizer, qas, [qa.answer for qa in qas])
            return float((total / count.clamp(min=1)).mean())
        para_t, para_n = _sequence_logprobs(model, tokenizer, qas, [qa.paraphrased_answer for qa in qas])
        k = min(len(qa.perturbed_answers) for qa in qas)
        pert = []
        for j in range(k):
            t, n = _sequence_logprobs(model, tokenizer, qas, [qa.perturbed_answers[j] for qa in qas])
            pert.append(t / n.clamp(min=1))
        wrong = torch.logsumexp(torch.stack(pert), dim=0) - math.log(k)
        return float((para_t / para_n.clamp(min=1) - wrong).mean())
    finally:
        model.train(was_training)


class _Anchors:
    """The original model's answer-token log-distributions on anchor prompts, and the KL of the current to them."""

    def __init__(self, model: Any, tokenizer: Any, anchor: Sequence[QA], batch_size: int) -> None:
        self.batches: list[tuple[AnswerBatch, torch.Tensor]] = []
        model.eval()
        with torch.no_grad():
            for i in range(0, len(anchor), batch_size):
                batch = _batch(tokenizer, anchor[i : i + batch_size])
                self.batches.append((batch, self._answer_logdist(model, batch)))
        self.next = 0

    @staticmethod
    def _answer_logdist(model: Any, batch: AnswerBatch) -> torch.Tensor:
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1, :]
        where = batch.labels[:, 1:] != -100
        return torch.log_softmax(logits.float()[where], dim=-1)

    def kl(self, model: Any) -> torch.Tensor:
        """KL(original ‖ current), mean over the answer tokens of the next anchor batch."""
        batch, original = self.batches[self.next % len(self.batches)]
        self.next += 1
        current = self._answer_logdist(model, batch)
        return (original.exp() * (original - current)).sum(-1).mean()


def run_approximate(
    model: Any,
    data: LMForgetData,
    params: ApproximateParams,
    forget_term: ForgetTerm,
    *,
    seed: int,
    method: str,
    needs_reference_logprobs: bool = False,
    forget_answers: Sequence[str] | None = None,
) -> LMForgetResult:
    """Run the shared loop (see the module docstring) and return the result with the adapter's next manifest.

    Args:
        model: A ``PeftModel`` holding ``data.adapter_name``.
        data: The checked forget data.
        params: The method's parameters.
        forget_term: The method's loss on a forget batch.
        seed: Seed of the batch order.
        method: The method's registry name (written into the manifest's notes).
        needs_reference_logprobs: Compute the original's summed answer log-probabilities first (NPO's reference).
        forget_answers: Answers trained on the forget prompts instead of the true ones (``idk``).
    """
    tokenizer = data.tokenizer
    forget = sorted(data.forget, key=lambda q: q.sample_id)
    answers = list(forget_answers) if forget_answers is not None else [qa.answer for qa in forget]
    retain = sorted(data.retain, key=lambda q: q.sample_id)
    model.set_adapter(data.adapter_name)
    model.eval()
    reference_lp = (
        _sequence_logprobs(model, tokenizer, forget, [qa.answer for qa in forget])[0]
        if needs_reference_logprobs
        else torch.zeros(len(forget))
    )
    anchors = _Anchors(model, tokenizer, data.anchor, params.batch_size) if params.anchor_weight > 0 else None
    trainable = trainable_only(model, data.adapter_name)
    optimizer = torch.optim.AdamW(trainable, lr=params.lr, weight_decay=0.0)
    steps_per_epoch = -(-len(forget) // params.batch_size)
    total = steps_per_epoch * params.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1.0 - s / total))
    check_every = params.check_every or max(1, steps_per_epoch // 2)
    generator = torch.Generator().manual_seed(seed)
    trace: list[dict[str, float]] = []

    def levels(step: int) -> bool:
        f = knowledge_level(model, tokenizer, forget, statistic=params.stop_statistic)
        r = knowledge_level(model, tokenizer, data.reference, statistic=params.stop_statistic)
        target = trace[0]["reference"] if trace and params.stop_reference == "before" else r
        trace.append({"step": float(step), "forget": f, "reference": r, "target": target})
        return f <= target + params.stop_margin

    step, stopped = 0, False
    if params.stop and levels(0):
        stopped = True
    last_checked = adapter_state(model, data.adapter_name) if params.stop else None
    retain_order = torch.randperm(len(retain), generator=generator) if retain else None
    retain_pos = 0
    model.train()
    for _ in range(params.epochs if not stopped else 0):
        order = torch.randperm(len(forget), generator=generator).tolist()
        for i in range(0, len(order), params.batch_size):
            idx = order[i : i + params.batch_size]
            batch = encode_pairs(
                tokenizer, [format_prompt(tokenizer, forget[j].question) for j in idx], [answers[j] for j in idx]
            )
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=params.bf16):
                loss = forget_term(model, batch, reference_lp[idx])
                if params.retain_weight > 0 and retain_order is not None:
                    take = [retain[int(retain_order[(retain_pos + k) % len(retain)])] for k in range(params.batch_size)]
                    retain_pos += params.batch_size
                    logprobs, mask = answer_logprobs(model, _batch(tokenizer, take))
                    loss = loss + params.retain_weight * (-logprobs.sum() / mask.sum().clamp(min=1.0))
                if anchors is not None:
                    loss = loss + params.anchor_weight * anchors.kl(model)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            if params.stop and step % check_every == 0:
                if levels(step):
                    stopped = True
                    _closest_check(model, data.adapter_name, trace, last_checked)
                    break
                last_checked = adapter_state(model, data.adapter_name)
        if stopped:
            break
    if stopped:
        step = int(trace[-1]["step"])  # the state kept: the crossing, or the check just before it
    elif not params.stop or not trace or trace[-1]["step"] != step:
        levels(step)
    model.eval()
    manifest = data.manifest
    if manifest is not None:
        forgotten = data.forget_ids
        manifest = replace(
            manifest,
            version=manifest.version + 1,
            parent=f"{manifest.adapter_id}@{manifest.version}",
            weights_sha256=adapter_sha256(model, data.adapter_name),
            sample_ids=tuple(s for s in manifest.sample_ids if s not in forgotten),
            notes=(
                *manifest.notes,
                f"{method}: forgot {len(forgotten)} sample(s) approximately in {step} step(s) with {params.to_json()}",
            ),
        )
    return LMForgetResult(model=model, manifest=manifest, steps=step, stopped_early=stopped, trace=trace)


def _closest_check(model: Any, adapter_name: str, trace: list[dict[str, float]], previous: Any) -> None:
    """At the crossing, keep whichever of the last two checked states lies closer to the target level.

    One step can jump past the target (on SmolLM2 an NPO step moved the forget level from −0.49 to −0.97 against a
    target of −0.67); going back to the previous check, when it was closer, lands in the narrow window instead.
    """
    if previous is None or len(trace) < 2:
        return
    last, before = trace[-1], trace[-2]
    if abs(before["forget"] - last["target"]) < abs(last["forget"] - last["target"]):
        restore_adapter_state(model, previous, adapter_name)
        trace.append({**before, "target": last["target"], "restored": 1.0})


def answer_mean_logprob(model: Any, batch: AnswerBatch) -> torch.Tensor:
    """Per-sample mean per-token log-probability of the answers, ``[batch]`` (gradients flow)."""
    logprobs, mask = answer_logprobs(model, batch)
    return logprobs.sum(-1) / mask.sum(-1).clamp(min=1.0)


def answer_sum_logprob(model: Any, batch: AnswerBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample summed log-probability of the answers and their token counts, ``[batch]`` each."""
    logprobs, mask = answer_logprobs(model, batch)
    return logprobs.sum(-1), mask.sum(-1)


class ApproximateMethod(LMMethod):
    """Base of the approximate methods: :meth:`term` is the forget loss; :func:`run_approximate` does the rest."""

    exact = False
    needs_reference_logprobs = False

    def check(self, model: Any, data: LMForgetData) -> None:
        """Refuse a request the regularisers or the stopping rule cannot serve, before any weight changes."""
        p = self.params
        if getattr(p, "stop", False) and not data.reference:
            raise LMForgetError(
                f"{self.name}'s stopping rule needs reference people the model never saw; give some, or set stop=false."
            )
        if getattr(p, "anchor_weight", 0) > 0 and not data.anchor:
            raise LMForgetError(
                f"{self.name}'s anchor regulariser needs anchor prompts; give some, or set anchor_weight=0."
            )
        if getattr(p, "retain_weight", 0) > 0 and not data.retain:
            raise LMForgetError(f"{self.name}'s retain loss needs retained samples; give some, or set retain_weight=0.")

    def term(self, model: Any, batch: AnswerBatch, reference: torch.Tensor) -> torch.Tensor:
        """The forget loss of one batch (``reference``: the original's summed answer log-probabilities)."""
        raise NotImplementedError

    def forget_answers(self, data: LMForgetData, seed: int) -> list[str] | None:
        """Answers to train on the forget prompts instead of the true ones (``None``: the true answers)."""
        return None

    def unlearn(self, model: Any, data: LMForgetData, *, seed: int = 0) -> LMForgetResult:
        """Run the shared loop with this method's forget term."""
        return run_approximate(
            model,
            data,
            self.params,
            self.term,
            seed=seed,
            method=self.name,
            needs_reference_logprobs=self.needs_reference_logprobs,
            forget_answers=self.forget_answers(data, seed),
        )
