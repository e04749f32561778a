"""holdout_match: forgotten samples end up scored like unseen ones, not misclassified."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from expunge.errors import MethodError, ModelError
from expunge.models import accuracy
from expunge.unlearn import ForgetData, make_method, prepare_scenario, run_method, train_original


@pytest.fixture(scope="module")
def random_forget():
    sc = prepare_scenario("blobs", arch="mlp", forget="random:0.05", seed=0, hidden=(64, 32))
    model, _ = train_original(sc)
    return sc, model


def test_forget_accuracy_settles_at_held_out_accuracy(random_forget):
    sc, original = random_forget
    val = sc.partition.val
    before_forget, before_val = accuracy(original, *sc.forget.xy), accuracy(original, *val.xy)
    assert before_forget - before_val > 0.08  # the original memorised its forget set

    model, report = run_method(make_method("holdout_match", {"steps": 200, "lr": 1e-3}), original, sc)
    after_forget, after_val = report.figures.forget_acc, accuracy(model, *val.xy)
    assert abs(after_forget - after_val) < 0.03, (after_forget, after_val)
    assert after_forget > 0.8  # treated like unseen data, not pushed to wrong answers
    assert report.figures.retain_acc > accuracy(original, *sc.retain.xy) - 0.01


def test_needs_unseen_samples_to_match_against(random_forget):
    sc, original = random_forget
    model = copy.deepcopy(original)
    data = ForgetData.from_splits(sc.forget, sc.retain, num_classes=sc.dataset.num_classes)
    method, gen = make_method("holdout_match"), torch.Generator().manual_seed(0)
    with pytest.raises(MethodError, match=r"never saw \(ForgetData.holdout"):
        method.forget(model, data, generator=gen)
    with pytest.raises(MethodError, match="no unseen samples"):
        method.forget(model, dataclasses.replace(data, holdout=[]), generator=gen)
    wrong_shape = [(torch.randn(8, 3), torch.zeros(8, dtype=torch.long))]
    with pytest.raises(ModelError, match=r"cannot take the holdout inputs of shape \(3,\)"):
        method.forget(model, dataclasses.replace(data, holdout=wrong_shape), generator=gen)
    assert all(torch.equal(a, b) for a, b in zip(original.parameters(), model.parameters(), strict=True))
