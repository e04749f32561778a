from __future__ import annotations

import pytest

from expunge.audit import canary_exposure
from expunge.errors import DataError, InvalidForgetSetError
from expunge.unlearn import make_method, prepare_scenario, run_method, train_original


def test_planted_canaries_are_exposed_until_forgotten():
    sc = prepare_scenario("blobs", forget="canaries", seed=0, hidden=(128, 64), canaries=8)
    assert len(sc.forget) == 8 and all(i.startswith("canary:blobs:") for i in sc.forget.ids)
    original, _ = train_original(sc)
    planted = (sc.canaries.planted.x, sc.canaries.planted.y)
    candidates = (sc.canaries.candidates.x, sc.canaries.candidates.y)
    trained = canary_exposure(original, planted, candidates)
    retrained, _ = run_method(make_method("retrain"), original, sc)
    never = canary_exposure(retrained, planted, candidates)
    assert trained > 3.0  # log2(1001) ≈ 9.97 is the maximum; 8 outliers seen 30 times each rank high
    assert never < 3.0  # ≈ 1.44 expected for a model that never saw them
    assert trained - never > 1.0


def test_canary_errors_are_clear():
    with pytest.raises(InvalidForgetSetError, match="needs planted canaries"):
        prepare_scenario("blobs", forget="canaries", seed=0)
    with pytest.raises(DataError, match="n_planted >= 1"):
        from expunge.datasets import make_canaries

        make_canaries("blobs", input_shape=(4,), num_classes=2, n_planted=0)
