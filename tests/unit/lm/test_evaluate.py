"""The evaluation of a tiny Llama on a hand-made split: a target that learnt the forget people against an oracle
that never saw them, the scoring passes against the shared primitive, the probes, and what is refused."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
import torch

from expunge.errors import InsufficientDataError, LMEvaluationError, UnsupportedPrecisionError
from expunge.lm._evaluate import ATTACKS, LMEvaluation, bench_figures, compare, evaluate_split
from expunge.lm._probes import obfuscate_name, relearn_probe
from expunge.lm._prompt import format_prompt
from expunge.lm._scoring import greedy_generate, teacher_forced
from expunge.lm._tokens import answer_logprobs, encode_pairs

torch.set_num_threads(1)


def test_target_remembers_what_the_oracle_never_saw(lm_evaluations):
    target, oracle = lm_evaluations
    assert target.n_forget_questions == 6 and oracle.oracle is None
    assert target.accuracy["forget"] >= 0.8 and oracle.accuracy["forget"] <= 0.2
    assert target.exact_memorisation["forget"] > oracle.exact_memorisation["forget"] + 0.3
    assert target.extraction_strength["forget"] > oracle.extraction_strength["forget"]
    for attack in ATTACKS:  # the forget people look like training data to every attack, on the target only
        assert target.mia[attack].auc >= 0.9
        assert target.mia[attack].ci_low <= target.mia[attack].auc <= target.mia[attack].ci_high
    assert oracle.mia["loss"].auc < target.mia["loss"].auc
    cmp = target.oracle
    assert cmp is not None
    assert cmp.forget_quality.n == cmp.forget_quality.n_oracle == 6
    assert cmp.forget_quality.p_value < 0.05 and cmp.forget_quality.statistic > 0.8
    assert cmp.privleak > 10  # under-forgetting: positive
    assert cmp.privleak_by_attack["min_k"] == cmp.privleak
    assert target.canary_exposure["p00.city.0"] > 5.0 > 3.0 > oracle.canary_exposure["p00.city.0"]
    assert cmp.exposure_gap == pytest.approx(target.mean_exposure - oracle.mean_exposure)
    # both models keep what they both learnt
    assert target.utility["retain_accuracy"] >= 0.8 and oracle.utility["retain_accuracy"] >= 0.8
    assert 0.3 < oracle.model_utility <= 1.0 and cmp.oracle_model_utility == oracle.model_utility
    assert target.utility["anchor_kl"] > 0 and "anchor_kl" not in oracle.utility
    assert len(target.truth_ratios["forget"]) == 6 and all(r > 0 for r in target.truth_ratios["forget"])


def test_a_model_compared_with_itself_is_at_the_oracle(lm_evaluations):
    _, oracle = lm_evaluations
    cmp = compare(oracle, oracle)
    assert cmp.forget_quality.statistic == 0.0 and cmp.forget_quality.p_value == pytest.approx(1.0)
    assert all(v == 0.0 for v in cmp.privleak_by_attack.values()) and cmp.forget_accuracy_gap == 0.0


def test_evaluation_round_trips_through_json(lm_evaluations):
    target, oracle = lm_evaluations
    for evaluation in (target, oracle):
        doc = json.loads(json.dumps(evaluation.to_dict()))
        assert LMEvaluation.from_dict(doc) == evaluation
    assert json.loads(json.dumps(target.to_dict()))["oracle"]["forget_quality"]["n"] == 6


def test_teacher_forced_scores_agree_with_the_shared_primitive(tiny_tokenizer, lm_pair, lm_split):
    target, _ = lm_pair
    qas = lm_split.forget[:4]
    prompts = [format_prompt(tiny_tokenizer, qa.question) for qa in qas]
    answers = [qa.paraphrased_answer for qa in qas]
    scores = teacher_forced(target, tiny_tokenizer, prompts, answers, batch_size=3)
    with torch.no_grad():
        logprobs, mask = answer_logprobs(target, encode_pairs(tiny_tokenizer, prompts, answers, add_eos=False))
    for i in range(len(qas)):
        want = logprobs[i][mask[i] > 0].double().numpy()
        got = scores.logprobs[i][scores.mask[i] > 0]
        assert got == pytest.approx(want, abs=1e-5)
        assert (scores.sigma[i][scores.mask[i] > 0] >= 0).all()


def test_batched_greedy_generation_matches_one_prompt_at_a_time(tiny_tokenizer, lm_pair, lm_split):
    target, _ = lm_pair
    prompts = [format_prompt(tiny_tokenizer, qa.question) for qa in (*lm_split.forget[:3], *lm_split.world)]
    batched = greedy_generate(target, tiny_tokenizer, prompts, max_new_tokens=8, batch_size=6)
    single = [greedy_generate(target, tiny_tokenizer, [p], max_new_tokens=8, batch_size=1)[0] for p in prompts]
    assert batched == single
    assert any(batched)


def test_half_precision_is_refused(tiny_tokenizer, lm_pair, lm_split):
    target, oracle = lm_pair
    for dtype in (torch.float16, torch.bfloat16):
        with pytest.raises(UnsupportedPrecisionError, match="fp32") as err:
            evaluate_split(copy.deepcopy(target).to(dtype), tiny_tokenizer, lm_split, probes=())
        assert err.value.code == "lm.unsupported_precision"
    with pytest.raises(UnsupportedPrecisionError, match="truth ratios"):
        evaluate_split(target, tiny_tokenizer, lm_split, reference=copy.deepcopy(oracle).half(), probes=())


def test_bad_evaluation_inputs_are_refused(tiny_tokenizer, lm_pair, lm_split, lm_evaluations):
    target, _ = lm_pair
    with pytest.raises(LMEvaluationError, match="Unknown probe"):
        evaluate_split(target, tiny_tokenizer, lm_split, probes=("vibes",))
    with pytest.raises(LMEvaluationError, match="world"):
        evaluate_split(target, tiny_tokenizer, dataclasses.replace(lm_split, world=()), probes=())
    with pytest.raises(LMEvaluationError, match="people="):
        evaluate_split(target, tiny_tokenizer, lm_split, probes=("obfuscation",))
    bad_canary = dataclasses.replace(lm_split, canaries={"p99.city.0": "1234-5678"})
    with pytest.raises(LMEvaluationError, match="Canary sample IDs"):
        evaluate_split(target, tiny_tokenizer, bad_canary, probes=())
    target_eval, oracle_eval = lm_evaluations
    with pytest.raises(LMEvaluationError, match="same split"):
        compare(target_eval, dataclasses.replace(oracle_eval, split="forget10"))


def test_probes_bend_the_question_and_the_model(tiny_tokenizer, lm_pair, lm_split):
    from lmeval_split import people

    target, _ = lm_pair
    before = [p.detach().clone() for p in target.parameters()]
    evaluation = evaluate_split(
        target,
        tiny_tokenizer,
        lm_split,
        people=people(),
        bootstrap=10,
        max_retain=4,
        max_new_tokens=32,
        relearn_steps=2,
        relearn_lr=1e-4,
        probes=("prompt_format", "quantised", "obfuscation", "relearn"),
    )
    assert evaluation.n_questions == {"forget": 6, "retain": 4, "holdout": 6, "world": 3}  # a seeded subset
    probes = evaluation.probes
    for style in ("initials", "misspelt", "reordered", "lowercase"):
        assert 0.0 <= probes[f"obfuscation.{style}.forget_accuracy"] <= 1.0
    # int8 rounding keeps what a model memorised well
    assert probes["quantised.forget_accuracy"] >= evaluation.accuracy["forget"] - 0.34
    assert probes["quantised.forget_exact_memorisation"] > 0.5
    assert 0.0 <= probes["prompt_format.forget_accuracy"] <= 1.0
    assert probes["relearn.n_facts"] == 2 and probes["relearn.facts_before"] == probes["relearn.facts_after"] == 2
    assert all(torch.equal(a, b) for a, b in zip(before, target.parameters(), strict=True))  # copies only


def test_relearning_teaches_the_attack_facts_but_not_the_held_back_ones(tiny_tokenizer, lm_pair, lm_split):
    target, oracle = lm_pair
    on_oracle = relearn_probe(oracle, tiny_tokenizer, lm_split, steps=30, fraction=0.5, lr=1e-2)
    # each forgotten person: 2 of 3 attributes attacked, 1 held back
    assert (on_oracle.n_people, on_oracle.n_facts, on_oracle.n_attack_facts) == (2, 2, 4)
    assert on_oracle.attack_facts_after >= 2  # the attack took ...
    assert on_oracle.facts_after == 0  # ... but independent facts cannot be inferred
    on_target = relearn_probe(target, tiny_tokenizer, lm_split, steps=1, fraction=0.5, lr=1e-5)
    assert on_target.facts_before == on_target.facts_after == 2  # a model that still knows keeps knowing
    assert on_target.figures()["relearn.facts_after"] == 2.0
    single = dataclasses.replace(lm_split, forget=lm_split.forget[:1])
    with pytest.raises(InsufficientDataError, match="two attributes"):
        relearn_probe(oracle, tiny_tokenizer, single, steps=1)
    with pytest.raises(LMEvaluationError, match="fraction"):
        relearn_probe(oracle, tiny_tokenizer, lm_split, fraction=1.0)


def test_obfuscated_names():
    assert obfuscate_name("Ada Brook", "initials") == "A. Brook"
    assert obfuscate_name("Ada Mae Brook", "initials") == "A. M. Brook"
    assert obfuscate_name("Ada Brook", "reordered") == "Brook, Ada"
    assert obfuscate_name("Ada Brook", "lowercase") == "ada brook"
    assert obfuscate_name("Ada Brook", "misspelt") == "Ada Borok"
    assert obfuscate_name("Al Bo", "misspelt") == "All Bo"
    with pytest.raises(LMEvaluationError, match="two words"):
        obfuscate_name("Ada", "initials")
    with pytest.raises(LMEvaluationError, match="Unknown obfuscation"):
        obfuscate_name("Ada Brook", "leet")


def test_probes_run_on_a_lora_model_and_leave_it_alone(tiny_tokenizer, lm_pair, lm_split):
    from peft import LoraConfig, get_peft_model

    from expunge.lm._probes import quantised_probe

    _, oracle = lm_pair
    model = get_peft_model(copy.deepcopy(oracle), LoraConfig(r=2, target_modules=["q_proj", "v_proj", "down_proj"]))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    figures = quantised_probe(model, tiny_tokenizer, lm_split, max_new_tokens=6)  # merged, then int8
    assert figures["quantised.retain_accuracy"] >= 0.5  # the oracle's retained facts survive int8
    result = relearn_probe(model, tiny_tokenizer, lm_split, steps=2, lr=1e-2, max_new_tokens=6)
    assert result.n_facts == 2
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_bench_rows_carry_the_issue_keys(lm_evaluations):
    target, oracle = lm_evaluations
    row = bench_figures(target, oracle)
    assert row["forget_quality"] == target.oracle.forget_quality.p_value and row["n_forget_questions"] == 6
    assert row["ks_stat"] == target.oracle.forget_quality.statistic and row["privleak"] == target.oracle.privleak
    assert row["oracle_model_utility"] == oracle.model_utility and "relearn_facts" not in row
    with_relearn = bench_figures(
        dataclasses.replace(target, probes={"relearn.facts_after": 2.0}),
        dataclasses.replace(oracle, probes={"relearn.facts_after": 0.0}),
    )
    assert (with_relearn["relearn_facts"], with_relearn["oracle_relearn_facts"]) == (2, 0)


def test_public_names_are_exported_and_documented():
    import expunge.lm as lm

    for name in lm.__all__:
        obj = getattr(lm, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name
