"""Evaluate a language model on one forget split, every figure relative to an oracle never trained on the forgotten.

:func:`evaluate_split` runs the model once per question set (teacher-forced, fp32) and greedily decodes the direct
and paraphrased questions, then computes every figure of :mod:`expunge.lm._metrics` from those passes. It keeps
the per-question truth ratios and membership scores, so an :class:`LMEvaluation` of the oracle is all another
evaluation needs for forget quality and PrivLeak (:func:`compare`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from expunge.errors import LMEvaluationError
from expunge.lm import _metrics as M
from expunge.lm._data import QA, LMSplit, Person
from expunge.lm._prompt import format_prompt
from expunge.lm._scoring import TokenScores, check_fp32, greedy_generate, teacher_forced

__all__ = ["ATTACKS", "PROBES", "LMEvaluation", "OracleComparison", "bench_figures", "compare", "evaluate_split"]

ATTACKS = ("loss", "zlib", "min_k", "min_k_plus_plus")
PRIVLEAK_ATTACK = "min_k"  # MUSE §3 reports PrivLeak with Min-K% Prob
PROBES = ("prompt_format", "obfuscation", "quantised", "relearn")
CANARY_CANDIDATES = 100  # exposure tops out at log2(101) = 6.66 bits


@dataclass(frozen=True)
class OracleComparison:
    """The figures that only exist against an oracle (a model trained without the forgotten people).

    Attributes:
        forget_quality: TOFU's KS test of forget-set truth ratios, model vs oracle.
        privleak: MUSE's PrivLeak (percent) with the Min-K% attack; 0 ideal, both signs fail.
        privleak_by_attack: PrivLeak of every attack.
        model_utility: The model's harmonic-mean utility.
        oracle_model_utility: The oracle's.
        forget_accuracy_gap: Model minus oracle greedy accuracy on direct forget questions.
        exposure_gap: Model minus oracle mean canary exposure, bits (0 when the split has no canaries).
    """

    forget_quality: M.KSResult
    privleak: float
    privleak_by_attack: dict[str, float]
    model_utility: float
    oracle_model_utility: float
    forget_accuracy_gap: float
    exposure_gap: float


@dataclass(frozen=True)
class LMEvaluation:
    """Every figure of one model on one split (see ``docs/lm-evaluation.md`` for each figure's reading).

    Attributes:
        split: The split's name (``forget05`` …).
        seed: The split's seed.
        n_forget_questions: Forget-set questions (the KS test's ``n``).
        n_questions: Questions evaluated by set (``retain`` may be a seeded subset: ``max_retain``).
        accuracy: Greedy-generation accuracy by set: ``forget``, ``forget_paraphrased``, ``retain``,
            ``retain_paraphrased``, ``world``, ``world_paraphrased``.
        rouge_l: ROUGE-L recall of the greedy answers by set (direct questions).
        exact_memorisation: Mean teacher-forced exact memorisation by set (``forget``, ``retain``, ``holdout``).
        extraction_strength: Mean teacher-forced extraction strength by set.
        truth_ratios: Per-question truth ratios by set (``forget``, ``retain``, ``world``, ``holdout``).
        mia_scores: Per-question member scores by attack, then ``forget`` / ``holdout``.
        mia: Each attack's AUC forgotten vs holdout, with its bootstrap interval.
        canary_exposure: Exposure in bits of each planted canary, by sample ID (empty without canaries).
        utility: ``retain_accuracy``, ``retain_rouge_l``, ``retain_probability``, ``retain_truth``, the same four
            for ``world``, and ``anchor_kl`` (nats) when a reference model was given.
        model_utility: Harmonic mean of the eight retain/world figures (TOFU's model utility).
        probes: Robustness probe figures by name (only the probes that ran).
        oracle: The comparison with the oracle, or ``None`` when evaluated without one (the oracle itself).
    """

    split: str
    seed: int
    n_forget_questions: int
    n_questions: dict[str, int]
    accuracy: dict[str, float]
    rouge_l: dict[str, float]
    exact_memorisation: dict[str, float]
    extraction_strength: dict[str, float]
    truth_ratios: dict[str, tuple[float, ...]]
    mia_scores: dict[str, dict[str, tuple[float, ...]]]
    mia: dict[str, M.AUCFigure]
    canary_exposure: dict[str, float]
    utility: dict[str, float]
    model_utility: float
    probes: dict[str, float] = field(default_factory=dict)
    oracle: OracleComparison | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> LMEvaluation:
        """Rebuild an evaluation from :meth:`to_dict`'s output (a cached oracle's, for instance)."""
        d = dict(doc)
        d["truth_ratios"] = {k: tuple(v) for k, v in d["truth_ratios"].items()}
        d["mia_scores"] = {a: {s: tuple(v) for s, v in by.items()} for a, by in d["mia_scores"].items()}
        d["mia"] = {a: M.AUCFigure(**f) for a, f in d["mia"].items()}
        if d.get("oracle") is not None:
            o = dict(d["oracle"])
            o["forget_quality"] = M.KSResult(**o["forget_quality"])
            d["oracle"] = OracleComparison(**o)
        return cls(**d)

    @property
    def mean_exposure(self) -> float:
        """Mean canary exposure in bits; 0.0 when the split planted no canary (nothing to expose)."""
        return float(np.mean(list(self.canary_exposure.values()))) if self.canary_exposure else 0.0


def compare(evaluation: LMEvaluation, oracle: LMEvaluation) -> OracleComparison:
    """Return the figures of ``evaluation`` relative to ``oracle``, evaluated on the same split.

    Raises:
        LMEvaluationError: The two evaluations are of different splits or forget sets.
    """

    def key(e: LMEvaluation) -> tuple[str, int, int]:
        return (e.split, e.seed, e.n_forget_questions)

    if key(evaluation) != key(oracle):
        raise LMEvaluationError(
            f"The oracle was evaluated on split {oracle.split!r} (seed {oracle.seed}, {oracle.n_forget_questions} "
            f"forget questions); the model on {evaluation.split!r} (seed {evaluation.seed}, "
            f"{evaluation.n_forget_questions}): compare evaluations of the same split."
        )
    by_attack = {a: M.privleak(evaluation.mia[a].auc, oracle.mia[a].auc) for a in evaluation.mia}
    return OracleComparison(
        forget_quality=M.forget_quality(evaluation.truth_ratios["forget"], oracle.truth_ratios["forget"]),
        privleak=by_attack[PRIVLEAK_ATTACK],
        privleak_by_attack=by_attack,
        model_utility=evaluation.model_utility,
        oracle_model_utility=oracle.model_utility,
        forget_accuracy_gap=evaluation.accuracy["forget"] - oracle.accuracy["forget"],
        exposure_gap=evaluation.mean_exposure - oracle.mean_exposure,
    )


def bench_figures(evaluation: LMEvaluation, oracle: LMEvaluation) -> dict[str, float | int]:
    """Return the figures a benchmark row carries (issue 13's ``results.json`` keys), model against oracle.

    Keys: ``forget_quality``, ``ks_stat``, ``n_forget_questions``, ``model_utility``, ``oracle_model_utility``,
    ``privleak``, ``forget_accuracy``, ``oracle_forget_accuracy``, ``exposure``, ``oracle_exposure``, and
    ``relearn_facts`` / ``oracle_relearn_facts`` when the relearn probe ran on both.
    """
    cmp = compare(evaluation, oracle)
    row: dict[str, float | int] = {
        "forget_quality": cmp.forget_quality.p_value,
        "ks_stat": cmp.forget_quality.statistic,
        "n_forget_questions": evaluation.n_forget_questions,
        "model_utility": cmp.model_utility,
        "oracle_model_utility": cmp.oracle_model_utility,
        "privleak": cmp.privleak,
        "forget_accuracy": evaluation.accuracy["forget"],
        "oracle_forget_accuracy": oracle.accuracy["forget"],
        "exposure": evaluation.mean_exposure,
        "oracle_exposure": oracle.mean_exposure,
    }
    if "relearn.facts_after" in evaluation.probes and "relearn.facts_after" in oracle.probes:
        row["relearn_facts"] = int(evaluation.probes["relearn.facts_after"])
        row["oracle_relearn_facts"] = int(oracle.probes["relearn.facts_after"])
    return row


def _prompts(tokenizer: Any, qas: Sequence[QA], *, paraphrased: bool = False) -> list[str]:
    return [format_prompt(tokenizer, qa.paraphrased_question if paraphrased else qa.question) for qa in qas]


def accuracy(generated: Sequence[str], qas: Sequence[QA]) -> float:
    """Share of ``generated`` answers holding their question's answer (:func:`expunge.lm._metrics.answer_correct`)."""
    return float(np.mean([M.answer_correct(g, qa.answer) for g, qa in zip(generated, qas, strict=True)]))


def _truth_ratios(model: torch.nn.Module, tokenizer: Any, qas: Sequence[QA], *, batch_size: int) -> np.ndarray:
    prompts = _prompts(tokenizer, qas)
    para = teacher_forced(model, tokenizer, prompts, [qa.paraphrased_answer for qa in qas], batch_size=batch_size)
    k = min(len(qa.perturbed_answers) for qa in qas)
    if k == 0:
        raise LMEvaluationError("Every question needs at least one perturbed answer for its truth ratio; one has none.")
    flat_prompts = [p for p in prompts for _ in range(k)]
    flat_answers = [a for qa in qas for a in qa.perturbed_answers[:k]]
    pert = teacher_forced(model, tokenizer, flat_prompts, flat_answers, batch_size=batch_size)
    return M.truth_ratio(para.mean_logprob(), pert.mean_logprob().reshape(len(qas), k))


def _mia_scores(scores: TokenScores, texts: Sequence[str]) -> dict[str, np.ndarray]:
    return {
        "loss": M.loss_scores(scores.logprobs, scores.mask),
        "zlib": M.zlib_scores(scores.logprobs, scores.mask, texts),
        "min_k": M.min_k_scores(scores.logprobs, scores.mask, k=0.2),
        "min_k_plus_plus": M.min_k_plus_plus_scores(scores.logprobs, scores.mu, scores.sigma, scores.mask, k=0.2),
    }


def _canaries(model, tokenizer, split: LMSplit, *, batch_size: int) -> dict[str, float]:
    if not split.canaries:
        return {}
    by_id = {qa.sample_id: qa for qa in (*split.forget, *split.retain, *split.holdout)}
    missing = sorted(set(split.canaries) - set(by_id))
    if missing:
        raise LMEvaluationError(
            f"Canary sample IDs must name questions of the split; {len(missing)} do not, e.g. {missing[:3]}."
        )
    ids = sorted(split.canaries)
    prompts, texts = [], []
    for i, sid in enumerate(ids):
        prompt = format_prompt(tokenizer, by_id[sid].question)
        for text in [
            split.canaries[sid],
            *M.canary_candidates(split.canaries[sid], CANARY_CANDIDATES, seed=split.seed + i),
        ]:
            prompts.append(prompt)
            texts.append(text)
    total = teacher_forced(model, tokenizer, prompts, texts, batch_size=batch_size)
    logp = (total.logprobs * total.mask).sum(1).reshape(len(ids), CANARY_CANDIDATES + 1)
    bits = M.exposure(logp[:, 0], logp[:, 1:])
    return {sid: float(b) for sid, b in zip(ids, bits, strict=True)}


def _anchor_kl(model, reference, tokenizer, qas: Sequence[QA], *, batch_size: int) -> float:
    prompts = _prompts(tokenizer, qas)
    answers = [qa.answer for qa in qas]
    ref: dict[int, torch.Tensor] = {}
    teacher_forced(
        reference,
        tokenizer,
        prompts,
        answers,
        batch_size=batch_size,
        on_logprobs=lambda at, logp: ref.__setitem__(at, logp),
    )
    total, count = 0.0, 0

    def add(at: int, logp: torch.Tensor) -> None:
        nonlocal total, count
        n = logp.shape[0]
        total += M.anchor_kl(ref[at].numpy()[None], logp.numpy()[None], np.ones((1, n))) * n
        count += n

    teacher_forced(model, tokenizer, prompts, answers, batch_size=batch_size, on_logprobs=add)
    return total / count


def evaluate_split(
    model: torch.nn.Module,
    tokenizer: Any,
    split: LMSplit,
    *,
    oracle: LMEvaluation | None = None,
    reference: torch.nn.Module | None = None,
    people: Sequence[Person] = (),
    batch_size: int = 16,
    max_new_tokens: int = 16,
    probes: Sequence[str] = ("prompt_format", "quantised"),
    relearn_steps: int = 10,
    relearn_fraction: float = 0.5,
    relearn_lr: float = 1e-3,
    bootstrap: int = 200,
    max_retain: int | None = 200,
) -> LMEvaluation:
    """Evaluate ``model`` on ``split`` (fp32, fixed batch size), relative to ``oracle`` when given.

    Args:
        model: A causal LM (with or without a LoRA adapter) in fp32; not modified (probes work on copies).
        tokenizer: Its tokenizer; the prompt format follows :func:`expunge.lm._prompt.format_prompt`.
        split: The forget split; ``forget``, ``retain``, ``holdout`` and ``world`` must be non-empty.
        oracle: The evaluation of a model trained without the forget people on the same split; adds
            :class:`OracleComparison`.
        reference: The model before forgetting; adds ``utility["anchor_kl"]`` (world questions as anchors).
        people: The split's people, needed by the ``obfuscation`` probe (names are rewritten in questions).
        batch_size: Questions per forward pass (fixed: scores must not depend on padding).
        max_new_tokens: Greedy tokens per answer.
        probes: Robustness probes to run, from :data:`PROBES`.
        relearn_steps: Adam steps of the ``relearn`` probe.
        relearn_fraction: Share of each forgotten person's attributes the ``relearn`` probe trains on.
        relearn_lr: Adam learning rate of the ``relearn`` probe (use the same for the model and its oracle).
        bootstrap: Bootstrap replicates of each membership AUC.
        max_retain: Retain questions evaluated, at most: a subset drawn with the split's seed (the same for the
            model and its oracle), as TOFU evaluates a 400-question retain subset; ``None``: all of them.

    Raises:
        UnsupportedPrecisionError: The model (or reference) is not fp32.
        LMEvaluationError: An empty question set, an unknown probe, a canary naming no question, an oracle of
            another split, or the obfuscation probe without ``people``.
    """
    from expunge.lm import _probes

    check_fp32(model)
    if reference is not None:
        check_fp32(reference)
    unknown = sorted(set(probes) - set(PROBES))
    if unknown:
        raise LMEvaluationError(f"Unknown probe(s) {unknown}; known: {', '.join(PROBES)}.")
    if max_retain is not None and len(split.retain) > max_retain:
        keep = np.sort(np.random.default_rng(split.seed).choice(len(split.retain), size=max_retain, replace=False))
        split = dataclasses.replace(split, retain=tuple(split.retain[i] for i in keep))
    sets = {"forget": split.forget, "retain": split.retain, "holdout": split.holdout, "world": split.world}
    empty = [name for name, qas in sets.items() if not qas]
    if empty:
        raise LMEvaluationError(
            f"Evaluation needs non-empty forget, retain, holdout and world sets; {empty} are empty."
        )
    if "obfuscation" in probes and not people:
        raise LMEvaluationError("The obfuscation probe rewrites names: pass the split's people=.")
    was_training = model.training
    model.eval()
    try:
        acc, rouge, answers = {}, {}, {}
        # holdout people are scored teacher-forced only (membership non-members): generating their answers would
        # cost as much as the forget set's and inform no figure
        for name, qas in ((n, q) for n, q in sets.items() if n != "holdout"):
            answers[name] = greedy_generate(
                model, tokenizer, _prompts(tokenizer, qas), max_new_tokens=max_new_tokens, batch_size=batch_size
            )
            acc[name] = accuracy(answers[name], qas)
            rouge[name] = float(M.rouge_l_recall(answers[name], [qa.answer for qa in qas]).mean())
            para = greedy_generate(
                model,
                tokenizer,
                _prompts(tokenizer, qas, paraphrased=True),
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
            )
            acc[f"{name}_paraphrased"] = accuracy(para, qas)
        scores = {
            n: teacher_forced(
                model, tokenizer, _prompts(tokenizer, qas), [qa.answer for qa in qas], batch_size=batch_size
            )
            for n, qas in sets.items()
        }
        ratios = {n: _truth_ratios(model, tokenizer, qas, batch_size=batch_size) for n, qas in sets.items()}
        by_side = {side: _mia_scores(scores[side], [qa.answer for qa in sets[side]]) for side in ("forget", "holdout")}
        mia_scores = {a: {side: by_side[side][a] for side in by_side} for a in ATTACKS}
        mia = {
            a: M.mia_auc(mia_scores[a]["forget"], mia_scores[a]["holdout"], bootstrap=bootstrap, seed=split.seed)
            for a in ATTACKS
        }
        utility: dict[str, float] = {}
        for name in ("retain", "world"):
            utility[f"{name}_accuracy"] = acc[name]
            utility[f"{name}_rouge_l"] = rouge[name]
            utility[f"{name}_probability"] = float(
                M.per_token_probability(scores[name].logprobs, scores[name].mask).mean()
            )
            utility[f"{name}_truth"] = M.truth_score(ratios[name], kind="retain")
        model_utility = M.harmonic_mean(utility)
        if reference is not None:
            utility["anchor_kl"] = _anchor_kl(model, reference, tokenizer, split.world, batch_size=batch_size)
        figures: dict[str, float] = {}
        if "prompt_format" in probes:
            figures.update(
                _probes.prompt_format_probe(
                    model, tokenizer, split.forget, max_new_tokens=max_new_tokens, batch_size=batch_size
                )
            )
        if "obfuscation" in probes:
            figures.update(
                _probes.obfuscation_probe(
                    model,
                    tokenizer,
                    split.forget,
                    people,
                    max_new_tokens=max_new_tokens,
                    batch_size=batch_size,
                    seed=split.seed,
                )
            )
        if "quantised" in probes:
            figures.update(
                _probes.quantised_probe(model, tokenizer, split, max_new_tokens=max_new_tokens, batch_size=batch_size)
            )
        if "relearn" in probes:
            result = _probes.relearn_probe(
                model,
                tokenizer,
                split,
                steps=relearn_steps,
                fraction=relearn_fraction,
                lr=relearn_lr,
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
            )
            figures.update(result.figures())
        evaluation = LMEvaluation(
            split=split.name,
            seed=split.seed,
            n_forget_questions=len(split.forget),
            n_questions={n: len(qas) for n, qas in sets.items()},
            accuracy=acc,
            rouge_l=rouge,
            exact_memorisation={
                n: float(M.exact_memorisation(scores[n].hits, scores[n].mask).mean())
                for n in ("forget", "retain", "holdout")
            },
            extraction_strength={
                n: float(M.extraction_strength(scores[n].hits, scores[n].mask).mean())
                for n in ("forget", "retain", "holdout")
            },
            truth_ratios={n: tuple(float(x) for x in r) for n, r in ratios.items()},
            mia_scores={a: {s: tuple(float(x) for x in v) for s, v in by.items()} for a, by in mia_scores.items()},
            mia=mia,
            canary_exposure=_canaries(model, tokenizer, split, batch_size=batch_size),
            utility=utility,
            model_utility=model_utility,
            probes=figures,
        )
    finally:
        model.train(was_training)
    if oracle is not None:
        evaluation = dataclasses.replace(evaluation, oracle=compare(evaluation, oracle))
    return evaluation
