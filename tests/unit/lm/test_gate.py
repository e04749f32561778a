"""The LM audit gate: its shipped policy, its verdict on a model that remembers, on the oracle itself, on
over-forgetting, and on a refusal layer's rates."""

from __future__ import annotations

import dataclasses

import pytest

from expunge.errors import ConfigError
from expunge.lm._gate import LMPolicy, gate, load_lm_policy
from expunge.lm._metrics import AUCFigure


def test_the_shipped_policy_file_is_the_documented_default():
    policy = load_lm_policy()
    assert policy == LMPolicy() and policy.source == "lm_policy.toml"


def test_a_model_that_remembers_fails_and_the_oracle_passes(lm_evaluations):
    target, oracle = lm_evaluations
    failed = gate(target, oracle).failed()
    for name in ("forget_quality_min", "privleak_abs_max", "forget_accuracy_gap_max", "exposure_gap_max"):
        assert name in failed
    assert "relearn_gap_max" in failed  # not measured on either side: never a silent pass
    measured = dataclasses.replace(oracle, probes={"relearn.facts_after": 0.0})
    result = gate(measured, measured)
    assert result.passed, result.failed()
    assert {c.name for c in result.checks} == {
        "forget_quality_min",
        "privleak_abs_max",
        "utility_drop_max",
        "forget_accuracy_gap_max",
        "relearn_gap_max",
        "exposure_gap_max",
    }
    for c in gate(target, oracle).checks:
        if c.value == c.value:
            assert (
                c.passed
                == {"min": c.value >= c.bound, "max": c.value <= c.bound, "abs_max": abs(c.value) <= c.bound}[c.kind]
            )


def test_over_forgetting_fails_like_under_forgetting(lm_evaluations):
    _, oracle = lm_evaluations
    base = dataclasses.replace(oracle, probes={"relearn.facts_after": 0.0})
    auc = base.mia["min_k"].auc
    over = dataclasses.replace(base, mia={**base.mia, "min_k": AUCFigure(auc * 0.5, 0.0, auc, 6, 6)})
    result = gate(over, base)
    assert result.failed() == ["privleak_abs_max"]
    assert [c.value for c in result.checks if c.name == "privleak_abs_max"] == [pytest.approx(-50.0)]
    assert not gate(base, dataclasses.replace(base, model_utility=base.model_utility + 0.05)).passed


def test_refusal_rates_are_checked_when_given(lm_evaluations):
    _, oracle = lm_evaluations
    base = dataclasses.replace(oracle, probes={"relearn.facts_after": 0.0})
    good = {"direct": 1.0, "obfuscated.initials": 1.0, "other_people": 0.004, "world": 0.0}
    assert gate(base, base, refusal=good).passed
    assert gate(base, base, refusal={**good, "obfuscated.initials": 0.98}).failed() == ["refusal_min"]
    assert gate(base, base, refusal={**good, "world": 0.05}).failed() == ["false_refusal_max"]


def test_policy_files_are_validated(tmp_path, lm_evaluations):
    path = tmp_path / "p.toml"
    path.write_text('[criteria]\nprivleak_abs_max = 10\nrelearn_gap_max = "off"\n')
    policy = load_lm_policy(path)
    assert policy.privleak_abs_max == 10.0 and policy.relearn_gap_max is None and policy.source == str(path)
    target, oracle = lm_evaluations
    assert "relearn_gap_max" not in {c.name for c in gate(target, oracle, policy).checks}
    for text, match in (
        ("[criteria]\nforget_quality = 0.1\n", "Unknown LM criterion"),
        ("[criteria]\nprivleak_abs_max = -1\n", "number >= 0"),
        ("[audit]\nx = 1\n", "Unknown table"),
        ("not toml [", "not valid TOML"),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError, match=match):
            load_lm_policy(path)
    with pytest.raises(ConfigError, match="Cannot read"):
        load_lm_policy(tmp_path / "missing.toml")
