"""Every registered unlearning method must pass this suite on a seeded toy problem."""

from __future__ import annotations

import dataclasses
import math

import pytest

from expunge.errors import InvalidParameterError
from expunge.models import accuracy
from expunge.unlearn import available_methods, get_method, make_method, run_method

# Doses for the toy problem where a method's defaults (chosen for MNIST) are too weak for 3,000 samples.
TOY_DOSE = {
    "finetune": {"epochs": 20.0, "lr": 0.1},
    "label_flip": {"lr": 1e-3},
    "l1_sparse": {"epochs": 20.0, "lr": 0.1},
    "fisher": {"alpha": 1e-4, "max_var": 3e-2},
    "scrub": {"epochs": 4, "max_epochs": 3, "lr": 0.05, "min_steps": 20},
    "gradient_ascent": {"epochs": 3, "lr": 0.01},
    "ssd": {"alpha": 30.0, "dampening": 0.3},
    "neggrad_plus": {"lr": 0.02, "alpha": 0.7, "epochs": 3},
    "holdout_match": {"steps": 60, "lr": 3e-4},
}
METHODS = available_methods()


def test_registry_lists_the_methods_the_design_names():
    expected = {
        "retrain",
        "finetune",
        "label_flip",
        "gradient_ascent",
        "neggrad_plus",
        "fisher",
        "scrub",
        "ssd",
        "salun",
        "l1_sparse",
        "suppress_logit",
        "eu_k",
    }
    assert expected <= set(METHODS)


@pytest.mark.parametrize("name", METHODS)
def test_method_declares_paper_docs_and_validated_params(name):
    cls = get_method(name)
    assert cls.name == name
    assert cls.paper, f"{name} names no paper"
    assert cls.__doc__ and len(cls.__doc__) > 40
    for field in dataclasses.fields(cls.Params):
        assert field.metadata.get("help"), f"{name}.{field.name} is undocumented"
    params = cls.Params()
    assert cls.Params.from_mapping(params.to_json()) == params
    with pytest.raises(InvalidParameterError, match="has no parameter 'no_such_param'"):
        cls.Params.from_mapping({"no_such_param": 1})


@pytest.mark.parametrize("name", METHODS)
def test_method_forgets_the_class_and_keeps_the_rest(name, toy_scenario, toy_original):
    sc = toy_scenario
    before_forget = accuracy(toy_original, sc.forget.x, sc.forget.y)
    before_retain = accuracy(toy_original, sc.retain.x, sc.retain.y)
    assert before_forget > 0.8 and before_retain > 0.8  # the toy model learnt the class in the first place
    model, report = run_method(make_method(name, TOY_DOSE.get(name)), toy_original, sc)
    f = report.figures
    assert f.forget_acc < before_forget - 0.3, f"{name} did not forget: {f.forget_acc:.3f} vs {before_forget:.3f}"
    assert f.retain_acc > before_retain - 0.15, f"{name} broke retained accuracy: {f.retain_acc:.3f}"
    doc = report.to_json()
    for key in (
        "method",
        "params",
        "seed",
        "seconds",
        "forget_acc",
        "retain_acc",
        "test_acc",
        "unlearning_score",
        "gap_to_retrain",
        "mia_auc",
        "relearn_acc",
        "head_reset_acc",
        "probe_acc",
        "kl_anchor",
        "peak_rss_mb",
        "suppression_suspected",
    ):
        assert key in doc, key
    for key in ("forget_acc", "retain_acc", "test_acc", "mia_auc", "relearn_acc", "probe_acc", "kl_anchor"):
        assert isinstance(doc[key], float) and math.isfinite(doc[key]), (key, doc[key])
    assert doc["seconds"] >= 0 and doc["peak_rss_mb"] > 0
    # The original is never modified by a run.
    assert accuracy(toy_original, sc.forget.x, sc.forget.y) == before_forget


def test_retrain_is_exactly_a_model_trained_without_the_forget_set(toy_scenario, toy_original):
    import torch

    from expunge.models import seed_everything, train_model
    from expunge.unlearn import forget_data

    sc = toy_scenario
    model = get_method("retrain")().unlearn(toy_original, forget_data(sc), generator=torch.Generator())
    manual = sc.model_factory()
    seed_everything(sc.seed)
    train_model(
        manual,
        sc.retain.batches(sc.train_config.batch_size, shuffle=True, generator=sc.generator(2)),
        sc.train_config,
        progress=False,
    )
    for a, b in zip(model.state_dict().values(), manual.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert accuracy(model, sc.forget.x, sc.forget.y) < 0.05


def test_cached_reference_is_the_retrain_method(toy_scenario, toy_original, tmp_path):
    import torch

    from expunge.unlearn import train_reference

    retrained, _ = run_method(make_method("retrain"), toy_original, toy_scenario)
    first, _ = train_reference(toy_scenario, cache_dir=tmp_path)
    again, _ = train_reference(toy_scenario, cache_dir=tmp_path)  # from the cache
    for a, b, c in zip(
        retrained.state_dict().values(), first.state_dict().values(), again.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b) and torch.equal(b, c)
