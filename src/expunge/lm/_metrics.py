"""The language-model forgetting figures as pure functions of arrays: no model, no tokenizer, no state.

Every input is a NumPy array (or something :func:`numpy.asarray` takes) of per-token log-probabilities produced by
:func:`expunge.lm._tokens.answer_logprobs` in fp32, padded ``[n, T]`` with a 0/1 ``mask`` of the same shape. No
function returns ``None``: an empty or degenerate input raises :class:`~expunge.errors.InsufficientDataError` (or
another :class:`~expunge.errors.AuditError`) with one sentence, or returns the documented value.

Orientation: every membership score is *higher for a member* (a sample the model trained on), so an AUC above 0.5
means the forget set still looks like training data.
"""

from __future__ import annotations

import math
import re
import string
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from expunge.audit import roc_auc
from expunge.errors import AuditError, InsufficientDataError

__all__ = [
    "AUCFigure",
    "KSResult",
    "anchor_kl",
    "answer_correct",
    "canary_candidates",
    "exact_memorisation",
    "exposure",
    "extraction_strength",
    "forget_quality",
    "harmonic_mean",
    "loss_scores",
    "mia_auc",
    "min_k_plus_plus_scores",
    "min_k_scores",
    "per_token_probability",
    "privleak",
    "rouge_l_recall",
    "truth_ratio",
    "truth_score",
    "zlib_scores",
]

_SIGMA_FLOOR = 1e-6


def _rows(values: np.ndarray | Sequence, mask: np.ndarray | Sequence, *, what: str) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, dtype=np.float64)
    m = np.asarray(mask, dtype=np.float64)
    if v.ndim != 2 or v.shape != m.shape:
        raise AuditError(f"{what} needs [n, T] values and a mask of the same shape; got {v.shape} and {m.shape}.")
    if v.shape[0] == 0:
        raise InsufficientDataError(f"{what} needs at least one sequence; got none.")
    if (m.sum(axis=1) == 0).any():
        raise InsufficientDataError(
            f"{what} needs at least one answer token per sequence; row(s) "
            f"{np.flatnonzero(m.sum(axis=1) == 0)[:5].tolist()} have none."
        )
    return v, m


