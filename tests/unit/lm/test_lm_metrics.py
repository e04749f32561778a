"""The LM forgetting figures, each against a naive reference or a known value."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from scipy import stats

from expunge.errors import AuditError, InsufficientDataError
from expunge.lm._metrics import (
    anchor_kl,
    answer_correct,
    canary_candidates,
    exact_memorisation,
    exposure,
    extraction_strength,
    forget_quality,
    harmonic_mean,
    loss_scores,
    mia_auc,
    min_k_plus_plus_scores,
    min_k_scores,
    per_token_probability,
    privleak,
    rouge_l_recall,
    truth_ratio,
    truth_score,
    zlib_scores,
)

RNG = np.random.default_rng(7)


def _padded(rows: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(r) for r in rows)
    values = np.zeros((len(rows), width))
    mask = np.zeros((len(rows), width))
    for i, r in enumerate(rows):
        values[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return values, mask


def test_truth_ratio_matches_the_tofu_formula():
    para = RNG.uniform(-3, 0, size=6)
    pert = RNG.uniform(-4, 0, size=(6, 3))
    got = truth_ratio(para, pert)
    for i in range(6):
        geo = math.exp(sum(pert[i]) / 3)  # geometric mean of the per-token-normalised probabilities
        assert got[i] == pytest.approx(geo / math.exp(para[i]), rel=1e-12)
    # a model that prefers the truth has ratios below 1; an indifferent one sits at 1
    assert (truth_ratio([-0.1], [[-2.0, -3.0]]) < 1).all()
    assert truth_ratio([-1.0], [[-1.0, -1.0]])[0] == pytest.approx(1.0)


def test_truth_scores_follow_tofu_readings():
    assert truth_score([0.25, 1.0, 4.0], kind="forget") == pytest.approx((0.25 + 1 + 0.25) / 3)
    assert truth_score([0.25, 1.0, 4.0], kind="retain") == pytest.approx((0.75 + 0 + 0) / 3)
    with pytest.raises(AuditError, match="'retain' or 'forget'"):
        truth_score([1.0], kind="world")
    with pytest.raises(InsufficientDataError):
        truth_score([], kind="forget")


def test_truth_ratio_refuses_bad_input():
    with pytest.raises(InsufficientDataError, match="perturbed"):
        truth_ratio([-1.0], np.zeros((1, 0)))
    with pytest.raises(AuditError, match=r"\[n, k\]"):
        truth_ratio([-1.0, -2.0], [[-1.0]])
    with pytest.raises(AuditError, match="fp16"):
        truth_ratio([-np.inf], [[-1.0]])


def _naive_ks(a: np.ndarray, b: np.ndarray) -> float:
    grid = np.concatenate([a, b])
    return max(abs((a <= x).mean() - (b <= x).mean()) for x in grid)


def test_forget_quality_is_the_ks_test_of_truth_ratios():
    oracle = RNG.lognormal(0, 0.3, size=120)
    same = forget_quality(oracle.copy(), oracle)
    assert same.statistic == 0.0 and same.p_value == pytest.approx(1.0) and same.n == same.n_oracle == 120
    remembered = oracle * 0.2  # knows the truth: ratios far below the oracle's
    far = forget_quality(remembered, oracle)
    assert far.statistic == pytest.approx(1.0) and far.p_value < 1e-10
    shifted = RNG.lognormal(0.1, 0.3, size=100)
    got = forget_quality(shifted, oracle)
    assert got.statistic == pytest.approx(_naive_ks(shifted, oracle))
    assert got.p_value == pytest.approx(stats.ks_2samp(shifted, oracle).pvalue)
    with pytest.raises(InsufficientDataError):
        forget_quality([], oracle)
    with pytest.raises(AuditError, match="positive"):
        forget_quality([0.0, 1.0], oracle)


def test_exact_memorisation_and_extraction_strength_known_values():
    hits, mask = _padded([[1, 1, 1, 1], [0, 1, 1, 1], [1, 1, 0, 1], [1, 1, 1, 0], [0, 0]])
    assert exact_memorisation(hits, mask).tolist() == pytest.approx([1.0, 0.75, 0.75, 0.75, 0.0])
    # ES = 1 − k/|a|, k = shortest prefix after which every token is predicted
    assert extraction_strength(hits, mask).tolist() == pytest.approx([1.0, 0.75, 0.25, 0.0, 0.0])
    with pytest.raises(InsufficientDataError, match="answer token"):
        exact_memorisation(np.zeros((1, 2)), np.zeros((1, 2)))


def test_loss_zlib_and_min_k_against_naive_loops():
    rows = [list(RNG.uniform(-5, 0, size=n)) for n in (3, 7, 10)]
    values, mask = _padded(rows)
    texts = ["Lisbon", "a baker in Porto", "the Finance department"]
    loss = loss_scores(values, mask)
    assert loss.tolist() == pytest.approx([sum(r) / len(r) for r in rows])
    assert per_token_probability(values, mask).tolist() == pytest.approx([math.exp(x) for x in loss])
    z = zlib_scores(values, mask, texts)
    assert z.tolist() == pytest.approx([loss[i] / len(zlib.compress(t.encode())) for i, t in enumerate(texts)])
    for k in (0.1, 0.2, 0.5, 1.0):
        want = [sum(sorted(r)[: max(1, math.ceil(k * len(r)))]) / max(1, math.ceil(k * len(r))) for r in rows]
        assert min_k_scores(values, mask, k=k).tolist() == pytest.approx(want)
    with pytest.raises(AuditError, match=r"\(0, 1\]"):
        min_k_scores(values, mask, k=0.0)


def test_min_k_plus_plus_standardises_each_token_against_the_distribution():
    vocab_logits = RNG.normal(size=(2, 5, 11))
    logp = vocab_logits - np.log(np.exp(vocab_logits).sum(-1, keepdims=True))
    tokens = RNG.integers(0, 11, size=(2, 5))
    chosen = np.take_along_axis(logp, tokens[..., None], -1)[..., 0]
    probs = np.exp(logp)
    mu = (probs * logp).sum(-1)
    sigma = np.sqrt((probs * logp**2).sum(-1) - mu**2)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=float)
    got = min_k_plus_plus_scores(chosen, mu, sigma, mask, k=0.4)
    for i, n in enumerate((5, 3)):
        z = sorted((chosen[i, t] - mu[i, t]) / sigma[i, t] for t in range(n))
        take = math.ceil(0.4 * n)
        assert got[i] == pytest.approx(sum(z[:take]) / take)
    with pytest.raises(AuditError, match="mu and sigma"):
        min_k_plus_plus_scores(chosen, mu[:1], sigma, mask)


def test_mia_auc_is_the_pairwise_win_rate_with_a_bootstrap_interval():
    members = RNG.normal(0.5, 1, size=40)
    nonmembers = RNG.normal(0, 1, size=50)
    wins = sum((m > n) + 0.5 * (m == n) for m in members for n in nonmembers) / (40 * 50)
    fig = mia_auc(members, nonmembers, bootstrap=100, seed=3)
    assert fig.auc == pytest.approx(wins)
    assert fig.ci_low <= fig.auc <= fig.ci_high and fig.ci_high - fig.ci_low > 0.01
    assert (fig.n_members, fig.n_nonmembers) == (40, 50)
    assert mia_auc(members, nonmembers, bootstrap=100, seed=3) == fig  # seeded
    with pytest.raises(InsufficientDataError):
        mia_auc([], nonmembers)


def test_privleak_signs_and_known_values():
    assert privleak(0.5, 0.5) == 0.0
    assert privleak(0.88, 0.5) == pytest.approx(76.0)  # under-forgetting
    assert privleak(0.25, 0.5) == pytest.approx(-50.0)  # over-forgetting is just as visible
    with pytest.raises(AuditError, match="undefined"):
        privleak(0.5, 0.0)
    with pytest.raises(AuditError, match=r"\[0, 1\]"):
        privleak(1.2, 0.5)


def test_exposure_in_bits_from_the_rank_among_candidates():
    candidates = np.tile(np.linspace(-10, -1, 100), (3, 1))
    got = exposure([0.0, -1.0, -100.0], candidates)
    # first of 101 (ties rank the canary first), first again, last
    assert got.tolist() == pytest.approx([math.log2(101), math.log2(101), math.log2(101) - math.log2(101)])
    middle = exposure([-5.5], candidates[:1])[0]
    rank = 1 + int((candidates[0] > -5.5).sum())
    assert middle == pytest.approx(math.log2(101) - math.log2(rank))
    # a model that never saw the canary: mean exposure ≈ 1/ln 2 bits
    random_scores = RNG.normal(size=(4000, 101))
    assert exposure(random_scores[:, 0], random_scores[:, 1:]).mean() == pytest.approx(1 / math.log(2), abs=0.1)


def test_canary_candidates_keep_the_shape_and_never_repeat_the_canary():
    canary = "+44 7911-12ab"
    got = canary_candidates(canary, 100, seed=1)
    assert len(got) == len(set(got)) == 100 and canary not in got
    for text in got:
        assert len(text) == len(canary)
        for a, b in zip(text, canary, strict=True):
            assert (a.isdigit() and b.isdigit()) or (a.islower() and b.islower()) or a == b
    assert canary_candidates(canary, 100, seed=1) == got
    with pytest.raises(InsufficientDataError, match="candidates"):
        canary_candidates("A-7", 500, seed=0)


def test_answer_correct_matches_whole_words_in_order():
    assert answer_correct("She lives in Lisbon.", "Lisbon")
    assert answer_correct("the FINANCE department", "Finance department")
    assert not answer_correct("Lisbonne", "Lisbon")
    assert not answer_correct("department Finance", "Finance department")
    with pytest.raises(AuditError, match="word"):
        answer_correct("x", "...")


def test_rouge_l_recall_known_values():
    got = rouge_l_recall(["the cat", "the dogs sat on the mat", "nothing"], ["the cat sat", "the dog sat", "cat"])
    assert got.tolist() == pytest.approx([2 / 3, 1.0, 0.0])
    with pytest.raises(AuditError):
        rouge_l_recall(["a"], [])


def test_harmonic_mean_model_utility():
    values = {"retain_accuracy": 0.6, "retain_truth": 0.4, "world_accuracy": 0.9}
    assert harmonic_mean(values) == pytest.approx(stats.hmean(list(values.values())))
    assert harmonic_mean({"a": 0.5, "b": 0.0}) == 0.0
    with pytest.raises(AuditError, match="'b'"):
        harmonic_mean({"a": 0.5, "b": 1.5})
    with pytest.raises(InsufficientDataError):
        harmonic_mean({})


def test_anchor_kl_against_scipy():
    logits_p = RNG.normal(size=(2, 3, 7))
    logits_q = RNG.normal(size=(2, 3, 7))
    p = logits_p - np.log(np.exp(logits_p).sum(-1, keepdims=True))
    q = logits_q - np.log(np.exp(logits_q).sum(-1, keepdims=True))
    mask = np.array([[1, 1, 0], [1, 0, 0]], dtype=float)
    want = np.mean([stats.entropy(np.exp(p[i, t]), np.exp(q[i, t])) for i, t in ((0, 0), (0, 1), (1, 0))])
    assert anchor_kl(p, q, mask) == pytest.approx(want)
    assert anchor_kl(p, p, mask) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(InsufficientDataError):
        anchor_kl(p, q, np.zeros((2, 3)))
