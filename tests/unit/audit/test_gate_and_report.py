"""The gate's verdict on crafted and real audits, and the HTML report rendered in headless Chromium."""

from __future__ import annotations

import json

import pytest
import torch

from browser import CHROMIUM, NO_CHROMIUM, render_page
from expunge.audit import Policy, run_audit, write_report
from expunge.errors import AuditError, ModelError
from expunge.models import ModelSpec, build_model
from expunge.unlearn import audit_data, make_method, run_method

POLICY = Policy(attacks=("loss_threshold", "confidence_svm", "lira"), shadows=2, bootstrap=20)


@pytest.fixture(scope="module")
def toy_audit(toy_scenario, toy_original):
    reference, _ = run_method(make_method("retrain"), toy_original, toy_scenario)
    suppressed, _ = run_method(make_method("suppress_logit"), toy_original, toy_scenario)
    data = audit_data(toy_scenario)
    honest = run_audit({"original": toy_original, "unlearned": reference, "reference": reference}, data, policy=POLICY)
    trap = run_audit({"original": toy_original, "unlearned": suppressed, "reference": reference}, data, policy=POLICY)
    return honest, trap


def test_gate_passes_retraining_and_fails_the_output_bias_trick(toy_audit):
    honest, trap = toy_audit
    assert honest.passed, [c for c in honest.criteria if not c.passed]
    assert not trap.passed
    failed = {c.name for c in trap.criteria if not c.passed}
    assert "head_reset_gap_max" in failed  # resetting one bias brings the class back
    for c in trap.criteria:
        assert c.passed == (c.value <= c.threshold)
    doc = trap.to_json()
    assert doc["passed"] is False
    for attack in ("loss_threshold", "confidence_svm", "lira"):
        for key in ("auc", "tpr_at_0.1pct_fpr", "tpr_at_1pct_fpr"):
            assert key in doc["attacks"][attack]["unlearned"]


def test_audit_refuses_models_of_another_architecture(toy_scenario, toy_original):
    other = build_model(ModelSpec("mlp", toy_scenario.spec.input_shape, toy_scenario.spec.num_classes, hidden=(8,)))
    with pytest.raises(ModelError, match="reference model has another architecture"):
        run_audit(
            {"original": toy_original, "unlearned": toy_original, "reference": other},
            audit_data(toy_scenario),
            policy=POLICY,
        )
    with pytest.raises(AuditError, match="compares with a retrained reference"):
        run_audit({"original": toy_original, "unlearned": toy_original}, audit_data(toy_scenario), policy=POLICY)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_html_report_shows_its_images_without_console_errors(toy_audit, tmp_path):
    _, trap = toy_audit
    json_path, html_path = write_report(trap, tmp_path, title="toy audit")
    assert json.loads(json_path.read_text())["passed"] is False
    source = html_path.read_text()
    assert "http://" not in source and "https://" not in source  # self-contained: nothing to fetch
    page = render_page(html_path, tmp_path / "profile")
    assert page.images >= 5 and page.images_loaded == page.images and page.js_errors == 0
    assert not page.console_errors, page.console_errors
    assert "Audit gate: FAIL" in page.dom


def test_set_level_attack_falls_back_when_not_run(toy_scenario, toy_original):
    policy = Policy(attacks=("loss_threshold",), shadows=2, bootstrap=10, set_level_attack="lira")
    result = run_audit(
        {"original": toy_original, "unlearned": toy_original, "reference": toy_original},
        audit_data(toy_scenario),
        policy=policy,
    )
    assert result.meta["set_level_attack"] == "loss_threshold" and "unlearned" in result.set_level
    assert torch.isfinite(torch.tensor(result.set_level["unlearned"].z))