def _mean_per_row(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return (values * mask).sum(axis=1) / mask.sum(axis=1)


# --- TOFU: truth ratio and forget quality -----------------------------------------------------------------------


def truth_ratio(
    paraphrased_mean_logprob: np.ndarray | Sequence, perturbed_mean_logprob: np.ndarray | Sequence
) -> np.ndarray:
    """Return the truth ratio of each question (TOFU, Maini et al. 2024, §2.2.2).

    ``R = P̃(perturbed) / P̃(paraphrased)`` where ``P̃(a) = P(a | q)^(1/|a|)`` is the per-token-normalised
    probability of an answer, and ``P̃(perturbed)`` is averaged over the perturbed answers in log space (the
    geometric mean, as TOFU's released evaluation code does: ``exp(mean_j log P̃(a_j))``). A model that knows the
    fact gives the paraphrased true answer more weight than wrong ones: ``R`` well below 1; a model that never saw
    it sits near 1.

    Args:
        paraphrased_mean_logprob: ``[n]`` mean per-token log-probability (nats) of the paraphrased true answer.
        perturbed_mean_logprob: ``[n, k]`` the same for ``k`` perturbed (wrong) answers per question.

    Returns:
        ``[n]`` float64 ratios in ``(0, ∞)``.

    Raises:
        InsufficientDataError: No question, or no perturbed answer.
        AuditError: Shapes disagree or a value is not finite.
    """
    para = np.asarray(paraphrased_mean_logprob, dtype=np.float64)
    pert = np.asarray(perturbed_mean_logprob, dtype=np.float64)
    if para.ndim != 1 or pert.ndim != 2 or pert.shape[0] != para.shape[0]:
        raise AuditError(
            f"The truth ratio needs [n] paraphrased and [n, k] perturbed log-probabilities; got "
            f"{para.shape} and {pert.shape}."
        )
    if para.size == 0 or pert.shape[1] == 0:
        raise InsufficientDataError(
            f"The truth ratio needs at least one question and one perturbed answer; got "
            f"{para.size} questions and {pert.shape[1]} perturbed answers."
        )
    if not (np.isfinite(para).all() and np.isfinite(pert).all()):
        raise AuditError("The truth ratio needs finite log-probabilities; got inf or nan (was the model fp16?).")
    return np.exp(pert.mean(axis=1) - para)


def truth_score(ratios: np.ndarray | Sequence, *, kind: str) -> float:
    """Summarise truth ratios the way TOFU reports them, in ``[0, 1]``.

    ``kind="retain"`` (and world facts): ``mean(max(0, 1 − R))`` — higher when the model prefers the truth.
    ``kind="forget"``: ``mean(min(R, 1/R))`` — 1 when the model cannot tell true from wrong answers.

    Raises:
        InsufficientDataError: No ratio.
        AuditError: ``kind`` is neither ``"retain"`` nor ``"forget"``.
    """
    r = np.asarray(ratios, dtype=np.float64)
    if r.size == 0:
        raise InsufficientDataError("A truth score needs at least one truth ratio; got none.")
    if kind == "retain":
        return float(np.maximum(0.0, 1.0 - r).mean())
    if kind == "forget":
        return float(np.minimum(r, 1.0 / r).mean())
    raise AuditError(f"The truth score kind must be 'retain' or 'forget'; got {kind!r}.")


@dataclass(frozen=True)
class KSResult:
    """A two-sample Kolmogorov–Smirnov test of truth ratios: TOFU's *forget quality*.

    Attributes:
        statistic: The KS statistic ``D`` in ``[0, 1]`` (0: the two distributions agree).
        p_value: Its p-value: the forget quality. High (≥ 0.05, TOFU's usual reading) means the model's truth
            ratios on the forget set cannot be told from those of a model never trained on it.
        n: Truth ratios of the model under test.
        n_oracle: Truth ratios of the oracle.
    """

    statistic: float
    p_value: float
    n: int
    n_oracle: int


def forget_quality(model_ratios: np.ndarray | Sequence, oracle_ratios: np.ndarray | Sequence) -> KSResult:
    """Return TOFU's forget quality: a KS test of the model's vs the oracle's forget-set truth ratios.

    Maini et al. 2024 (TOFU), §2.2.3: the p-value of ``scipy.stats.ks_2samp`` (two-sided, exact for small
    samples) between the truth ratios of the unlearned model and of a model trained without the forget set, on
    the same forget questions. With fewer than ~100 questions the test has little power: report ``n``.

    Raises:
        InsufficientDataError: Either sample is empty.
        AuditError: A ratio is not finite and positive.
    """
    from scipy.stats import ks_2samp

    a = np.asarray(model_ratios, dtype=np.float64).ravel()
    b = np.asarray(oracle_ratios, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise InsufficientDataError(
            f"Forget quality needs truth ratios of the model and of the oracle; got {a.size} and {b.size}."
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all() and (a > 0).all() and (b > 0).all()):
        raise AuditError("Forget quality needs finite, positive truth ratios; got inf, nan or ≤ 0.")
    result = ks_2samp(a, b)
    return KSResult(
        statistic=float(result.statistic), p_value=float(result.pvalue), n=int(a.size), n_oracle=int(b.size)
    )


# --- teacher-forced memorisation ---------------------------------------------------------------------------------


def per_token_probability(logprobs: np.ndarray | Sequence, mask: np.ndarray | Sequence) -> np.ndarray:
    """Return ``P(a | q)^(1/|a|)`` of each answer, ``[n]``: the exponent of its mean per-token log-probability."""
    v, m = _rows(logprobs, mask, what="The per-token probability")
    return np.exp(_mean_per_row(v, m))


def exact_memorisation(hits: np.ndarray | Sequence, mask: np.ndarray | Sequence) -> np.ndarray:
    """Return each answer's exact memorisation, ``[n]`` in ``[0, 1]`` (Tirumala et al. 2022, §2).

    The share of answer tokens the model predicts exactly (arg-max) when fed the true prefix (teacher forcing).

    Args:
        hits: ``[n, T]`` 1 where the arg-max next token equals the answer's token.
        mask: ``[n, T]`` 1 on answer tokens.
    """
    v, m = _rows(hits, mask, what="Exact memorisation")
    return _mean_per_row(v, m)


def extraction_strength(hits: np.ndarray | Sequence, mask: np.ndarray | Sequence) -> np.ndarray:
    """Return each answer's extraction strength, ``[n]`` in ``[0, 1]`` (Carlini et al. 2021; as in open-unlearning).

    ``ES = 1 − k/|a|`` with ``k`` the shortest prefix of the answer after which the model predicts *every*
    remaining answer token (teacher-forced): 1 when the whole answer follows from the question alone, 0 when even
    the last token is wrong.
    """
    v, m = _rows(hits, mask, what="Extraction strength")
    out = np.empty(v.shape[0])
    for i in range(v.shape[0]):
        row = v[i][m[i] > 0] > 0.5
        wrong = np.flatnonzero(~row)
        k = 0 if wrong.size == 0 else int(wrong[-1]) + 1
        out[i] = 1.0 - k / row.size
    return out


# --- membership inference ---------------------------------------------------------------------------------------


def loss_scores(logprobs: np.ndarray | Sequence, mask: np.ndarray | Sequence) -> np.ndarray:
    """Return the loss attack's member scores, ``[n]``: minus the mean per-token NLL (Yeom et al. 2018)."""
    v, m = _rows(logprobs, mask, what="The loss attack")
    return _mean_per_row(v, m)


def zlib_scores(logprobs: np.ndarray | Sequence, mask: np.ndarray | Sequence, texts: Sequence[str]) -> np.ndarray:
    """Return the zlib attack's member scores, ``[n]`` (Carlini et al. 2021, §6.1; as in MUSE).

    ``−NLL / zlib(text)`` where ``NLL`` is the mean per-token negative log-likelihood and ``zlib(text)`` the length
    in bytes of the zlib-compressed UTF-8 answer: text that is easy to compress is easy to predict anyway.
    """
    v, m = _rows(logprobs, mask, what="The zlib attack")
    if len(texts) != v.shape[0]:
        raise AuditError(f"The zlib attack needs one text per sequence; got {len(texts)} for {v.shape[0]}.")
    sizes = np.array([len(zlib.compress(t.encode("utf-8"))) for t in texts], dtype=np.float64)
    return _mean_per_row(v, m) / sizes


def _check_k(k: float) -> None:
    if not (0.0 < k <= 1.0):
        raise AuditError(f"The Min-K% fraction k must be in (0, 1]; got {k!r}.")


def _lowest_k_mean(values: np.ndarray, mask: np.ndarray, k: float) -> np.ndarray:
    out = np.empty(values.shape[0])
    for i in range(values.shape[0]):
        row = np.sort(values[i][mask[i] > 0])
        out[i] = row[: max(1, math.ceil(k * row.size))].mean()
    return out


def min_k_scores(logprobs: np.ndarray | Sequence, mask: np.ndarray | Sequence, *, k: float = 0.2) -> np.ndarray:
    """Return Min-K% Prob member scores, ``[n]`` (Shi et al. 2024, "Detecting Pretraining Data", §3).

    The mean log-probability of the ``ceil(k·|a|)`` least likely answer tokens (at least one): unseen text has a
    few very unlikely tokens, memorised text does not.

    Raises:
        AuditError: ``k`` outside ``(0, 1]``.
    """
    _check_k(k)
    v, m = _rows(logprobs, mask, what="Min-K%")
    return _lowest_k_mean(v, m, k)


def min_k_plus_plus_scores(
    logprobs: np.ndarray | Sequence,
    mu: np.ndarray | Sequence,
    sigma: np.ndarray | Sequence,
    mask: np.ndarray | Sequence,
    *,
    k: float = 0.2,
) -> np.ndarray:
    """Return Min-K%++ member scores, ``[n]`` (Zhang et al. 2024, "Min-K%++", §3, Eq. 3).

    Each token's log-probability is standardised against the model's own next-token distribution at that
    position, ``(log p(x_t) − μ_t) / σ_t`` with ``μ_t = E_{z∼p}[log p(z)]`` and ``σ_t² = E_{z∼p}[(log p(z) − μ_t)²]``
    (training pulls a token towards a local maximum of the distribution), then Min-K% is applied to the scores.
    A position whose distribution is a point mass (``σ_t < 1e-6``) uses ``σ_t = 1e-6``.

    Args:
        logprobs: ``[n, T]`` log-probability of each answer token.
        mu: ``[n, T]`` mean of ``log p`` under ``p`` at that position.
        sigma: ``[n, T]`` its standard deviation.
        mask: ``[n, T]`` 1 on answer tokens.
        k: Fraction of the lowest standardised tokens averaged.
    """
    _check_k(k)
    v, m = _rows(logprobs, mask, what="Min-K%++")
    mu_a, sigma_a = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    if mu_a.shape != v.shape or sigma_a.shape != v.shape:
        raise AuditError(f"Min-K%++ needs mu and sigma of shape {v.shape}; got {mu_a.shape} and {sigma_a.shape}.")
    z = (v - mu_a) / np.maximum(sigma_a, _SIGMA_FLOOR)
    return _lowest_k_mean(z, m, k)


@dataclass(frozen=True)
class AUCFigure:
    """A membership attack's AUC, forgotten (members) vs holdout (non-members), with a bootstrap interval.

    Attributes:
        auc: Area under the ROC curve; 0.5: the attacker cannot tell the forget set from unseen people.
        ci_low: 2.5th percentile of the bootstrap AUCs.
        ci_high: 97.5th percentile.
        n_members: Forget-set scores.
        n_nonmembers: Holdout scores.
    """

    auc: float
    ci_low: float
    ci_high: float
    n_members: int
    n_nonmembers: int


def mia_auc(
    member_scores: np.ndarray | Sequence,
    nonmember_scores: np.ndarray | Sequence,
    *,
    bootstrap: int = 200,
    seed: int = 0,
) -> AUCFigure:
    """Return the AUC of member vs non-member scores with a 95 % percentile bootstrap interval.

    The AUC is the Mann–Whitney statistic (:func:`expunge.audit.roc_auc`, ties counted half); each bootstrap
    replicate resamples both groups with replacement from ``numpy.random.default_rng(seed)``.

    Raises:
        InsufficientDataError: Either group is empty.
        AuditError: ``bootstrap`` is below 1.
    """
    pos = np.asarray(member_scores, dtype=np.float64).ravel()
    neg = np.asarray(nonmember_scores, dtype=np.float64).ravel()
    if pos.size == 0 or neg.size == 0:
        raise InsufficientDataError(
            f"A membership AUC needs forgotten and holdout scores; got {pos.size} and {neg.size}."
        )
    if bootstrap < 1:
        raise AuditError(f"The bootstrap needs at least 1 replicate; got {bootstrap}.")
    rng = np.random.default_rng(seed)
    aucs = [
        roc_auc(pos[rng.integers(0, pos.size, pos.size)], neg[rng.integers(0, neg.size, neg.size)])
        for _ in range(bootstrap)
    ]
    return AUCFigure(
        auc=roc_auc(pos, neg),
        ci_low=float(np.percentile(aucs, 2.5)),
        ci_high=float(np.percentile(aucs, 97.5)),
        n_members=int(pos.size),
        n_nonmembers=int(neg.size),
    )


def privleak(auc_model: float, auc_oracle: float) -> float:
    """Return MUSE's PrivLeak in percent (Shi et al. 2024, MUSE, §3): ``(AUC_model − AUC_oracle) / AUC_oracle × 100``.

    0 is ideal. Positive: the forget set still looks more like training data than it does to the oracle
    (under-forgetting); negative: it looks *less* like it (over-forgetting, which an attacker also detects).
    Both signs are failures; a gate bounds ``|PrivLeak|``.

    Raises:
        AuditError: An AUC outside ``[0, 1]``, or an oracle AUC of 0 (the ratio is undefined).
    """
    for name, value in (("model", auc_model), ("oracle", auc_oracle)):
        if not (0.0 <= value <= 1.0):
            raise AuditError(f"PrivLeak needs AUCs in [0, 1]; the {name}'s is {value!r}.")
    if auc_oracle == 0.0:
        raise AuditError("PrivLeak is undefined when the oracle's AUC is 0 (it divides by it).")
    return (auc_model - auc_oracle) / auc_oracle * 100.0


# --- canaries -----------------------------------------------------------------------------------------------------


def exposure(canary_scores: np.ndarray | Sequence, candidate_scores: np.ndarray | Sequence) -> np.ndarray:
    """Return each canary's exposure in bits (Carlini et al. 2019, "The Secret Sharer", §4.1).

    ``exposure = log2 |R| − log2 rank`` where ``R`` is the canary plus its never-planted candidates and ``rank``
    its position when all are sorted by the model's score (log-probability), best first; ties rank the canary
    first. A memorised canary ranks first: ``log2 |R|`` bits (6.66 for 100 candidates); a model that never saw it
    averages about ``1/ln 2 ≈ 1.44`` bits.

    Args:
        canary_scores: ``[m]`` the model's log-probability of each planted canary.
        candidate_scores: ``[m, c]`` the same for ``c`` never-planted candidates of each canary.

    Raises:
        InsufficientDataError: No canary or no candidate.
        AuditError: Shapes disagree.
    """
    s = np.asarray(canary_scores, dtype=np.float64)
    c = np.asarray(candidate_scores, dtype=np.float64)
    if s.ndim != 1 or c.ndim != 2 or c.shape[0] != s.shape[0]:
        raise AuditError(f"Exposure needs [m] canary scores and [m, c] candidate scores; got {s.shape} and {c.shape}.")
    if s.size == 0 or c.shape[1] == 0:
        raise InsufficientDataError(
            f"Exposure needs at least one canary and one candidate; got {s.size} and {c.shape[1]}."
        )
    rank = 1 + (c > s[:, None]).sum(axis=1)
    return np.log2(c.shape[1] + 1) - np.log2(rank)


_CLASSES = (string.digits, string.ascii_lowercase, string.ascii_uppercase)


def canary_candidates(canary: str, n: int, *, seed: int) -> list[str]:
    """Return ``n`` distinct never-planted strings of the canary's shape, seeded.

    Each digit is replaced by a random digit, each ASCII letter by a random letter of the same case; every other
    character is kept (``"+44 7911 123456"`` → ``"+44 3820 907112"``), so the candidates and the canary are
    equally likely to a model that never saw the canary.

    Raises:
        InsufficientDataError: The canary has too few random characters to give ``n`` distinct candidates.
    """
    slots = [next((cls for cls in _CLASSES if ch in cls), None) for ch in canary]
    space = math.prod(len(cls) for cls in slots if cls is not None)
    if n < 1 or space - 1 < n:
        raise InsufficientDataError(
            f"A canary of {sum(s is not None for s in slots)} random characters gives "
            f"{space - 1} candidates; asked for {n}."
        )
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        text = "".join(
            ch if cls is None else cls[rng.integers(len(cls))] for ch, cls in zip(canary, slots, strict=True)
        )
        if text != canary:
            out.setdefault(text)
    return list(out)


# --- generation and utility -------------------------------------------------------------------------------------

_WORDS = re.compile(r"[^\W_]+")


def _words(text: str) -> list[str]:
    return _WORDS.findall(text.casefold())


def answer_correct(generated: str, answer: str) -> bool:
    """Return True when ``generated`` contains every word of ``answer``, in order and adjacent (case and
    punctuation ignored): ``"She lives in Lisbon."`` answers ``"Lisbon"``; ``"Lisbonne"`` does not.

    Raises:
        AuditError: ``answer`` holds no word.
    """
    want = _words(answer)
    if not want:
        raise AuditError(f"An answer must hold at least one word to be checked; got {answer!r}.")
    got = _words(generated)
    return any(got[i : i + len(want)] == want for i in range(len(got) - len(want) + 1))


def rouge_l_recall(generated: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Return ROUGE-L recall of each generation against its reference, ``[n]`` (Lin 2004; as TOFU reports it).

    Computed with Google's ``rouge-score`` (Porter stemming on, as in TOFU): the longest common subsequence of
    words divided by the reference's length.

    Raises:
        AuditError: The two sequences differ in length or are empty.
    """
    if len(generated) != len(references) or not references:
        raise AuditError(f"ROUGE-L needs one generation per reference; got {len(generated)} and {len(references)}.")
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return np.array([scorer.score(ref, gen)["rougeL"].recall for gen, ref in zip(generated, references, strict=True)])


def harmonic_mean(values: Mapping[str, float]) -> float:
    """Return the harmonic mean of named figures in ``[0, 1]``: TOFU's *model utility* (Maini et al. 2024, §2.2.3).

    A figure of 0 makes the mean 0 (the documented limit), so one destroyed ability cannot hide behind others.

    Raises:
        InsufficientDataError: No figure.
        AuditError: A figure outside ``[0, 1]`` or not finite; the message names it.
    """
    if not values:
        raise InsufficientDataError("Model utility needs at least one figure; got none.")
    for name, value in values.items():
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise AuditError(f"Model utility figures must be in [0, 1]; {name!r} is {value!r}.")
    if any(v == 0.0 for v in values.values()):
        return 0.0
    return len(values) / sum(1.0 / v for v in values.values())


def anchor_kl(
    reference_logprobs: np.ndarray | Sequence, model_logprobs: np.ndarray | Sequence, mask: np.ndarray | Sequence
) -> float:
    """Return the mean ``KL(reference ‖ model)`` of next-token distributions over anchor positions, in nats.

    The anchored regulariser's drift figure: how far the model's predictions moved from the reference's on
    prompts it should still answer as before. Log-probabilities are clamped at −100 so a probability that
    underflows gives a large finite divergence, not inf.

    Args:
        reference_logprobs: ``[n, T, V]`` log-softmax of the reference model.
        model_logprobs: ``[n, T, V]`` the same for the model under test.
        mask: ``[n, T]`` 1 at the positions averaged.

    Raises:
        AuditError: Shapes disagree.
        InsufficientDataError: No position is masked in.
    """
    p = np.maximum(np.asarray(reference_logprobs, dtype=np.float64), -100.0)
    q = np.maximum(np.asarray(model_logprobs, dtype=np.float64), -100.0)
    m = np.asarray(mask, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 3 or m.shape != p.shape[:2]:
        raise AuditError(
            f"Anchor KL needs two [n, T, V] arrays and an [n, T] mask; got {p.shape}, {q.shape}, {m.shape}."
        )
    if m.sum() == 0:
        raise InsufficientDataError("Anchor KL needs at least one anchor position; got none.")
    kl = (np.exp(p) * (p - q)).sum(axis=-1)
    return float((kl * m).sum() / m.sum())
