"""Every registered LM forgetting method on a tiny fine-tuned Llama: checks, forgetting, exactness."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from expunge.errors import InvalidParameterError, LMForgetError, SamplesNotLearntError, UnknownMethodError
from expunge.lm._adapters import TrainingRecipe, adapter_sha256, adapter_state, restore_adapter_state
from expunge.lm._data import QA
from expunge.lm._finetune import finetune_adapter
from expunge.lm._forget import LMForgetData, available_lm_methods, get_lm_method, make_lm_method
from expunge.lm._people import make_people_benchmark
from expunge.lm._sisa import SisaEnsemble, train_sisa
from expunge.lm.methods._loop import knowledge_level

torch.set_num_threads(1)  # the lm tests are timed at one thread (2 shared cores)

RECIPE = TrainingRecipe(rank=8, alpha=16.0, epochs=8, lr=1e-2, batch_size=8, seed=0)
METHODS = available_lm_methods()
APPROXIMATE = [m for m in METHODS if not get_lm_method(m).exact]
# A dose that moves the tiny model within a few steps; the stopping rule is off so the test sees the full dose.
TINY_DOSE = {"lr": 1e-2, "epochs": 5, "batch_size": 4, "stop": False}
# Gentler doses where the shared one overshoots on a 2-layer model: unbounded ascent on the canaries' random
# characters lowers every letter's probability, and RMU steers hidden states every token shares.
METHOD_DOSE = {"grad_ascent": {"lr": 1e-3}, "rmu": {"lr": 2e-3, "steering": 2.0}}


def _base(build, tokenizer):
    """The tiny random Llama with embeddings scaled ×10: with the default 0.02 init its tied output layer caps every
    logit near ±1.3, so no LoRA adapter can make an answer likely and there is nothing to forget."""
    model = build.model(tokenizer)
    with torch.no_grad():
        model.model.embed_tokens.weight.mul_(10.0)
    return model


@pytest.fixture(scope="module")
def world(build):
    torch.set_num_threads(1)
    tokenizer = build.tokenizer()
    split = make_people_benchmark(
        20, seed=0, questions_per_attribute=1, attributes=2, holdout=2, reference=2, validation=2, world=4
    ).split("forget10")
    target = finetune_adapter(_base(build, tokenizer), tokenizer, split.train, RECIPE, adapter_id="t")
    oracle = finetune_adapter(_base(build, tokenizer), tokenizer, split.oracle_train, RECIPE, adapter_id="o")
    return tokenizer, split, target, oracle, adapter_state(target.model)


@pytest.fixture()
def target(world):
    tokenizer, split, trained, _, state = world
    restore_adapter_state(trained.model, state)
    return trained


def _data(world, target, **kw) -> LMForgetData:
    tokenizer, split = world[0], world[1]
    return LMForgetData.from_split(split, tokenizer, manifest=target.manifest, **kw)


def _logprob(model, tokenizer, qas) -> float:
    return knowledge_level(model, tokenizer, qas, statistic="logprob")


def test_registry_lists_the_issue_methods():
    issue = {"adapter_retrain", "adapter_drop", "sisa", "grad_ascent", "grad_diff", "npo", "simnpo", "idk"}
    assert issue <= set(METHODS)
    with pytest.raises(UnknownMethodError, match="Unknown LM forgetting method 'nope'. Available: adapter_drop"):
        get_lm_method("nope")


@pytest.mark.parametrize("name", METHODS)
def test_method_declares_paper_docs_and_validated_params(name):
    cls = get_lm_method(name)
    assert cls.name == name and cls.paper and cls.__doc__ and len(cls.__doc__) > 40
    for f in dataclasses.fields(cls.Params):
        assert f.metadata.get("help"), f"{name}.{f.name} is undocumented"
    assert cls.Params.from_mapping(cls.Params().to_json()) == cls.Params()
    with pytest.raises(InvalidParameterError, match="has no parameter 'nope'"):
        cls.Params.from_mapping({"nope": 1})


@pytest.mark.parametrize("name", APPROXIMATE)
def test_dose_outside_its_range_is_refused_before_any_weight_changes(name):
    with pytest.raises(InvalidParameterError, match=r"The 'lr' parameter of \w+ must be a float in \(0, 0.1\]"):
        make_lm_method(name, {"lr": 5.0})


@pytest.mark.parametrize("name", APPROXIMATE)
def test_approximate_method_lowers_forget_logprob_and_keeps_retain(name, world, target):
    tokenizer = world[0]
    data = _data(world, target)
    before_f = _logprob(target.model, tokenizer, data.forget)
    before_r = _logprob(target.model, tokenizer, data.retain[:40])
    result = make_lm_method(name, {**TINY_DOSE, **METHOD_DOSE.get(name, {})}).forget(target.model, data, seed=0)
    after_f = _logprob(result.model, tokenizer, data.forget)
    after_r = _logprob(result.model, tokenizer, data.retain[:40])
    forget_drop, retain_drop = before_f - after_f, before_r - after_r
    assert forget_drop > 0.1, f"{name} did not lower the forget log-prob: {before_f:.3f} -> {after_f:.3f}"
    assert retain_drop < forget_drop and retain_drop < 2.5, f"{name} broke the retained samples: {retain_drop:.3f}"
    assert result.steps > 0 and result.manifest.version == 2
    assert not set(result.manifest.sample_ids) & data.forget_ids
    assert result.manifest.weights_sha256 == adapter_sha256(result.model)


def test_stopping_rule_ends_at_the_reference_level(world, target):
    data = _data(world, target)
    result = make_lm_method(
        "grad_ascent",
        {
            "lr": 5e-3,
            "epochs": 20,
            "batch_size": 4,
            "check_every": 1,
            "stop_statistic": "logprob",
            "anchor_weight": 0.0,
        },
    ).forget(target.model, data)
    goal = result.trace[0]["reference"]
    assert result.stopped_early and result.steps < 20 * 3
    crossing = next(i for i, t in enumerate(result.trace) if t["forget"] <= goal)  # aimed at the level before
    assert all(t["target"] == goal for t in result.trace[1:])
    kept = result.trace[-1]
    if kept.get("restored"):  # the check before the crossing was closer to the target: its state was put back
        assert abs(kept["forget"] - goal) < abs(result.trace[crossing]["forget"] - goal)
        assert kept["step"] == result.trace[crossing - 1]["step"] == result.steps
    else:
        assert crossing == len(result.trace) - 1 and kept["step"] == result.steps


def test_adapter_retrain_equals_the_oracle(world, target):
    tokenizer, split, _, oracle, _ = world
    result = make_lm_method("adapter_retrain").forget(target.model, _data(world, target))
    assert result.manifest.weights_sha256 == oracle.manifest.weights_sha256
    assert set(result.manifest.sample_ids) == set(oracle.manifest.sample_ids)
    assert result.manifest.parent == "t@1"


def test_adapter_drop_refuses_collateral_then_returns_the_base(world, target, build):
    tokenizer = world[0]
    data = _data(world, target)
    with pytest.raises(LMForgetError, match="also learnt .* sample\\(s\\) that are not being forgotten"):
        make_lm_method("adapter_drop").forget(target.model, data)
    result = make_lm_method("adapter_drop", {"allow_collateral": True}).forget(target.model, data)
    base = _base(build, tokenizer)
    batch_q = data.forget[:3]
    assert _logprob(result.model, tokenizer, batch_q) == pytest.approx(_logprob(base, tokenizer, batch_q), abs=1e-5)
    assert result.manifest.sample_ids == ()


def test_forget_set_naming_unlearnt_samples_is_refused_in_one_sentence(world, target):
    data = _data(world, target)
    stranger = dataclasses.replace(data.forget[0], sample_id="p9999.city.0")
    bad = dataclasses.replace(data, forget=(*data.forget, stranger))
    before = adapter_sha256(target.model)
    with pytest.raises(
        SamplesNotLearntError,
        match=r"1 of the \d+ samples to forget were never learnt by adapter 't' \('p9999.city.0'\)",
    ):
        make_lm_method("npo").forget(target.model, bad)
    assert adapter_sha256(target.model) == before


def test_missing_reference_people_are_refused_when_the_stopping_rule_is_on(world, target):
    data = dataclasses.replace(_data(world, target), reference=())
    with pytest.raises(LMForgetError, match="stopping rule needs reference people"):
        make_lm_method("npo").forget(target.model, data)


def test_sisa_retrains_only_the_shards_that_held_the_person(build):
    tokenizer = build.tokenizer()
    split = make_people_benchmark(20, seed=1, questions_per_attribute=1, attributes=1, world=2).split("forget01")
    recipe = dataclasses.replace(RECIPE, epochs=2)
    trained = train_sisa(_base(build, tokenizer), tokenizer, split.train, recipe, shards=4)
    ensemble = trained.ensemble
    before = [m.weights_sha256 for m in ensemble.manifests]
    data = LMForgetData.from_split(split, tokenizer)
    result = make_lm_method("sisa").forget(ensemble, data)
    hit = result.details["shards_retrained"]
    assert len(hit) == 1 and result.details["work_fraction"] < 0.5
    after = [m.weights_sha256 for m in ensemble.manifests]
    assert [i for i in range(4) if before[i] != after[i]] == hit
    assert not data.forget_ids & set(ensemble.sample_ids)
    # the ensemble answers with the mean of the shards' probabilities: a distribution over the vocabulary
    batch = torch.tensor([[1, 5, 9, 12]])
    with torch.no_grad():
        probs = ensemble(input_ids=batch, attention_mask=torch.ones_like(batch)).logits.exp().sum(-1)
    assert torch.allclose(probs, torch.ones_like(probs), atol=1e-4)


def test_sisa_is_refused_on_a_single_adapter(world, target):
    with pytest.raises(LMForgetError, match="sisa forgets from a SISA ensemble"):
        make_lm_method("sisa").forget(target.model, _data(world, target))
    assert not isinstance(target.model, SisaEnsemble)


def test_qa_fixture_is_the_contract_type(world):
    assert all(isinstance(qa, QA) for qa in world[1].forget)


def test_dose_tuning_uses_the_validation_people_and_restores_the_adapter(world, target):
    from expunge.lm import tune_lm_dose

    validation = _data(world, target, validation=True)
    assert not {q.person_id for q in validation.forget} & set(world[1].forget_people)
    before = adapter_sha256(target.model)
    result = tune_lm_dose("npo", target.model, validation, trials=2, fixed={"epochs": 1, "batch_size": 4}, seed=0)
    assert adapter_sha256(target.model) == before
    assert len(result.trials) == 2 and result.best_value == max(t["value"] for t in result.trials)
    assert 1e-5 <= result.best_params["lr"] <= 1e-3 and result.best_params["epochs"] == 1
    with pytest.raises(InvalidParameterError, match="adapter_retrain is exact: it has no dose to tune"):
        tune_lm_dose("adapter_retrain", target.model, validation)
