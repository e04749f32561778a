from __future__ import annotations

import json

import pytest

from expunge.errors import InvalidParameterError, MethodError, UnknownMethodError
from expunge.unlearn import Figures, RunReport, gap_to_retrain, get_method, make_method, run_method
from expunge.unlearn._report import suppression_suspected
from expunge.unlearn._tune import tune_dose


def test_parameter_errors_use_the_house_sentence():
    with pytest.raises(InvalidParameterError) as err:
        make_method("label_flip", {"lr": -3})
    assert str(err.value) == "The 'lr' parameter of LabelFlip must be a float in (0, inf). Got -3 instead."
    with pytest.raises(InvalidParameterError, match=r"'retain_mix' parameter of LabelFlip must be a float in \[0, 1\]"):
        make_method("label_flip", {"retain_mix": 2.0})
    with pytest.raises(InvalidParameterError, match="'epochs' parameter of LabelFlip must be an int"):
        make_method("label_flip", {"epochs": 1.5})
    with pytest.raises(UnknownMethodError, match="Available: eu_k, finetune"):
        get_method("forget_everything")


def test_suppress_logit_refuses_a_forget_set_that_is_not_a_class():
    from expunge.unlearn import prepare_scenario, train_original

    sc = prepare_scenario("blobs", forget="random:0.05", seed=0, hidden=(16,))
    model, _ = train_original(sc)
    with pytest.raises(MethodError, match="class:K"):
        run_method(make_method("suppress_logit"), model, sc)


def _figures(**overrides) -> Figures:
    base = dict(
        forget_acc=0.0,
        retain_acc=0.99,
        test_acc=0.88,
        unlearning_score=0.98,
        mia_auc=0.54,
        kl_anchor=0.08,
        relearn_acc=0.0,
        head_reset_acc=0.0,
        probe_acc=0.92,
    )
    return Figures(**(base | overrides))


def test_gap_and_suppression_flags():
    ref = _figures()
    assert gap_to_retrain(ref, ref) == 0
    assert gap_to_retrain(_figures(forget_acc=0.04, mia_auc=0.50), ref) == pytest.approx(0.02)
    assert suppression_suspected(_figures(head_reset_acc=0.97), ref)
    assert suppression_suspected(_figures(relearn_acc=0.5), ref)
    assert not suppression_suspected(_figures(relearn_acc=0.04), ref)
    assert suppression_suspected(_figures(relearn_acc=0.9), None)


def test_report_files_carry_every_key(tmp_path):
    report = RunReport(
        method="eu_k",
        params={"k": 1},
        seed=0,
        seconds=0.2,
        figures=_figures(),
        peak_rss_mb=900.0,
        dataset="mnist",
        arch="mlp",
        forget_spec="class:7",
        forget_kind="class",
        n_forget=10,
        n_retain=90,
        gap_to_retrain=0.0,
        reference=_figures(),
        reference_seconds=10.0,
    )
    report.write(tmp_path)
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["speedup"] == pytest.approx(50.0) and doc["suppression_suspected"] is False
    md = (tmp_path / "report.md").read_text()
    assert "| relearn_acc | 0.0000 | 0.0000 |" in md and "50× longer" in md


def test_tuner_searches_on_validation_and_returns_every_trial(toy_scenario, toy_original):
    result = tune_dose("label_flip", toy_original, toy_scenario, trials=4, seed=0, retain_budget=0.05)
    assert len(result.trials) == 4 and result.objective == "unlearning_score"
    assert result.best_value == max(t["value"] for t in result.trials)
    assert result.best_params in [t["params"] for t in result.trials]
    for trial in result.trials:
        assert 1e-5 <= trial["params"]["lr"] <= 1e-2 and 1 <= trial["params"]["epochs"] <= 8
    again = tune_dose("label_flip", toy_original, toy_scenario, trials=4, seed=0, retain_budget=0.05)
    assert [t["params"] for t in again.trials] == [t["params"] for t in result.trials]
    with pytest.raises(InvalidParameterError, match="sampler must be one of"):
        tune_dose("label_flip", toy_original, toy_scenario, trials=1, sampler="grid")


def test_random_forgetting_is_tuned_on_the_estimated_gap_to_retraining():
    from expunge.unlearn import prepare_scenario, train_original

    scenario = prepare_scenario("blobs", arch="mlp", forget="random:0.05", seed=0, hidden=(64, 32))
    original, _ = train_original(scenario)
    result = tune_dose("gradient_ascent", original, scenario, trials=6, seed=0, retain_budget=1.0)
    assert result.objective == "holdout_gap"
    for trial in result.trials:
        assert trial["value"] == pytest.approx(-trial["holdout_gap"])
        assert 0.0 <= trial["mia_auc"] <= 1.0 and 0.0 <= trial["retain_sample_acc"] <= 1.0
    # the estimate moves with the dose: the searched lr spans two orders of magnitude
    assert len({round(t["holdout_gap"], 6) for t in result.trials}) > 1
    assert result.best_value == max(t["value"] for t in result.trials)


def test_bad_forget_data_fails_before_any_weight_changes(toy_scenario, toy_original):
    import copy

    import torch

    from expunge.errors import InvalidForgetSetError, ModelError
    from expunge.unlearn import ForgetData

    sc = toy_scenario
    model = copy.deepcopy(toy_original)
    before = [p.clone() for p in model.parameters()]
    method = make_method("label_flip")
    gen = torch.Generator().manual_seed(0)
    wrong_shape = ForgetData(forget=[(torch.randn(8, 7), torch.zeros(8, dtype=torch.long))], retain=[], num_classes=4)
    with pytest.raises(ModelError, match=r"cannot take the forget inputs of shape \(7,\)"):
        method.forget(model, wrong_shape, generator=gen)
    bad_labels = ForgetData(forget=[(sc.forget.x[:8], torch.full((8,), 9))], retain=[], num_classes=4)
    with pytest.raises(ModelError, match=r"class indices in \[0, 3\]; got values from 9 to 9"):
        method.forget(model, bad_labels, generator=gen)
    with pytest.raises(InvalidForgetSetError, match="forget set is empty"):
        method.forget(model, ForgetData(forget=[], retain=[], num_classes=4), generator=gen)
    with pytest.raises(InvalidForgetSetError, match="both forgotten and retained"):
        ForgetData.from_splits(sc.forget, sc.members, num_classes=4)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
