"""``expunge audit`` end to end on a small MNIST subset: exit codes 0/1 follow the gate, 2 for bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from expunge.cli import app
from expunge.config import get_settings

runner = CliRunner()


@pytest.fixture(scope="module")
def unlearned(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("EXPUNGE_HOME", str(home))
    get_settings.cache_clear()
    out = tmp_path_factory.mktemp("runs") / "sup"
    result = runner.invoke(
        app,
        [
            "unlearn",
            "--dataset",
            "mnist",
            "--forget",
            "class:3",
            "--method",
            "suppress_logit",
            "--max-train",
            "1500",
            "--reference",
            "none",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    policy = out.parent / "policy.toml"
    policy.write_text('[audit]\nshadows = 2\nattacks = ["loss_threshold", "lira"]\nbootstrap = 20\n')
    yield out, policy
    mp.undo()
    get_settings.cache_clear()


def test_audit_fails_the_output_bias_trick_with_exit_1(unlearned):
    out, policy = unlearned
    result = runner.invoke(
        app,
        [
            "audit",
            "--model",
            str(out),
            "--forget",
            str(out / "forget_ids.txt"),
            "--reference",
            "retrain",
            "--policy",
            str(policy),
        ],
    )
    assert result.exit_code == 1, result.output
    doc = json.loads((out / "audit.json").read_text())
    assert doc["passed"] is False
    assert {c["name"] for c in doc["criteria"] if not c["passed"]} >= {"head_reset_gap_max"}
    for attack in ("loss_threshold", "lira"):
        assert {"auc", "tpr_at_0.1pct_fpr", "tpr_at_1pct_fpr"} <= set(doc["attacks"][attack]["unlearned"])
    assert (out / "audit.html").is_file()


def test_audit_bad_input_exits_2(unlearned, tmp_path):
    out, policy = unlearned
    ids = tmp_path / "ids.txt"
    ids.write_text("mnist:train:99999\n")
    result = runner.invoke(app, ["audit", "--model", str(out), "--forget", str(ids), "--policy", str(policy)])
    assert result.exit_code == 2 and "not training samples" in " ".join(result.output.split())
    bad = tmp_path / "bad.toml"
    bad.write_text("[criteria]\nvibes_max = 1\n")
    result = runner.invoke(
        app, ["audit", "--model", str(out), "--forget", str(out / "forget_ids.txt"), "--policy", str(bad)]
    )
    assert result.exit_code == 2 and "Unknown criterion 'vibes_max'" in " ".join(result.output.split())
    strict = tmp_path / "strict.toml"
    strict.write_text(policy.read_text() + "required_fprs = [0.001]\n")
    result = runner.invoke(
        app, ["audit", "--model", str(out), "--forget", str(out / "forget_ids.txt"), "--policy", str(strict)]
    )
    assert result.exit_code == 2 and "TPR at 0.1% FPR needs at least 1000 non-members; got" in " ".join(
        result.output.split()
    )
    result = runner.invoke(
        app,
        [
            "audit",
            "--model",
            str(out),
            "--forget",
            str(out / "forget_ids.txt"),
            "--reference",
            str(tmp_path / "nowhere"),
            "--policy",
            str(policy),
        ],
    )
    assert result.exit_code == 2 and "--reference must be 'retrain' or a model folder" in " ".join(
        result.output.split()
    )


def test_bench_audit_small_mode(unlearned, tmp_path):
    out = tmp_path / "bench-audit"
    result = runner.invoke(
        app,
        [
            "bench",
            "audit",
            "--dataset",
            "mnist",
            "--shadows",
            "2",
            "--draws",
            "1",
            "--forget-size",
            "40",
            "--methods",
            "suppress_logit",
            "--class-scenario",
            "class:3",
            "--max-train",
            "1500",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text())
    assert [r["attack"] for r in doc["attack_strength"]][-1] == "lira"
    assert {r["model"] for r in doc["set_level"]} == {"original", "retrained"}
    verdicts = {(r["scenario"], r["method"]): r["passed"] for r in doc["gate"]}
    assert verdicts[("class:3", "suppress_logit")] == "fail"
    assert ("random:0.026667", "suppress_logit") not in verdicts  # undefined outside class forgetting
    assert doc["shadow_train_seconds"] >= 0 and "## The default gate" in (out / "results.md").read_text()
